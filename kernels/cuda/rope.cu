// Rotary position embedding, Hugging Face rotate_half pairing (i, i + head_dim/2).
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"

namespace gs::kernels::cuda {
namespace {

// One block per token; threads over (head, i < head_dim/2).
// x [n_tokens, n_heads, head_dim], positions [n_tokens], inv_freq [head_dim/2].
__global__ void RopeKernel(float* x, int n_heads, int head_dim, const int32_t* positions,
                           const float* inv_freq) {
  const int half = head_dim / 2;
  const float pos = static_cast<float>(positions[blockIdx.x]);
  float* xt = x + static_cast<int64_t>(blockIdx.x) * n_heads * head_dim;
  for (int j = threadIdx.x; j < n_heads * half; j += blockDim.x) {
    const int h = j / half, i = j % half;
    // Full-precision sincos: angles reach thousands of radians at long context.
    float sn, cs;
    sincosf(pos * inv_freq[i], &sn, &cs);
    float* v = xt + h * head_dim;
    const float a = v[i], b = v[i + half];
    v[i] = a * cs - b * sn;
    v[i + half] = b * cs + a * sn;
  }
}

}  // namespace

void RopeApply(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions,
               const float* inv_freq, cudaStream_t s) {
  if (n_tokens == 0) return;
  RopeKernel<<<static_cast<unsigned>(n_tokens), 256, 0, s>>>(x, n_heads, head_dim, positions,
                                                             inv_freq);
  CUDA_CHECK_LAUNCH();
}

}  // namespace gs::kernels::cuda
