#include "kernels/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/check.h"
#include "kernels/cpu/kv_rows.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/matmul.h"

namespace gs::kernels {

void KvAppend(const float* k, const float* v, int64_t n_tokens, const int32_t* slots,
              const KvLayer& kv) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  const int64_t row = RowBytes(kv.dtype, hd);
  auto* K = static_cast<uint8_t*>(kv.k);
  auto* V = static_cast<uint8_t*>(kv.v);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t block = slots[t] / B, off = slots[t] % B;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t dst = ((block * G + g) * B + off) * row;
      cpu::StoreKvRow(kv.dtype, k + (t * G + g) * hd, hd, K + dst);
      cpu::StoreKvRow(kv.dtype, v + (t * G + g) * hd, hd, V + dst);
    }
  }
}

namespace {

// Heads of one group handled together; a longer run (MQA with many heads) is
// taken in pieces of this many, each reading the group's rows once.
constexpr int kMaxHeadsPerRun = 16;
// Value rows widened to fp32 at a time for a cache that is not fp32: the tile
// (kValueTile x head_dim floats) stays in L1 while every head of the run
// reads it.
constexpr int64_t kValueTile = 32;

// Lane i of the result: the sum of the eight lanes of a[i].
inline __m256 Reduce8(const __m256 a[8]) {
  const __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 lo = _mm256_hadd_ps(h01, h23), hi = _mm256_hadd_ps(h45, h67);
  // lo holds the low and high halves of rows 0..3, hi those of rows 4..7.
  return _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31));
}

// s[0, n) ← softmax(s[0, n)).
void Softmax(float* s, int64_t n) {
  int64_t p = 0;
  __m256 mx8 = _mm256_set1_ps(-INFINITY);
  for (; p + 8 <= n; p += 8) mx8 = _mm256_max_ps(mx8, _mm256_loadu_ps(s + p));
  float lanes[8];
  _mm256_storeu_ps(lanes, mx8);
  float mx = *std::max_element(lanes, lanes + 8);
  for (; p < n; ++p) mx = std::max(mx, s[p]);
  const __m256 m = _mm256_set1_ps(mx);
  __m256 sum8 = _mm256_setzero_ps();
  for (p = 0; p + 8 <= n; p += 8) {
    const __m256 e = cpu::Exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), m));
    _mm256_storeu_ps(s + p, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  _mm256_storeu_ps(lanes, sum8);
  double sum = 0;
  for (float v : lanes) sum += v;
  for (; p < n; ++p) {
    s[p] = std::exp(s[p] - mx);
    sum += s[p];
  }
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (p = 0; p + 8 <= n; p += 8) {
    _mm256_storeu_ps(s + p, _mm256_mul_ps(_mm256_loadu_ps(s + p), inv));
  }
  for (; p < n; ++p) s[p] *= _mm256_cvtss_f32(inv);
}

// Asks for the cache lines of the `bytes` bytes at p (a row need not start on
// a line: Q8_0 rows of head_dim 64 are 68 bytes).
inline void Prefetch(const uint8_t* p, int64_t bytes) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
  for (uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63}; a < end; a += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(a), _MM_HINT_T0);
  }
}

// scores[h * ctx + p0 + i] = scale * q_h · kr[i] for heads [0, nh) and the np
// rows of one chunk (kr[np..8) repeat the last row): the eight dot products
// of a head are reduced together.
inline void ScoreChunk(const float* const* qh, int nh, const float* const kr[8], int np, int64_t hd,
                       __m256 sv, int64_t ctx, int64_t p0, float* scores) {
  for (int h = 0; h < nh; ++h) {
    __m256 a[8];
    for (__m256& v : a) v = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd; d += 8) {
      const __m256 qv = _mm256_loadu_ps(qh[h] + d);
      for (int i = 0; i < 8; ++i) a[i] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[i] + d), a[i]);
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, _mm256_mul_ps(Reduce8(a), sv));
    std::memcpy(scores + h * ctx + p0, tmp, sizeof(float) * np);
  }
}

