// Building blocks of the quantized matrix products (CPU): activations
// quantized to 8-bit blocks once per product, and integer dot products of one
// weight row in its stored block format against up to kMaxTokens such rows.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace gs::kernels::cpu {

constexpr int kQBlock = 32;
constexpr int kMaxTokens = 4;

// 32 activations as q[i] * d; s = d * sum(q) feeds the offset terms of
// Q4_0 (-8) and Q4_1 (the block minimum).
struct Q8Act {
  float d;
  float s;
  int8_t q[kQBlock];
};

// x [k] (k a multiple of 32) → k / 32 blocks, rounding to nearest.
void QuantizeRowQ8(const float* x, int64_t k, Q8Act* out);

// out[t] = dot(weight row w, activation row x + t * nb) for t < n_tok
// (n_tok <= kMaxTokens); nb = blocks per row.
using QuantDotFn = void (*)(const uint8_t* w, const Q8Act* x, int64_t nb, int n_tok, float* out);

// The fastest kernel for Q8_0/Q4_0/Q4_1 weights this CPU runs; `allow_wide`
// false forces the AVX2 baseline (for tests that compare the two).
QuantDotFn PickQuantDot(DType t, bool allow_wide = true);

// True when AVX-512 VNNI (with VL) is available at run time.
bool CpuHasAvx512Vnni();

}  // namespace gs::kernels::cpu
