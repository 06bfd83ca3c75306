// Building blocks of the quantized matrix products (CPU): activations
// quantized to 8-bit blocks once per product, weight rows repacked once at
// load into a layout the integer dot products read in whole vectors, and the
// products themselves.
#pragma once

#include <cstdint>

#include "kernels/dtype.h"

namespace gs::kernels::cpu {

constexpr int kQBlock = 32;

// Blocks are handled two at a time: a "pair" is 64 consecutive elements of a
// row. A row of nb blocks has PairsOf(nb) pairs; an odd last block is paired
// with a block of zeros.
inline int64_t PairsOf(int64_t n_blocks) { return (n_blocks + 1) / 2; }

// ---- Weights ----
// A Q8_0/Q4_0/Q4_1 row keeps its GGUF blocks' bytes, regrouped per pair of
// blocks (b0, b1) so that one 32-byte load covers elements 0..15 of both
// blocks and another (or the high nibbles of the same one) elements 16..31:
//   Q8_0 (68 bytes): fp16 d0, d1 | b0[0..15] b1[0..15] | b0[16..31] b1[16..31]
//   Q4_0 (36 bytes): fp16 d0, d1 | qs0[16] qs1[16]
//   Q4_1 (40 bytes): fp16 d0, d1, m0, m1 | qs0[16] qs1[16]
// (qs byte j holds element j in its low nibble and j + 16 in its high one, as
// in GGUF). Same size as the GGUF row, plus one zero block for odd nb.
int64_t PairedRowBytes(DType t, int64_t cols);
// `rows` GGUF-layout rows of `cols` elements → paired rows.
void PackPairedRows(DType t, const uint8_t* gguf, int64_t rows, int64_t cols, uint8_t* out);
// One pair record → the two GGUF blocks it holds.
void UnpackPair(DType t, const uint8_t* pair, uint8_t* b0, uint8_t* b1);
// One paired row back to fp32 (exactly DequantizeRow of the GGUF row).
void DequantizePairedRow(DType t, const uint8_t* row, int64_t cols, float* out);

// ---- Activations ----
// An activation row whose largest magnitude is amax is rounded to
// q[i] * k[g] * scale for the group g of four elements holding element i.
// scale is the same for the whole row (amax / (127 * kGroupSteps)); each group
// gets an integer multiplier k in [1, kGroupSteps], the smallest whose step
// k * scale still holds the group's largest value in 127 steps. So an outlier
// coarsens the rounding of its three neighbours only, and every group's step
// is within `scale` of amax_group / 127. The integer dot products sum four
// adjacent products per lane and multiply the lanes by k in the same
// instruction that widens them to int32, so the group scales cost no float
// multiply. kGroupSteps keeps the sum of two such lanes below 2^31.
constexpr int kGroupSteps = 16383;

// One pair of activation blocks, laid out like the weight pairs: lo holds
// elements 0..15 of each block, hi elements 16..31. k_lo/k_hi: the multipliers
// of their eight groups, each twice (the int16 pairs of the widening
// instruction). off_q4_1 = {0, 0, s0, s1} and off_q4_0 = {-8 s0, -8 s1, 0, 0}
// with s = sum of q[i] * k[g] over a block: they meet the Q4 headers
// {d0, d1, m0, m1} for the offset terms (Q4_1's m, Q4_0's -8 d).
struct alignas(32) Q8ActPair {
  int8_t lo[kQBlock];
  int8_t hi[kQBlock];
  int16_t k_lo[16];
  int16_t k_hi[16];
  float off_q4_1[4];
  float off_q4_0[4];
  float scale;
};

// x [k] (k a multiple of 32) → PairsOf(k / 32) pairs, q rounded to nearest.
void QuantizeRowQ8(const float* x, int64_t k, Q8ActPair* out);

// Element i (< k) of a quantized row, as the kernels see it.
float QuantizedActivation(const Q8ActPair* row, int64_t i);

// ---- Products ----
// Rows [r0, r1) of y [n, n_out] = x · Wᵀ: w is the whole weight matrix in the
// paired layout (row_bytes per row), x holds n activation rows of np pairs.
// A token's outputs are bitwise the same whatever n is (batching does not
// change results).
using QuantRowsFn = void (*)(const uint8_t* w, int64_t row_bytes, const Q8ActPair* x, int64_t np,
                             int64_t n, int64_t n_out, float* y, int64_t r0, int64_t r1);

// The fastest kernel for Q8_0/Q4_0/Q4_1 weights this CPU runs; `allow_wide`
// false forces the AVX2 baseline (for tests that compare the two).
QuantRowsFn PickQuantRows(DType t, bool allow_wide = true);

// True when AVX-512 VNNI (with VL) is available at run time.
bool CpuHasAvx512Vnni();

}  // namespace gs::kernels::cpu
