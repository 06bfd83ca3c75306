// Embedding lookup from a vocabulary-parallel BF16 table.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"

namespace gs::kernels::cuda {
namespace {

// One block per token. table [n_rows, hidden] → out [n_tokens, hidden] fp32.
__global__ void EmbeddingKernel(const bf16* table, int64_t row_begin, int64_t n_rows,
                                int64_t hidden, const int32_t* tokens, float* out) {
  const int64_t t = blockIdx.x;
  const int64_t row = static_cast<int64_t>(tokens[t]) - row_begin;
  float* o = out + t * hidden;
  const bool owned = row >= 0 && row < n_rows;
  const bf16* src = table + (owned ? row : 0) * hidden;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    o[i] = owned ? __bfloat162float(src[i]) : 0.0f;
  }
}

}  // namespace

void Embedding(const bf16* table, int64_t row_begin, int64_t n_rows, int64_t hidden,
               const int32_t* tokens, int64_t n_tokens, float* out, cudaStream_t s) {
  if (n_tokens == 0) return;
  EmbeddingKernel<<<static_cast<unsigned>(n_tokens), 256, 0, s>>>(table, row_begin, n_rows, hidden,
                                                                  tokens, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace gs::kernels::cuda
