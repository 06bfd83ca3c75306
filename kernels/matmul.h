// y = x · Wᵀ for a batch of token rows: the projection behind every linear
// layer. x [n_tokens, w.cols], y [n_tokens, w.rows] (overwritten).
//
// Weights are multiplied in their resident dtype: fp32, bf16/f16 (widened on
// the fly), or Q8_0/Q4_0/Q4_1 blocks widened block by block against fp32
// activations (the same result as dequantizing first). With
// `int8_activations`, quantized weights instead meet activations quantized to
// 8-bit blocks once per call and integer dot products: faster, at an error
// bounded in tests/kernels/quant_matmul_test.cc, which is why it is not the
// default. Output rows are split over `pool`
// (null: the calling thread alone). Scratch is per calling thread and only
// grows, so steady-state calls do not allocate.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "core/weight_matrix.h"

namespace gs::kernels {

void MatMul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y,
            ThreadPool* pool = nullptr, bool int8_activations = false);

// Dot product of two fp32 vectors of length n.
float Dot(const float* a, const float* b, int64_t n);

}  // namespace gs::kernels
