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

void PagedAttention(const float* q, const KvLayerView& kv, const AttentionBatch& batch,
                    const int32_t* head_group, int n_heads, float scale, float* out) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  std::vector<float> scores;
  std::vector<float> acc;
  for (int64_t t = 0; t < batch.n_tokens; ++t) {
    const int64_t ctx = batch.positions[t] + 1;
    const int32_t* table = batch.block_tables + static_cast<int64_t>(batch.token_seq[t]) *
                                                    batch.max_blocks;
    int h0 = 0;
    while (h0 < n_heads) {
      // The run of local heads [h0, h1) that share one group.
      const int g = head_group[h0];
      int h1 = h0 + 1;
      while (h1 < n_heads && head_group[h1] == g) ++h1;
      const int nh = h1 - h0;
      scores.assign(static_cast<size_t>(nh) * ctx, 0.0f);
      // Scores: each key row is loaded once and used by every head of the group.
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
      acc.assign(static_cast<size_t>(nh) * hd, 0.0f);
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
      h0 = h1;
    }
  }
}

}  // namespace gs::kernels