// scores[h * ctx + p] = scale * q_h · k_p for heads [0, nh) and positions
// [0, ctx) (krow[p]: the key row of position p, `row_bytes` bytes of T),
// head_dim a multiple of 8: eight key rows at a time meet each head's query.
// fp32 rows are read where they are; other dtypes are widened eight rows at a
// time into `tile` [8, head_dim], which stays in L1 while every head reads it.
template <DType T>
void ScoresAvx2(const float* const* qh, int nh, const uint8_t* const* krow, int64_t ctx, int64_t hd,
                int64_t row_bytes, float scale, float* tile, float* scores) {
  const __m256 sv = _mm256_set1_ps(scale);
  for (int64_t p0 = 0; p0 < ctx; p0 += 8) {
    const int np = static_cast<int>(std::min<int64_t>(8, ctx - p0));
    // Rows are read once from memory and live in blocks scattered by the block
    // table: ask for the rows two chunks ahead.
    for (int64_t p = p0 + 16; p < std::min(ctx, p0 + 24); ++p) Prefetch(krow[p], row_bytes);
    const float* kr[8];
    if constexpr (T == DType::kF32) {
      for (int i = 0; i < 8; ++i) {
        kr[i] = reinterpret_cast<const float*>(krow[p0 + std::min(i, np - 1)]);
      }
    } else {
      for (int i = 0; i < np; ++i) cpu::WidenRow<T>(krow[p0 + i], hd, tile + i * hd);
      for (int i = 0; i < 8; ++i) kr[i] = tile + std::min(i, np - 1) * hd;
    }
    ScoreChunk(qh, nh, kr, np, hd, sv, ctx, p0, scores);
  }
}

// out[d0, d0 + 8 NV) = acc + sum_p w[p] * vrow[p][d0, d0 + 8 NV) over n rows
// of fp32 (vrow[p] = rows + p * stride when rows is set, else vptr[p]), with
// acc = out's values when `accumulate`, else 0. The sums run over p in order,
// so splitting [0, ctx) into pieces that accumulate changes no bit.
template <int NV>
void WeightedChunk(const float* w, const float* const* vptr, const float* rows, int64_t stride,
                   int64_t n, int64_t d0, bool accumulate, float* out) {
  __m256 acc[NV];
  for (int j = 0; j < NV; ++j) {
    acc[j] = accumulate ? _mm256_loadu_ps(out + d0 + 8 * j) : _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < n; ++p) {
    const float* vr;
    if (rows != nullptr) {
      vr = rows + p * stride + d0;
    } else {
      if (p + 8 < n) Prefetch(reinterpret_cast<const uint8_t*>(vptr[p + 8] + d0), 32 * NV);
      vr = vptr[p] + d0;
    }
    const __m256 wp = _mm256_set1_ps(w[p]);
    for (int j = 0; j < NV; ++j) acc[j] = _mm256_fmadd_ps(wp, _mm256_loadu_ps(vr + 8 * j), acc[j]);
  }
  for (int j = 0; j < NV; ++j) _mm256_storeu_ps(out + d0 + 8 * j, acc[j]);
}

// out = sum_p w[p] * v_p over n rows (see WeightedChunk), head_dim a multiple
// of 8, in chunks of 64 dimensions.
void WeightedRows(const float* w, const float* const* vptr, const float* rows, int64_t n,
                  int64_t hd, bool accumulate, float* out) {
  int64_t d0 = 0;
  for (; d0 + 64 <= hd; d0 += 64) WeightedChunk<8>(w, vptr, rows, hd, n, d0, accumulate, out);
  switch ((hd - d0) / 8) {
    case 1: WeightedChunk<1>(w, vptr, rows, hd, n, d0, accumulate, out); break;
    case 2: WeightedChunk<2>(w, vptr, rows, hd, n, d0, accumulate, out); break;
    case 3: WeightedChunk<3>(w, vptr, rows, hd, n, d0, accumulate, out); break;
    case 4: WeightedChunk<4>(w, vptr, rows, hd, n, d0, accumulate, out); break;
    case 5: WeightedChunk<5>(w, vptr, rows, hd, n, d0, accumulate, out); break;
    case 6: WeightedChunk<6>(w, vptr, rows, hd, n, d0, accumulate, out); break;
    case 7: WeightedChunk<7>(w, vptr, rows, hd, n, d0, accumulate, out); break;
    default: break;
  }
}

