// Decode attention over the paged cache, flash-decoding style: the context is
// split into chunks handled by separate blocks so that even one token keeps
// the GPU busy; each block loads its chunk of one group's K/V once for every
// query head of the group, and a second kernel merges the partial softmaxes.
#include <cmath>

#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMinChunk = 32, kMaxChunk = 256;
constexpr int kTargetBlocks = 264;  // two waves on a 132-SM H100/H200
constexpr int kHeadsPerPass = 8;    // accumulators held in registers at once

struct SplitPlan {
  int chunk = kMinChunk;
  int n_splits = 1;
};

constexpr int64_t kSmemLimit = 48 * 1024;

SplitPlan PlanSplits(int64_t n_tokens, int n_groups, int hpg, int head_dim, int max_context) {
  // Shared memory holds q and the chunk's scores for every head of the group.
  int64_t max_chunk = kSmemLimit / (static_cast<int64_t>(sizeof(float)) * hpg) - head_dim;
  max_chunk = max_chunk / kMinChunk * kMinChunk;
  if (max_chunk > kMaxChunk) max_chunk = kMaxChunk;
  const int64_t work = n_tokens * n_groups;
  const int64_t want = (kTargetBlocks + work - 1) / work;  // splits per (token, group)
  int64_t chunk = (max_context + want - 1) / want;
  chunk = (chunk + kMinChunk - 1) / kMinChunk * kMinChunk;
  chunk = chunk < kMinChunk ? kMinChunk : (chunk > max_chunk ? max_chunk : chunk);
  SplitPlan p;
  p.chunk = static_cast<int>(chunk);
  p.n_splits = static_cast<int>((max_context + chunk - 1) / chunk);
  if (p.n_splits < 1) p.n_splits = 1;
  return p;
}

// Workspace per (token, head, split): m, l, then acc [HD] (unnormalized).
// grid (n_splits, n_groups, n_tokens), kThreads threads.
// Dynamic shared: qs [hpg][HD] then scores [hpg][chunk].
template <int HD, typename CacheT>
__global__ void __launch_bounds__(kThreads)
    DecodePartialKernel(const float* __restrict__ q, const CacheT* __restrict__ kc,
                        const CacheT* __restrict__ vc, int n_groups, int block_size,
                        const int32_t* positions, const int32_t* token_seq,
                        const int32_t* block_tables, int max_blocks, int n_heads, int hpg,
                        float scale, int chunk, int n_splits, float* ws) {
  extern __shared__ float smem[];
  float* qs = smem;             // [hpg][HD]
  float* sc = smem + hpg * HD;  // [hpg][chunk]
  const int split = blockIdx.x, g = blockIdx.y;
  const int64_t t = blockIdx.z;
  const int ctx = positions[t] + 1;
  const int p0 = split * chunk;
  const int n = min(ctx, p0 + chunk) - p0;
  if (n <= 0) return;  // the merge ignores splits past the token's context
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int h_first = g * hpg;  // heads of a group are contiguous
  const float* qt = q + (t * n_heads + h_first) * HD;
  for (int i = threadIdx.x; i < hpg * HD; i += kThreads) qs[i] = qt[i] * scale;
  __syncthreads();

  const int32_t* table = block_tables + static_cast<int64_t>(token_seq[t]) * max_blocks;
  auto row_of = [&](int p) -> int64_t {
    return ((static_cast<int64_t>(table[p / block_size]) * n_groups + g) * block_size +
            p % block_size) *
           HD;
  };
  // Scores: one warp per key, the key row read once for all heads.
  constexpr int kPer = HD / 32;
  for (int j = warp; j < n; j += kThreads / 32) {
    const CacheT* krow = kc + row_of(p0 + j);
    float kv[kPer];
#pragma unroll
    for (int e = 0; e < kPer; ++e) kv[e] = detail::ToF32(krow[lane + 32 * e]);
    for (int h = 0; h < hpg; ++h) {
      float s = 0.0f;
#pragma unroll
      for (int e = 0; e < kPer; ++e) s += qs[h * HD + lane + 32 * e] * kv[e];
      s = detail::WarpSum(s);
      if (lane == 0) sc[h * chunk + j] = s;
    }
  }
  __syncthreads();
  // Softmax statistics per head over this chunk; scores become exp(s - m).
  float* out_base = ws + (t * n_heads + h_first) * static_cast<int64_t>(n_splits) * (HD + 2);
  for (int h = warp; h < hpg; h += kThreads / 32) {
    float m = -INFINITY;
    for (int j = lane; j < n; j += 32) m = fmaxf(m, sc[h * chunk + j]);
    m = detail::WarpMax(m);
    float l = 0.0f;
    for (int j = lane; j < n; j += 32) {
      const float e = expf(sc[h * chunk + j] - m);
      sc[h * chunk + j] = e;
      l += e;
    }
    l = detail::WarpSum(l);
    if (lane == 0) {
      float* w = out_base + (static_cast<int64_t>(h) * n_splits + split) * (HD + 2);
      w[0] = m;
      w[1] = l;
    }
  }
  __syncthreads();
  // Weighted values: thread owns dimension d for keys j ≡ phase (mod n_phase).
  constexpr int kPhases = kThreads / HD;
  const int d = threadIdx.x % HD, phase = threadIdx.x / HD;
  for (int h0 = 0; h0 < hpg; h0 += kHeadsPerPass) {
    float acc[kHeadsPerPass];
#pragma unroll
    for (int u = 0; u < kHeadsPerPass; ++u) acc[u] = 0.0f;
    for (int j = phase; j < n; j += kPhases) {
      const float v = detail::ToF32(vc[row_of(p0 + j) + d]);
#pragma unroll
      for (int u = 0; u < kHeadsPerPass; ++u) {
        if (h0 + u < hpg) acc[u] += sc[(h0 + u) * chunk + j] * v;
      }
    }
    if constexpr (kPhases > 1) {
      // Fold the other phases into phase 0 through qs (free after the scores).
      __syncthreads();
      for (int ph = 1; ph < kPhases; ++ph) {
        if (phase == ph) {
#pragma unroll
          for (int u = 0; u < kHeadsPerPass; ++u) {
            if (h0 + u < hpg) qs[u * HD + d] = acc[u];
          }
        }
        __syncthreads();
        if (phase == 0) {
#pragma unroll
          for (int u = 0; u < kHeadsPerPass; ++u) {
            if (h0 + u < hpg) acc[u] += qs[u * HD + d];
          }
        }
        __syncthreads();
      }
    }
    if (phase == 0) {
#pragma unroll
      for (int u = 0; u < kHeadsPerPass; ++u) {
        if (h0 + u < hpg) {
          out_base[(static_cast<int64_t>(h0 + u) * n_splits + split) * (HD + 2) + 2 + d] = acc[u];
        }
      }
    }
  }
}

