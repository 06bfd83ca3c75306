// SwiGLU gating: out = silu(gate) * up.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

// gate, up, out [n].
template <typename T>
__global__ void SiluMulKernel(const float* gate, const float* up, int64_t n, T* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float g = gate[i];
    detail::Store(out + i, g / (1.0f + expf(-g)) * up[i]);
  }
}

template <typename T>
void Launch(const float* gate, const float* up, int64_t n, T* out, cudaStream_t s) {
  if (n == 0) return;
  SiluMulKernel<T><<<detail::GridFor(n, 256), 256, 0, s>>>(gate, up, n, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void SiluMul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t s) {
  Launch(gate, up, n, out, s);
}
void SiluMul(const float* gate, const float* up, int64_t n, bf16* out, cudaStream_t s) {
  Launch(gate, up, n, out, s);
}

}  // namespace gs::kernels::cuda