// out_h = sum_p w[h * ctx + p] * v_p for heads [0, nh), head_dim a multiple
// of 8. fp32 rows are read where they are, each head keeping its sums in
// registers over the whole context; other dtypes are widened kValueTile rows
// at a time into `tile`, which every head then reads from L1. Either way each
// output lane sums over p in order: the same bits as fp32 rows holding the
// widened values.
template <DType T>
void WeightedValuesAvx2(const float* w, int nh, const uint8_t* const* vrow, int64_t ctx, int64_t hd,
                        int64_t row_bytes, float* tile, float* const* out) {
  if constexpr (T == DType::kF32) {
    const auto* vptr = reinterpret_cast<const float* const*>(vrow);
    for (int h = 0; h < nh; ++h) WeightedRows(w + h * ctx, vptr, nullptr, ctx, hd, false, out[h]);
  } else {
    for (int64_t p0 = 0; p0 < ctx; p0 += kValueTile) {
      const int64_t n = std::min(kValueTile, ctx - p0);
      for (int64_t p = p0 + kValueTile; p < std::min(ctx, p0 + 2 * kValueTile); ++p) {
        Prefetch(vrow[p], row_bytes);
      }
      for (int64_t i = 0; i < n; ++i) cpu::WidenRow<T>(vrow[p0 + i], hd, tile + i * hd);
      for (int h = 0; h < nh; ++h) {
        WeightedRows(w + h * ctx + p0, nullptr, tile, n, hd, p0 > 0, out[h]);
      }
    }
  }
}

// One token's heads [h0, h1), all reading group g: each key and value row is
// loaded once for the whole run of heads.
template <DType T>
void AttendGroup(const float* q, const KvLayer& kv, const AttentionBatch& batch, int64_t t, int h0,
                 int h1, int g, int n_heads, float scale, float* out) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  const int64_t row_bytes = RowBytes(T, hd);
  const int64_t ctx = batch.positions[t] + 1;
  const int32_t* table =
      batch.block_tables + static_cast<int64_t>(batch.token_seq[t]) * batch.max_blocks;
  const int nh = h1 - h0;
  // Per-thread scratch that only grows: no allocation once warm.
  thread_local std::vector<float> scores, tile;
  thread_local std::vector<const uint8_t*> krow, vrow;
  if (static_cast<int64_t>(scores.size()) < nh * ctx) scores.resize(nh * ctx);
  if (static_cast<int64_t>(krow.size()) < ctx) {
    krow.resize(ctx);
    vrow.resize(ctx);
  }
  if (static_cast<int64_t>(tile.size()) < kValueTile * hd) tile.resize(kValueTile * hd);
  // Where each position's rows live: block table lookups once per block.
  const auto* K = static_cast<const uint8_t*>(kv.k);
  const auto* V = static_cast<const uint8_t*>(kv.v);
  for (int64_t p0 = 0, blk = 0; p0 < ctx; p0 += B, ++blk) {
    const int64_t base = (static_cast<int64_t>(table[blk]) * G + g) * B * row_bytes;
    for (int64_t p = p0; p < std::min(ctx, p0 + B); ++p) {
      krow[p] = K + base + (p - p0) * row_bytes;
      vrow[p] = V + base + (p - p0) * row_bytes;
    }
  }
  const float* qh[kMaxHeadsPerRun];
  float* oh[kMaxHeadsPerRun];
  for (int h = 0; h < nh; ++h) {
    qh[h] = q + (t * n_heads + h0 + h) * hd;
    oh[h] = out + (t * n_heads + h0 + h) * hd;
  }
  if (hd % 8 == 0) {
    ScoresAvx2<T>(qh, nh, krow.data(), ctx, hd, row_bytes, scale, tile.data(), scores.data());
    for (int h = 0; h < nh; ++h) Softmax(scores.data() + h * ctx, ctx);
    WeightedValuesAvx2<T>(scores.data(), nh, vrow.data(), ctx, hd, row_bytes, tile.data(), oh);
    return;
  }
  // Head sizes that are not a multiple of 8 (f32, f16, bf16 only): one row
  // at a time, widened by DequantizeRow.
  const float* r = tile.data();
  for (int64_t p = 0; p < ctx; ++p) {
    if constexpr (T == DType::kF32) {
      r = reinterpret_cast<const float*>(krow[p]);
    } else {
      DequantizeRow(T, krow[p], tile.data(), hd);
    }
    for (int h = 0; h < nh; ++h) scores[h * ctx + p] = Dot(qh[h], r, hd) * scale;
  }
  for (int h = 0; h < nh; ++h) Softmax(scores.data() + h * ctx, ctx);
  for (int h = 0; h < nh; ++h) std::fill(oh[h], oh[h] + hd, 0.0f);
  for (int64_t p = 0; p < ctx; ++p) {
    if constexpr (T == DType::kF32) {
      r = reinterpret_cast<const float*>(vrow[p]);
    } else {
      DequantizeRow(T, vrow[p], tile.data(), hd);
    }
    for (int h = 0; h < nh; ++h) {
      const float w = scores[h * ctx + p];
      for (int64_t d = 0; d < hd; ++d) oh[h][d] += w * r[d];
    }
  }
}

