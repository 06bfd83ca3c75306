#include "kernels/rms_norm.h"

#include <cmath>

namespace gs::kernels {

void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* y) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xr = x + t * dim;
    float* yr = y + t * dim;
    double ss = 0.0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * inv * weight[i];
  }
}

}  // namespace gs::kernels
