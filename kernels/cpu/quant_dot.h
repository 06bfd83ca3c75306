// Building blocks of the quantized matrix products (CPU): activations
// quantized to 8-bit blocks once per product, weight rows repacked once at
// load into a layout the integer dot products read in whole vectors, and the
// products themselves.
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_features.h"
#include "kernels/dtype.h"

namespace gs::kernels::cpu {

constexpr int kQBlock = 32;

// Blocks are handled two at a time: a "pair" is 64 consecutive elements of a
// row. A row of nb blocks has PairsOf(nb) pairs; an odd last block is paired
// with a block of zeros.
inline int64_t PairsOf(int64_t n_blocks) { return (n_blocks + 1) / 2; }

// ---- Weights ----
// A packed row keeps its GGUF blocks' bytes, regrouped so that one 32-byte
// load covers elements 0..15 of two blocks (b0, b1) and another (or the high
// nibbles of the same one) elements 16..31. Q8_0 is laid out per pair:
//   Q8_0 (68 bytes): fp16 d0, d1 | b0[0..15] b1[0..15] | b0[16..31] b1[16..31]
// Q4_0/Q4_1 rows are laid out in groups of four pairs (the last group of a
// row holds the n = 1..4 pairs left), headers first, so that the scales of
// four pairs convert in one instruction:
//   Q4_0 (36 n bytes): fp16 d[2n] | n × (qs0[16] qs1[16])
//   Q4_1 (40 n bytes): fp16 d[2n] | fp16 m[2n] | n × (qs0[16] qs1[16])
// with d (and m) ordered b0 of the group's pairs 0..n-1, then b1 of the same
// pairs. (qs byte j holds element j in its low nibble and j + 16 in its high
// one, as in GGUF.) In a whole group (n = 4) the nibbles are transposed in
// words of four bytes: 32-byte vector v holds bytes 4v..4v+3 of each of the
// group's eight blocks, in header order, so the integer sums of the four
// vectors add lane by lane to one sum per block (no folding across lanes).
// The Q4 kernels transpose the activations' pairs of such a group the same
// way (TransposeQ4Groups). Same size as the GGUF row, plus one zero block
// for odd nb.
constexpr int kGroupPairs = 4;
int64_t PairedRowBytes(DType t, int64_t cols);
// `rows` GGUF-layout rows of `cols` elements → packed rows.
void PackPairedRows(DType t, const uint8_t* gguf, int64_t rows, int64_t cols, uint8_t* out);
// Block b (< cols / 32) of a packed row → its GGUF bytes.
void UnpackBlock(DType t, const uint8_t* row, int64_t cols, int64_t b, uint8_t* out);
// One packed row back to fp32 (exactly DequantizeRow of the GGUF row).
void DequantizePairedRow(DType t, const uint8_t* row, int64_t cols, float* out);

// ---- Activations ----
// An activation row whose largest magnitude is amax is rounded to
// q[i] * k[g] * scale for the group g of four elements holding element i.
// A block's eight groups are elements {4j, 4j+1, 4j+16, 4j+17} and
// {4j+2, 4j+3, 4j+18, 4j+19}, j = 0..3: two neighbours and the two 16 places
// on, the four products one int16 lane of the Q4 kernels adds (lo and hi
// meet the activations separately and their int16 lanes are added before
// widening, one widening multiply where two were needed). scale is the same
// for the whole row (amax / (127 * kGroupSteps)); each group gets an integer
// multiplier k in [1, kGroupSteps], the smallest whose step k * scale still
// holds the group's largest value in 127 steps. So an outlier coarsens the
// rounding of its three group mates only, and every group's step is within
// `scale` of amax_group / 127. The integer dot products multiply the int16
// lanes by k in the same instruction that widens them to int32, so the group
// scales cost no float multiply. kGroupSteps keeps the sum of two such lanes
// below 2^31 (Q8_0, whose lanes cannot be added in int16, widens lo and hi
// apart and adds the int32 lanes).
constexpr int kGroupSteps = 16383;

// One pair of activation blocks, laid out like the weight pairs: lo holds
// elements 0..15 of each block, hi elements 16..31. k[8h + l] (h the block):
// the multiplier of int16 lane l's group (elements 2l, 2l+1 of lo, and of
// hi: lo and hi share it). group_sums, in the first pair of each group of
// four pairs (kGroupPairs) only: s = sum of q[i] * k[g] over each block of
// the group, in the order of the Q4 headers (b0 of pairs 0..3, then b1; 0
// past the row's end). They meet Q4_1's m and Q4_0's -8 d.
struct alignas(32) Q8ActPair {
  int8_t lo[kQBlock];
  int8_t hi[kQBlock];
  int16_t k[16];
  int32_t group_sums[8];
  float scale;
};

// x [k] (k a multiple of 32) → PairsOf(k / 32) pairs, q rounded to nearest.
void QuantizeRowQ8(const float* x, int64_t k, Q8ActPair* out);

// The Q4 kernels read each whole group of four activation pairs transposed
// like the group's nibbles (see PackPairedRows): lo, hi and k of pair p's
// 4-byte word (h, v) move to word (h, p) of pair v, in each 128-bit half.
// One token's np pairs x → out (a shorter last group, the group sums and the
// scale as they are). Q8_0 reads the pairs as QuantizeRowQ8 writes them.
void TransposeQ4Groups(const Q8ActPair* x, int64_t np, Q8ActPair* out);
inline bool ReadsTransposedGroups(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1; }

// Element i (< k) of a quantized row, as the kernels see it.
float QuantizedActivation(const Q8ActPair* row, int64_t i);

// ---- Products ----
// Rows [r0, r1) of y [n, n_out] = x · Wᵀ: w is the whole weight matrix in the
// paired layout (row_bytes per row), x holds n activation rows of np pairs
// (through TransposeQ4Groups for Q4_0 and Q4_1).
// A token's outputs are bitwise the same whatever n is (batching does not
// change results).
using QuantRowsFn = void (*)(const uint8_t* w, int64_t row_bytes, const Q8ActPair* x, int64_t np,
                             int64_t n, int64_t n_out, float* y, int64_t r0, int64_t r1);

// The fastest kernel for Q8_0/Q4_0/Q4_1 weights this CPU runs; `allow_wide`
// false forces the AVX2 baseline (for tests that compare the two).
QuantRowsFn PickQuantRows(DType t, bool allow_wide = true);

}  // namespace gs::kernels::cpu
