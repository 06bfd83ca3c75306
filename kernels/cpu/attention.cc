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
  // Runs of local heads sharing one group: run r covers heads [run[r], run[r+1]).
  thread_local std::vector<int> run;
  run.clear();
  for (int h = 0; h < n_heads; ++h) {
    if (h == 0 || head_group[h] != head_group[h - 1]) run.push_back(h);
  }
  const int64_t n_runs = static_cast<int64_t>(run.size());
  run.push_back(n_heads);
  const int* runs = run.data();
  const int64_t n = batch.n_tokens;
  auto work = [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      // Tokens in the order 0, n-1, 1, n-2, ...: under a causal mask later
      // tokens cost more, and contiguous ranges of this order cost alike.
      const int64_t j = i / n_runs, r = i % n_runs;
      const int64_t t = j % 2 == 0 ? j / 2 : n - 1 - j / 2;
      AttendGroup(q, kv, batch, t, runs[r], runs[r + 1], head_group[runs[r]], n_heads, scale,
                  out);
    }
  };
  const int64_t n_items = batch.n_tokens * n_runs;
  if (pool == nullptr || pool->size() == 1) {
    work(0, n_items, 0);
  } else {
    pool->Run(n_items, 1, work);
  }
}

}  // namespace gs::kernels
