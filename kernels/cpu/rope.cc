#include "kernels/rope.h"

#include <cmath>
#include <vector>

namespace gs::kernels {

void RopeApply(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions,
               const float* inv_freq) {
  const int half = head_dim / 2;
  // Per thread, grown once: no allocation per step.
  thread_local std::vector<float> cs, sn;
  if (static_cast<int>(cs.size()) < half) {
    cs.resize(half);
    sn.resize(half);
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float pos = static_cast<float>(positions[t]);
    for (int i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[i];
      cs[i] = std::cos(angle);
      sn[i] = std::sin(angle);
    }
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cs[i] - b * sn[i];
        v[i + half] = b * cs[i] + a * sn[i];
      }
    }
  }
}

}  // namespace gs::kernels
