// y = x · Wᵀ for a batch of token rows: the projection behind every linear
// layer. x [n_tokens, w.cols], y [n_tokens, w.rows] (overwritten).
#pragma once

#include <cstdint>

#include "core/weight_matrix.h"

namespace gs::kernels {

void MatMul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y);

// Dot product of two fp32 vectors of length n.
float Dot(const float* a, const float* b, int64_t n);

}  // namespace gs::kernels
