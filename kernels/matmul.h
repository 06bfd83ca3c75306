// y = x · Wᵀ for a batch of token rows: the projection behind every linear
// layer. x [n_tokens, w.cols], y [n_tokens, w.rows] (overwritten).
//
// Weights are multiplied in their resident dtype: fp32 and bf16/f16 (widened
// on the fly) always against fp32 activations; Q8_0/Q4_0/Q4_1 blocks as
// `act` says (see Activations). Output rows are split over `pool` (null: the
// calling thread alone). Scratch is per calling thread and only grows, so
// steady-state calls do not allocate.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/device_ops.h"
#include "kernels/thread_pool.h"
#include "kernels/weight_matrix.h"

namespace gs::kernels {

// Puts a Q8_0/Q4_0/Q4_1 matrix from GGUF block layout into the layout the CPU
// products read (kernels/cpu/quant_dot.h), once, at load. Other dtypes, and
// matrices already packed, are left as they are.
void PackForCpu(WeightMatrix* w);
// The same from rows read elsewhere: w->dtype, rows and cols are set, `gguf`
// holds the rows in GGUF layout (in the resident dtype); w->data is filled.
// With an arena, the packed rows are placed in it.
void PackForCpu(WeightMatrix* w, std::span<const uint8_t> gguf, WeightArena* arena = nullptr);

void MatMul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y,
            ThreadPool* pool = nullptr, Activations act = Activations::kInt8);

// One product of a shared input: y = x · wᵀ.
struct MatMulPart {
  const WeightMatrix* w;
  float* y;
};

// MatMul for several weights of the same input width (q/k/v, or gate/up),
// at most four: with int8 activations the input is quantized once and one
// pool job covers the rows of all of them. Each y is what MatMul gives.
void MatMulShared(const float* x, int64_t n_tokens, std::span<const MatMulPart> parts,
                  ThreadPool* pool = nullptr, Activations act = Activations::kInt8);

// Dot product of two fp32 vectors of length n.
float Dot(const float* a, const float* b, int64_t n);

}  // namespace gs::kernels
