#include "kernels/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/matmul.h"

namespace gs::kernels {

void KvAppend(const float* k, const float* v, int64_t n_tokens, const int32_t* slots,
              const KvLayerView& kv) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t block = slots[t] / B, off = slots[t] % B;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t dst = ((block * G + g) * B + off) * hd;
      std::memcpy(kv.k + dst, k + (t * G + g) * hd, sizeof(float) * hd);
      std::memcpy(kv.v + dst, v + (t * G + g) * hd, sizeof(float) * hd);
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

// Where a position's key (or value) row for group g lives.
struct RowFinder {
  const int32_t* table;
  int64_t G, B, hd, g;
  int64_t operator()(int64_t p) const {
    return ((static_cast<int64_t>(table[p / B]) * G + g) * B + p % B) * hd;
  }
};

// scores[h * ctx + p] = scale * q_h · k_p for heads [0, nh) and positions
// [0, ctx), head_dim a multiple of 8: eight key rows at a time meet each
// head's query, and their eight dot products are reduced together.
void ScoresAvx2(const float* const* qh, int nh, const float* k, const RowFinder& row, int64_t ctx,
                int64_t hd, float scale, float* scores) {
  const __m256 sv = _mm256_set1_ps(scale);
  for (int64_t p0 = 0; p0 < ctx; p0 += 8) {
    const int np = static_cast<int>(std::min<int64_t>(8, ctx - p0));
    const float* kr[8];
    for (int i = 0; i < 8; ++i) kr[i] = k + row(p0 + std::min(i, np - 1));
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

// out_h = sum_p w[h * ctx + p] * v_p for heads [0, nh), head_dim a multiple of
// 8 and at most 256.
void WeightedValuesAvx2(const float* w, int nh, const float* v, const RowFinder& row, int64_t ctx,
                        int64_t hd, float* const* out) {
  const int64_t nv = hd / 8;
  for (int h = 0; h < nh; ++h) {
    __m256 acc[32];
    for (int64_t j = 0; j < nv; ++j) acc[j] = _mm256_setzero_ps();
    const float* wh = w + h * ctx;
    for (int64_t p = 0; p < ctx; ++p) {
      const __m256 wp = _mm256_set1_ps(wh[p]);
      const float* vr = v + row(p);
      for (int64_t j = 0; j < nv; ++j) acc[j] = _mm256_fmadd_ps(wp, _mm256_loadu_ps(vr + 8 * j), acc[j]);
    }
    for (int64_t j = 0; j < nv; ++j) _mm256_storeu_ps(out[h] + 8 * j, acc[j]);
  }
}

// One token's heads [h0, h1), all reading group g: each key and value row is
// loaded once for the whole run of heads.
void AttendGroup(const float* q, const KvLayerView& kv, const AttentionBatch& batch, int64_t t,
                 int h0, int h1, int g, int n_heads, float scale, float* out) {
  const int64_t hd = kv.head_dim;
  const int64_t ctx = batch.positions[t] + 1;
  const RowFinder row{
      batch.block_tables + static_cast<int64_t>(batch.token_seq[t]) * batch.max_blocks,
      kv.n_groups, kv.block_size, hd, g};
  const int nh = h1 - h0;
  // Per-thread scratch that only grows: no allocation once warm.
  thread_local std::vector<float> scores;
  if (static_cast<int64_t>(scores.size()) < nh * ctx) scores.resize(nh * ctx);
  const float* qh[kMaxHeadsPerRun];
  float* oh[kMaxHeadsPerRun];
  for (int h = 0; h < nh; ++h) {
    qh[h] = q + (t * n_heads + h0 + h) * hd;
    oh[h] = out + (t * n_heads + h0 + h) * hd;
  }
  const bool vec = hd % 8 == 0 && hd <= 256;
  if (vec) {
    ScoresAvx2(qh, nh, kv.k, row, ctx, hd, scale, scores.data());
  } else {
    for (int64_t p = 0; p < ctx; ++p) {
      const float* krow = kv.k + row(p);
      for (int h = 0; h < nh; ++h) scores[h * ctx + p] = Dot(qh[h], krow, hd) * scale;
    }
  }
  for (int h = 0; h < nh; ++h) {
    float* s = scores.data() + h * ctx;
    const float mx = *std::max_element(s, s + ctx);
    double sum = 0;
    for (int64_t p = 0; p < ctx; ++p) {
      s[p] = std::exp(s[p] - mx);
      sum += s[p];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t p = 0; p < ctx; ++p) s[p] *= inv;
  }
  if (vec) {
    WeightedValuesAvx2(scores.data(), nh, kv.v, row, ctx, hd, oh);
    return;
  }
  for (int h = 0; h < nh; ++h) {
    std::fill(oh[h], oh[h] + hd, 0.0f);
    for (int64_t p = 0; p < ctx; ++p) {
      const float w = scores[h * ctx + p];
      const float* vrow = kv.v + row(p);
      for (int64_t d = 0; d < hd; ++d) oh[h][d] += w * vrow[d];
    }
  }
}

}  // namespace

void PagedAttention(const float* q, const KvLayerView& kv, const AttentionBatch& batch,
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