template <DType T>
void Attend(const float* q, const KvLayer& kv, const AttentionBatch& batch,
            const int32_t* head_group, int n_heads, float scale, float* out, ThreadPool* pool) {
  const int64_t n = batch.n_tokens;
  // Work items are (token, head) pairs, heads innermost, tokens in the order
  // 0, n-1, 1, n-2, ...: under a causal mask later tokens cost more, and
  // contiguous ranges of this order cost alike. A thread takes a range and
  // runs each stretch of heads that share a token and a group together, so it
  // reads that group's keys and values once; a group is split between two
  // threads only where their ranges meet (3 groups on 2 threads split
  // 4.5 + 4.5 heads, not 2 + 1 groups). Each head's arithmetic is the same
  // however the heads are split.
  auto work = [&](int64_t i0, int64_t i1, int) {
    int64_t i = i0;
    while (i < i1) {
      const int64_t j = i / n_heads;
      const int h0 = static_cast<int>(i % n_heads);
      int h1 = h0 + 1;
      while (h1 < n_heads && h1 - h0 < kMaxHeadsPerRun && i + (h1 - h0) < i1 &&
             head_group[h1] == head_group[h0]) {
        ++h1;
      }
      const int64_t t = j % 2 == 0 ? j / 2 : n - 1 - j / 2;
      AttendGroup<T>(q, kv, batch, t, h0, h1, head_group[h0], n_heads, scale, out);
      i += h1 - h0;
    }
  };
  const int64_t n_items = n * n_heads;
  if (pool == nullptr || pool->size() == 1) {
    work(0, n_items, 0);
  } else {
    pool->Run(n_items, 1, work);
  }
}

}  // namespace

void PagedAttention(const float* q, const KvLayer& kv, const AttentionBatch& batch,
                    const int32_t* head_group, int n_heads, float scale, float* out,
                    ThreadPool* pool) {
  switch (kv.dtype) {
    case DType::kF32:
      return Attend<DType::kF32>(q, kv, batch, head_group, n_heads, scale, out, pool);
    case DType::kF16:
      return Attend<DType::kF16>(q, kv, batch, head_group, n_heads, scale, out, pool);
    case DType::kBF16:
      return Attend<DType::kBF16>(q, kv, batch, head_group, n_heads, scale, out, pool);
    case DType::kQ8_0:
      CHECK(kv.head_dim % 32 == 0)
          << "a Q8_0 KV cache needs head_dim a multiple of 32, not " << kv.head_dim;
      return Attend<DType::kQ8_0>(q, kv, batch, head_group, n_heads, scale, out, pool);
    default:
      CHECK(false) << "no CPU attention over a " << DTypeName(kv.dtype) << " KV cache";
  }
}

}  // namespace gs::kernels
