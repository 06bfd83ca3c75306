// Prefill attention: tiled causal attention with an online softmax. A block
// takes up to kPrefillTile consecutive tokens of one sequence for one query
// head; the sequence's K/V stream through shared memory in tiles of kKeyTile
// keys, each loaded once for all the block's rows.
#include <cmath>

#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerWarp = kPrefillTile / kWarps;
constexpr int kKeyTile = 32;  // one key per lane

// grid (n_tiles, n_heads). q [n_tokens, n_heads, HD] → out [n_tokens, n_heads, HD].
template <int HD, typename CacheT, typename OutT>
__global__ void __launch_bounds__(kThreads)
    PrefillKernel(const float* __restrict__ q, const CacheT* __restrict__ kc,
                  const CacheT* __restrict__ vc, int n_groups, int block_size,
                  const int32_t* positions, const int32_t* token_seq, const int32_t* block_tables,
                  int max_blocks, const int32_t* tiles, int n_heads, int hpg, float scale,
                  OutT* out) {
  __shared__ float qs[kPrefillTile][HD];
  __shared__ float ks[kKeyTile][HD + 1];  // +1: lanes read different rows, same column
  __shared__ float vs[kKeyTile][HD];
  __shared__ float ps[kWarps][kKeyTile];
  __shared__ int tile_ctx;
  constexpr int kPer = HD / 32;
  const int first = tiles[2 * blockIdx.x], count = tiles[2 * blockIdx.x + 1];
  const int h = blockIdx.y, g = h / hpg;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  for (int i = threadIdx.x; i < count * HD; i += kThreads) {
    const int r = i / HD, d = i % HD;
    qs[r][d] = q[(static_cast<int64_t>(first + r) * n_heads + h) * HD + d] * scale;
  }
  if (threadIdx.x == 0) {
    int mx = 0;
    for (int r = 0; r < count; ++r) mx = max(mx, positions[first + r] + 1);
    tile_ctx = mx;
  }
  int pos[kRowsPerWarp];
#pragma unroll
  for (int u = 0; u < kRowsPerWarp; ++u) {
    const int r = warp * kRowsPerWarp + u;
    pos[u] = r < count ? positions[first + r] : -1;
  }
  const int32_t* table = block_tables + static_cast<int64_t>(token_seq[first]) * max_blocks;
  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kPer];
#pragma unroll
  for (int u = 0; u < kRowsPerWarp; ++u) {
    m[u] = -INFINITY;
    l[u] = 0.0f;
#pragma unroll
    for (int e = 0; e < kPer; ++e) acc[u][e] = 0.0f;
  }
  __syncthreads();
  const int ctx = tile_ctx;

  for (int k0 = 0; k0 < ctx; k0 += kKeyTile) {
    __syncthreads();  // the previous tile is no longer read
    for (int i = threadIdx.x; i < kKeyTile * HD; i += kThreads) {
      const int j = i / HD, d = i % HD, p = k0 + j;
      float kval = 0.0f, vval = 0.0f;
      if (p < ctx) {
        const int64_t row =
            ((static_cast<int64_t>(table[p / block_size]) * n_groups + g) * block_size +
             p % block_size) *
            HD;
        kval = detail::ToF32(kc[row + d]);
        vval = detail::ToF32(vc[row + d]);
      }
      ks[j][d] = kval;
      vs[j][d] = vval;
    }
    __syncthreads();
#pragma unroll
    for (int u = 0; u < kRowsPerWarp; ++u) {
      const int r = warp * kRowsPerWarp + u;
      if (pos[u] < k0) continue;  // row absent, or every key of the tile is in its future
      const int p = k0 + lane;
      float s = -INFINITY;
      if (p <= pos[u]) {
        s = 0.0f;
#pragma unroll 16
        for (int d = 0; d < HD; ++d) s += qs[r][d] * ks[lane][d];
      }
      const float m_new = fmaxf(m[u], detail::WarpMax(s));
      const float alpha = expf(m[u] - m_new);  // 0 on the first tile (m = -inf)
      const float pj = p <= pos[u] ? expf(s - m_new) : 0.0f;
      l[u] = l[u] * alpha + detail::WarpSum(pj);
      m[u] = m_new;
      ps[warp][lane] = pj;
      __syncwarp();
#pragma unroll
      for (int e = 0; e < kPer; ++e) {
        float a = acc[u][e] * alpha;
        for (int j = 0; j < kKeyTile; ++j) a += ps[warp][j] * vs[j][lane + 32 * e];
        acc[u][e] = a;
      }
      __syncwarp();
    }
  }
#pragma unroll
  for (int u = 0; u < kRowsPerWarp; ++u) {
    const int r = warp * kRowsPerWarp + u;
    if (r >= count) continue;
    OutT* o = out + (static_cast<int64_t>(first + r) * n_heads + h) * HD;
    const float inv = 1.0f / l[u];
#pragma unroll
    for (int e = 0; e < kPer; ++e) detail::Store(o + lane + 32 * e, acc[u][e] * inv);
  }
}

template <int HD, typename CacheT, typename OutT>
void Launch(const float* q, const KvLayer& kv, const AttentionBatchDevice& b,
            const int32_t* tiles, int n_tiles, int n_heads, float scale, OutT* out,
            cudaStream_t s) {
  const dim3 grid(n_tiles, n_heads);
  PrefillKernel<HD, CacheT, OutT><<<grid, kThreads, 0, s>>>(
      q, static_cast<const CacheT*>(kv.k), static_cast<const CacheT*>(kv.v), kv.n_groups,
      kv.block_size, b.positions, b.token_seq, b.block_tables, b.max_blocks, tiles, n_heads,
      n_heads / kv.n_groups, scale, out);
  CUDA_CHECK_LAUNCH();
}

template <typename OutT>
void Dispatch(const float* q, const KvLayer& kv, const AttentionBatchDevice& b,
              const int32_t* tiles, int n_tiles, int n_heads, float scale, OutT* out,
              cudaStream_t s) {
  if (n_tiles == 0) return;
  CHECK(kv.n_groups > 0 && n_heads % kv.n_groups == 0)
      << "heads " << n_heads << " not a multiple of groups " << kv.n_groups;
  const bool bf = kv.dtype == DType::kBF16;
  if (kv.head_dim == 128) {
    bf ? Launch<128, bf16>(q, kv, b, tiles, n_tiles, n_heads, scale, out, s)
       : Launch<128, float>(q, kv, b, tiles, n_tiles, n_heads, scale, out, s);
  } else if (kv.head_dim == 64) {
    bf ? Launch<64, bf16>(q, kv, b, tiles, n_tiles, n_heads, scale, out, s)
       : Launch<64, float>(q, kv, b, tiles, n_tiles, n_heads, scale, out, s);
  } else {
    CHECK(false) << "CUDA attention supports head_dim 64 and 128, got " << kv.head_dim;
  }
}

}  // namespace

void PrefillAttention(const float* q, const KvLayer& kv,
                      const AttentionBatchDevice& batch, const int32_t* tiles, int n_tiles,
                      int n_heads, float scale, float* out, cudaStream_t s) {
  Dispatch(q, kv, batch, tiles, n_tiles, n_heads, scale, out, s);
}

void PrefillAttention(const float* q, const KvLayer& kv,
                      const AttentionBatchDevice& batch, const int32_t* tiles, int n_tiles,
                      int n_heads, float scale, bf16* out, cudaStream_t s) {
  Dispatch(q, kv, batch, tiles, n_tiles, n_heads, scale, out, s);
}

}  // namespace gs::kernels::cuda
