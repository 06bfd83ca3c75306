// Writes this step's K/V rows into the paged cache.
#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

// grid (n_tokens, n_groups), threads over head_dim.
// k, v [n_tokens, n_groups, head_dim] → cache [n_blocks][n_groups][block_size][head_dim].
template <typename T>
__global__ void KvAppendKernel(const float* k, const float* v, const int32_t* slots, T* kc, T* vc,
                               int n_groups, int block_size, int head_dim) {
  const int64_t t = blockIdx.x;
  const int g = blockIdx.y;
  const int32_t slot = slots[t];
  if (slot < 0) return;  // padding token: nothing to store
  const int64_t block = slot / block_size, off = slot % block_size;
  const int64_t dst = ((block * n_groups + g) * block_size + off) * head_dim;
  const int64_t src = (t * n_groups + g) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    detail::Store(kc + dst + d, k[src + d]);
    detail::Store(vc + dst + d, v[src + d]);
  }
}

}  // namespace

void KvAppend(const float* k, const float* v, int64_t n_tokens, const int32_t* slots,
              const KvLayer& kv, cudaStream_t s) {
  if (n_tokens == 0) return;
  const dim3 grid(static_cast<unsigned>(n_tokens), static_cast<unsigned>(kv.n_groups));
  const int threads = kv.head_dim < 128 ? kv.head_dim : 128;
  if (kv.dtype == DType::kBF16) {
    KvAppendKernel<<<grid, threads, 0, s>>>(k, v, slots, static_cast<bf16*>(kv.k),
                                            static_cast<bf16*>(kv.v), kv.n_groups, kv.block_size,
                                            kv.head_dim);
  } else {
    KvAppendKernel<<<grid, threads, 0, s>>>(k, v, slots, static_cast<float*>(kv.k),
                                            static_cast<float*>(kv.v), kv.n_groups, kv.block_size,
                                            kv.head_dim);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace gs::kernels::cuda
