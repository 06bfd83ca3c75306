// RMSNorm over the last dimension: y = x / sqrt(mean(x²) + eps) * weight.
#pragma once

#include <cstdint>

namespace gs::kernels {

// x, y [n_tokens, dim] (may alias); weight [dim].
void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* y);

}  // namespace gs::kernels
