// Greedy decoding helper: the index of each logits row's maximum.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

// One block per row. logits [n_rows, vocab] → out [n_rows].
__global__ void ArgmaxKernel(const float* logits, int64_t vocab, int32_t* out) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* row = logits + blockIdx.x * vocab;
  float bv = -FLT_MAX;
  int32_t bi = -1;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
    // Ascending per thread, so strict > keeps the lowest index on ties.
    if (bi < 0 || row[i] > bv) {
      bv = row[i];
      bi = static_cast<int32_t>(i);
    }
  }
  detail::BlockArgMax(bv, bi, sv, si);
  if (threadIdx.x == 0) out[blockIdx.x] = bi;
}

}  // namespace

void Argmax(const float* logits, int64_t n_rows, int64_t vocab, int32_t* out, cudaStream_t s) {
  if (n_rows == 0) return;
  ArgmaxKernel<<<static_cast<unsigned>(n_rows), 1024, 0, s>>>(logits, vocab, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace gs::kernels::cuda
