#include "kernels/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/vec_math.h"
#include "kernels/matmul.h"

namespace gs::kernels {

void KvAppend(const float* k, const float* v, int64_t n_tokens, const int32_t* slots,
              const KvLayer& kv) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  float* K = static_cast<float*>(kv.k);
  float* V = static_cast<float*>(kv.v);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t block = slots[t] / B, off = slots[t] % B;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t dst = ((block * G + g) * B + off) * hd;
      std::memcpy(K + dst, k + (t * G + g) * hd, sizeof(float) * hd);
      std::memcpy(V + dst, v + (t * G + g) * hd, sizeof(float) * hd);
    }
  }
}

namespace {

// Heads of one group handled together; a longer run (MQA with many heads) is
// taken in pieces of this many, each reading the group's rows once.
constexpr int kMaxHeadsPerRun = 16;

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

// Asks for the cache lines of n floats at p.
inline void Prefetch(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T0);
  }
}

// scores[h * ctx + p] = scale * q_h · k_p for heads [0, nh) and positions
// [0, ctx) (krow[p]: the key row of position p), head_dim a multiple of 8:
// eight key rows at a time meet each head's query, and their eight dot
// products are reduced together.
void ScoresAvx2(const float* const* qh, int nh, const float* const* krow, int64_t ctx, int64_t hd,
                float scale, float* scores) {
  const __m256 sv = _mm256_set1_ps(scale);
  for (int64_t p0 = 0; p0 < ctx; p0 += 8) {
    const int np = static_cast<int>(std::min<int64_t>(8, ctx - p0));
    const float* kr[8];
    for (int i = 0; i < 8; ++i) kr[i] = krow[p0 + std::min(i, np - 1)];
    // Rows are read once from memory and live in blocks scattered by the block
    // table: ask for the rows two chunks ahead.
    for (int64_t p = p0 + 16; p < std::min(ctx, p0 + 24); ++p) Prefetch(krow[p], hd);
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
}

// out[0, 8 NV) = sum_p w[p] * vrow[p][0, 8 NV): NV vectors held in registers.
template <int NV>
void WeightedChunk(const float* w, const float* const* vrow, int64_t ctx, int64_t d0, float* out) {
  __m256 acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t p = 0; p < ctx; ++p) {
    if (p + 8 < ctx) Prefetch(vrow[p + 8] + d0, 8 * NV);
    const __m256 wp = _mm256_set1_ps(w[p]);
    const float* vr = vrow[p] + d0;
    for (int j = 0; j < NV; ++j) acc[j] = _mm256_fmadd_ps(wp, _mm256_loadu_ps(vr + 8 * j), acc[j]);
  }
  for (int j = 0; j < NV; ++j) _mm256_storeu_ps(out + d0 + 8 * j, acc[j]);
}

// out_h = sum_p w[h * ctx + p] * v_p for heads [0, nh), head_dim a multiple
// of 8, in chunks of 64 dimensions.
void WeightedValuesAvx2(const float* w, int nh, const float* const* vrow, int64_t ctx,
                        int64_t hd, float* const* out) {
  for (int h = 0; h < nh; ++h) {
    const float* wh = w + h * ctx;
    int64_t d0 = 0;
    for (; d0 + 64 <= hd; d0 += 64) WeightedChunk<8>(wh, vrow, ctx, d0, out[h]);
    switch ((hd - d0) / 8) {
      case 1: WeightedChunk<1>(wh, vrow, ctx, d0, out[h]); break;
      case 2: WeightedChunk<2>(wh, vrow, ctx, d0, out[h]); break;
      case 3: WeightedChunk<3>(wh, vrow, ctx, d0, out[h]); break;
      case 4: WeightedChunk<4>(wh, vrow, ctx, d0, out[h]); break;
      case 5: WeightedChunk<5>(wh, vrow, ctx, d0, out[h]); break;
      case 6: WeightedChunk<6>(wh, vrow, ctx, d0, out[h]); break;
      case 7: WeightedChunk<7>(wh, vrow, ctx, d0, out[h]); break;
      default: break;
    }
  }
}

// One token's heads [h0, h1), all reading group g: each key and value row is
// loaded once for the whole run of heads.
void AttendGroup(const float* q, const KvLayer& kv, const AttentionBatch& batch, int64_t t,
                 int h0, int h1, int g, int n_heads, float scale, float* out) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  const int64_t ctx = batch.positions[t] + 1;
  const int32_t* table =
      batch.block_tables + static_cast<int64_t>(batch.token_seq[t]) * batch.max_blocks;
  const int nh = h1 - h0;
  // Per-thread scratch that only grows: no allocation once warm.
  thread_local std::vector<float> scores;
  thread_local std::vector<const float*> krow, vrow;
  if (static_cast<int64_t>(scores.size()) < nh * ctx) scores.resize(nh * ctx);
  if (static_cast<int64_t>(krow.size()) < ctx) {
    krow.resize(ctx);
    vrow.resize(ctx);
  }
  // Where each position's rows live: block table lookups once per block.
  for (int64_t p0 = 0, blk = 0; p0 < ctx; p0 += B, ++blk) {
    const int64_t base = (static_cast<int64_t>(table[blk]) * G + g) * B * hd;
    for (int64_t p = p0; p < std::min(ctx, p0 + B); ++p) {
      krow[p] = static_cast<const float*>(kv.k) + base + (p - p0) * hd;
      vrow[p] = static_cast<const float*>(kv.v) + base + (p - p0) * hd;
    }
  }
  const float* qh[kMaxHeadsPerRun];
  float* oh[kMaxHeadsPerRun];
  for (int h = 0; h < nh; ++h) {
    qh[h] = q + (t * n_heads + h0 + h) * hd;
    oh[h] = out + (t * n_heads + h0 + h) * hd;
  }
  const bool vec = hd % 8 == 0;
  if (vec) {
    ScoresAvx2(qh, nh, krow.data(), ctx, hd, scale, scores.data());
  } else {
    for (int64_t p = 0; p < ctx; ++p) {
      for (int h = 0; h < nh; ++h) scores[h * ctx + p] = Dot(qh[h], krow[p], hd) * scale;
    }
  }
  for (int h = 0; h < nh; ++h) Softmax(scores.data() + h * ctx, ctx);
  if (vec) {
    WeightedValuesAvx2(scores.data(), nh, vrow.data(), ctx, hd, oh);
    return;
  }
  for (int h = 0; h < nh; ++h) {
    std::fill(oh[h], oh[h] + hd, 0.0f);
    for (int64_t p = 0; p < ctx; ++p) {
      const float w = scores[h * ctx + p];
      for (int64_t d = 0; d < hd; ++d) oh[h][d] += w * vrow[p][d];
    }
  }
}

}  // namespace

void PagedAttention(const float* q, const KvLayer& kv, const AttentionBatch& batch,
                    const int32_t* head_group, int n_heads, float scale, float* out,
                    ThreadPool* pool) {
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
      AttendGroup(q, kv, batch, t, h0, h1, head_group[h0], n_heads, scale, out);
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

}  // namespace gs::kernels
