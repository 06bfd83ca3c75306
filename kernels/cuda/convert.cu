// Dtype conversions and device-side random fill.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

__global__ void F32ToBF16Kernel(const float* in, int64_t n, bf16* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = __float2bfloat16(in[i]);
  }
}

__global__ void BF16ToF32Kernel(const bf16* in, int64_t n, float* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = __bfloat162float(in[i]);
  }
}

// splitmix64 of (seed, i): independent of the launch shape.
__device__ __forceinline__ float HashUniform(uint64_t seed, int64_t i) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(i) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
}

template <typename T>
__global__ void FillUniformKernel(T* out, int64_t n, float scale, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    detail::Store(out + i, (2.0f * HashUniform(seed, i) - 1.0f) * scale);
  }
}

}  // namespace

void ConvertF32ToBF16(const float* in, int64_t n, bf16* out, cudaStream_t s) {
  if (n == 0) return;
  F32ToBF16Kernel<<<detail::GridFor(n, 256), 256, 0, s>>>(in, n, out);
  CUDA_CHECK_LAUNCH();
}

void ConvertBF16ToF32(const bf16* in, int64_t n, float* out, cudaStream_t s) {
  if (n == 0) return;
  BF16ToF32Kernel<<<detail::GridFor(n, 256), 256, 0, s>>>(in, n, out);
  CUDA_CHECK_LAUNCH();
}

void FillUniform(bf16* out, int64_t n, float scale, uint64_t seed, cudaStream_t s) {
  if (n == 0) return;
  FillUniformKernel<<<detail::GridFor(n, 256), 256, 0, s>>>(out, n, scale, seed);
  CUDA_CHECK_LAUNCH();
}

void FillUniform(float* out, int64_t n, float scale, uint64_t seed, cudaStream_t s) {
  if (n == 0) return;
  FillUniformKernel<<<detail::GridFor(n, 256), 256, 0, s>>>(out, n, scale, seed);
  CUDA_CHECK_LAUNCH();
}

}  // namespace gs::kernels::cuda
