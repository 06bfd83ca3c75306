// Building blocks of the quantized matrix products (CPU): activations
// quantized to 8-bit blocks once per product, and integer dot products of
// weight rows in their stored block format against such activation rows.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace gs::kernels::cpu {

constexpr int kQBlock = 32;

// 32 activations of a row whose largest magnitude is amax, as
// q[i] * k[g] * scale for the group g = i / 4 of element i. scale is the same
// for the whole row (amax / (127 * kGroupSteps)); each group of four gets an
// integer multiplier k in [1, kGroupSteps], the smallest whose step
// k * scale still holds the group's largest value in 127 steps. So an outlier
// coarsens the rounding of its three neighbours only, and the step of every
// group is within scale of amax_group / 127. The integer dot products sum
// four adjacent products per lane and then multiply the lanes by k in the
// same instruction that widens them to int32, so the group scales cost no
// float multiply. k is stored twice per group (the int16 pairs of that
// instruction). s = sum of q[i] * k[i / 4] feeds the offset term of Q4_0
// (-8 d) and Q4_1 (m).
constexpr int kGroupSteps = 32767;

struct alignas(32) Q8Act {
  int8_t q[kQBlock];
  int16_t k[kQBlock / 2];
  float s;
  float s_next;  // the next block's s (0 for a row's last block): read with s
  float scale;
};

// x [k] (k a multiple of 32) → k / 32 blocks as described above, q rounded
// to nearest.
void QuantizeRowQ8(const float* x, int64_t k, Q8Act* out);

// Rows [r0, r1) of y [n, n_out] = x · Wᵀ: w is the whole weight matrix in its
// block format (row_bytes per row), x holds n activation rows of nb blocks.
// A token's outputs are bitwise the same whatever n is (batching does not
// change results).
using QuantRowsFn = void (*)(const uint8_t* w, int64_t row_bytes, const Q8Act* x, int64_t nb,
                             int64_t n, int64_t n_out, float* y, int64_t r0, int64_t r1);

// The fastest kernel for Q8_0/Q4_0/Q4_1 weights this CPU runs; `allow_wide`
// false forces the AVX2 baseline (for tests that compare the two).
QuantRowsFn PickQuantRows(DType t, bool allow_wide = true);

// True when AVX-512 VNNI (with VL) is available at run time.
bool CpuHasAvx512Vnni();

}  // namespace gs::kernels::cpu
