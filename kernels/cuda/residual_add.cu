// The residual add x += y, and adding a bias to every row.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

__global__ void AddInPlaceKernel(float* x, const float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    x[i] += y[i];
  }
}

__global__ void AddBiasKernel(float* y, const float* bias, int64_t n, int64_t dim) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += bias[i % dim];
  }
}

}  // namespace

void AddBias(float* y, const float* bias, int64_t n_rows, int64_t dim, cudaStream_t s) {
  const int64_t n = n_rows * dim;
  if (n == 0) return;
  AddBiasKernel<<<detail::GridFor(n, 256), 256, 0, s>>>(y, bias, n, dim);
  CUDA_CHECK_LAUNCH();
}

void AddInPlace(float* x, const float* y, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  AddInPlaceKernel<<<detail::GridFor(n, 256), 256, 0, s>>>(x, y, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace gs::kernels::cuda