// grid (n_heads, n_tokens), HD threads: merges the splits of one head.
template <int HD, typename OutT>
__global__ void DecodeMergeKernel(const float* ws, const int32_t* positions, int n_heads, int chunk,
                                  int n_splits, OutT* out) {
  const int h = blockIdx.x;
  const int64_t t = blockIdx.y;
  const int d = threadIdx.x;
  const int valid = min(n_splits, (positions[t] + chunk) / chunk);  // splits that saw keys
  const float* w = ws + (t * n_heads + h) * static_cast<int64_t>(n_splits) * (HD + 2);
  float m = -INFINITY;
  for (int s = 0; s < valid; ++s) m = fmaxf(m, w[s * (HD + 2)]);
  float l = 0.0f, acc = 0.0f;
  for (int s = 0; s < valid; ++s) {
    const float* ws_s = w + s * (HD + 2);
    const float f = expf(ws_s[0] - m);
    l += f * ws_s[1];
    acc += f * ws_s[2 + d];
  }
  detail::Store(out + (t * n_heads + h) * HD + d, acc / l);
}

template <int HD, typename CacheT, typename OutT>
void Launch(const float* q, const KvLayer& kv, const AttentionBatchDevice& b, int n_heads,
            float scale, void* workspace, OutT* out, cudaStream_t s) {
  const int hpg = n_heads / kv.n_groups;
  const SplitPlan plan = PlanSplits(b.n_tokens, kv.n_groups, hpg, HD, b.max_context);
  float* ws = static_cast<float*>(workspace);
  const size_t smem = sizeof(float) * hpg * (HD + plan.chunk);
  const dim3 grid(plan.n_splits, kv.n_groups, static_cast<unsigned>(b.n_tokens));
  DecodePartialKernel<HD, CacheT><<<grid, kThreads, smem, s>>>(
      q, static_cast<const CacheT*>(kv.k), static_cast<const CacheT*>(kv.v), kv.n_groups,
      kv.block_size, b.positions, b.token_seq, b.block_tables, b.max_blocks, n_heads, hpg, scale,
      plan.chunk, plan.n_splits, ws);
  CUDA_CHECK_LAUNCH();
  DecodeMergeKernel<HD, OutT><<<dim3(n_heads, static_cast<unsigned>(b.n_tokens)), HD, 0, s>>>(
      ws, b.positions, n_heads, plan.chunk, plan.n_splits, out);
  CUDA_CHECK_LAUNCH();
}

template <typename OutT>
void Dispatch(const float* q, const KvLayer& kv, const AttentionBatchDevice& b,
              int n_heads, float scale, void* workspace, OutT* out, cudaStream_t s) {
  if (b.n_tokens == 0) return;
  CHECK(kv.n_groups > 0 && n_heads % kv.n_groups == 0)
      << "heads " << n_heads << " not a multiple of groups " << kv.n_groups;
  CHECK_LE(n_heads / kv.n_groups, kMaxHeadsPerGroup);
  CHECK(b.max_context > 0) << "max_context must bound the positions";
  const bool bf = kv.dtype == DType::kBF16;
  if (kv.head_dim == 128) {
    bf ? Launch<128, bf16>(q, kv, b, n_heads, scale, workspace, out, s)
       : Launch<128, float>(q, kv, b, n_heads, scale, workspace, out, s);
  } else if (kv.head_dim == 64) {
    bf ? Launch<64, bf16>(q, kv, b, n_heads, scale, workspace, out, s)
       : Launch<64, float>(q, kv, b, n_heads, scale, workspace, out, s);
  } else {
    CHECK(false) << "CUDA attention supports head_dim 64 and 128, got " << kv.head_dim;
  }
}

}  // namespace

int64_t DecodeAttentionWorkspaceBytes(int64_t n_tokens, int n_heads, int n_groups, int head_dim,
                                      int max_context) {
  const SplitPlan p = PlanSplits(n_tokens, n_groups, n_heads / n_groups, head_dim, max_context);
  return static_cast<int64_t>(sizeof(float)) * n_tokens * n_heads * p.n_splits * (head_dim + 2);
}

void DecodeAttention(const float* q, const KvLayer& kv, const AttentionBatchDevice& batch,
                     int n_heads, float scale, void* workspace, float* out, cudaStream_t s) {
  Dispatch(q, kv, batch, n_heads, scale, workspace, out, s);
}

void DecodeAttention(const float* q, const KvLayer& kv, const AttentionBatchDevice& batch,
                     int n_heads, float scale, void* workspace, bf16* out, cudaStream_t s) {
  Dispatch(q, kv, batch, n_heads, scale, workspace, out, s);
}

}  // namespace gs::kernels::cuda
