// RMSNorm over the last dimension, fp32 statistics, fp32 or BF16 output.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

// One block per token row. x [n_tokens, dim], weight [dim] → y [n_tokens, dim].
// Each thread reads its elements before any is written, so y may alias x.
template <typename T>
__global__ void RmsNormKernel(const float* x, const float* weight, int64_t dim, float eps, T* y) {
  __shared__ float scratch[32];
  const float* xr = x + blockIdx.x * dim;
  T* yr = y + blockIdx.x * dim;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  ss = detail::BlockSum(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    detail::Store(yr + i, xr[i] * inv * weight[i]);
  }
}

template <typename T>
void Launch(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, T* y,
            cudaStream_t s) {
  if (n_tokens == 0) return;
  RmsNormKernel<T><<<static_cast<unsigned>(n_tokens), 512, 0, s>>>(x, weight, dim, eps, y);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps,
             float* y, cudaStream_t s) {
  Launch(x, weight, n_tokens, dim, eps, y, s);
}
void RmsNorm(const float* x, const float* weight, int64_t n_tokens, int64_t dim, float eps, bf16* y,
             cudaStream_t s) {
  Launch(x, weight, n_tokens, dim, eps, y, s);
}

}  // namespace gs::kernels::cuda
