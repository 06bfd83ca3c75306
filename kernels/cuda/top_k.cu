// Top-k of logits rows in two passes: each block selects the k best of one
// chunk of a row (k rounds of a block argmax over the chunk in shared
// memory), then one block per row selects the k best of the candidates.
#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 4096;                 // 32 KiB of (value, index) in shared memory
constexpr int64_t kMergeSmemLimit = 200 * 1024;  // opt-in shared memory on sm_90

// Selects the k best of n (value, index) pairs held in shared memory;
// index < 0 marks an empty entry. Writes them in order to out_v/out_i.
__device__ void SelectK(float* v, int32_t* idx, int n, int k, float* out_v, int32_t* out_i) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  __shared__ int best_pos;
  for (int round = 0; round < k; ++round) {
    float bv = -FLT_MAX;
    int32_t bi = -1;
    int bp = -1;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      if (detail::Better(v[i], idx[i], bv, bi)) {
        bv = v[i];
        bi = idx[i];
        bp = i;
      }
    }
    const int32_t mine = bi;
    detail::BlockArgMax(bv, bi, sv, si);
    // The owner of the winning index retires its entry.
    if (bi >= 0 && mine == bi) best_pos = bp;
    __syncthreads();
    if (threadIdx.x == 0) {
      out_v[round] = bv;
      out_i[round] = bi;
      if (bi >= 0) idx[best_pos] = -1;
    }
    __syncthreads();
  }
}

// grid (n_chunks, n_rows). Candidates [n_rows, n_chunks, k].
__global__ void ChunkTopKKernel(const float* logits, int64_t vocab, int k, float* cand_v,
                                int32_t* cand_i) {
  extern __shared__ float smem[];
  float* v = smem;
  int32_t* idx = reinterpret_cast<int32_t*>(smem + kChunk);
  const int64_t begin = blockIdx.x * kChunk;
  const int n = static_cast<int>(min(kChunk, vocab - begin));
  const float* row = logits + blockIdx.y * vocab + begin;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    v[i] = row[i];
    idx[i] = static_cast<int32_t>(begin + i);
  }
  __syncthreads();
  const int64_t off = (static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x) * k;
  SelectK(v, idx, n, k, cand_v + off, cand_i + off);
}

// grid (n_rows): the final k of each row's candidates.
__global__ void MergeTopKKernel(const float* cand_v, const int32_t* cand_i, int n_cand, int k,
                                float* values, int32_t* indices) {
  extern __shared__ float smem[];
  float* v = smem;
  int32_t* idx = reinterpret_cast<int32_t*>(smem + n_cand);
  const int64_t off = static_cast<int64_t>(blockIdx.x) * n_cand;
  for (int i = threadIdx.x; i < n_cand; i += blockDim.x) {
    v[i] = cand_v[off + i];
    idx[i] = cand_i[off + i];
  }
  __syncthreads();
  SelectK(v, idx, n_cand, k, values + static_cast<int64_t>(blockIdx.x) * k,
          indices + static_cast<int64_t>(blockIdx.x) * k);
}

int64_t NumChunks(int64_t vocab) { return (vocab + kChunk - 1) / kChunk; }

}  // namespace

int64_t TopKWorkspaceBytes(int64_t n_rows, int64_t vocab, int k) {
  return n_rows * NumChunks(vocab) * k * static_cast<int64_t>(sizeof(float) + sizeof(int32_t));
}

void TopK(const float* logits, int64_t n_rows, int64_t vocab, int k, void* workspace, float* values,
          int32_t* indices, cudaStream_t s) {
  if (n_rows == 0) return;
  CHECK(k >= 1 && k <= kMaxTopK && k <= vocab) << "top-k " << k << " of " << vocab;
  const int64_t n_chunks = NumChunks(vocab);
  const int n_cand = static_cast<int>(n_chunks * k);
  const int64_t merge_smem = static_cast<int64_t>(n_cand) * 8;
  CHECK_LE(merge_smem, kMergeSmemLimit);
  if (merge_smem > 48 * 1024) {
    CUDA_CHECK(cudaFuncSetAttribute(MergeTopKKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(merge_smem)));
  }
  float* cand_v = static_cast<float*>(workspace);
  int32_t* cand_i = reinterpret_cast<int32_t*>(cand_v + n_rows * n_cand);
  ChunkTopKKernel<<<dim3(static_cast<unsigned>(n_chunks), static_cast<unsigned>(n_rows)), kThreads,
                    kChunk * 8, s>>>(logits, vocab, k, cand_v, cand_i);
  CUDA_CHECK_LAUNCH();
  MergeTopKKernel<<<static_cast<unsigned>(n_rows), kThreads, merge_smem, s>>>(
      cand_v, cand_i, n_cand, k, values, indices);
  CUDA_CHECK_LAUNCH();
}

}  // namespace gs::kernels::cuda
