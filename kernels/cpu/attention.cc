#include "kernels/attention.h"

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

// One token's heads [h0, h1), all reading group g: each key and value row is
// loaded once for the whole run of heads.
void AttendGroup(const float* q, const KvLayerView& kv, const AttentionBatch& batch, int64_t t,
                 int h0, int h1, int g, int n_heads, float scale, float* out) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  const int64_t ctx = batch.positions[t] + 1;
  const int32_t* table =
      batch.block_tables + static_cast<int64_t>(batch.token_seq[t]) * batch.max_blocks;
  const int nh = h1 - h0;
  // Per-thread scratch that only grows: no allocation once warm.
  thread_local std::vector<float> scores, acc;
  if (static_cast<int64_t>(scores.size()) < nh * ctx) scores.resize(nh * ctx);
  if (static_cast<int64_t>(acc.size()) < nh * hd) acc.resize(nh * hd);
  for (int64_t p = 0; p < ctx; ++p) {
    const float* krow = kv.k + ((static_cast<int64_t>(table[p / B]) * G + g) * B + p % B) * hd;
    for (int h = 0; h < nh; ++h) {
      scores[h * ctx + p] = Dot(q + (t * n_heads + h0 + h) * hd, krow, hd) * scale;
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
  std::fill(acc.begin(), acc.begin() + nh * hd, 0.0f);
  for (int64_t p = 0; p < ctx; ++p) {
    const float* vrow = kv.v + ((static_cast<int64_t>(table[p / B]) * G + g) * B + p % B) * hd;
    for (int h = 0; h < nh; ++h) {
      const float w = scores[h * ctx + p];
      float* a = acc.data() + h * hd;
      for (int64_t d = 0; d < hd; ++d) a[d] += w * vrow[d];
    }
  }
  for (int h = 0; h < nh; ++h) {
    std::memcpy(out + (t * n_heads + h0 + h) * hd, acc.data() + h * hd, sizeof(float) * hd);
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
      while (h1 < n_heads && i + (h1 - h0) < i1 && head_group[h1] == head_group[h0]) ++h1;
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
