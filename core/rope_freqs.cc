#include "core/rope_freqs.h"

#include <cmath>

namespace gs {

std::vector<float> RopeInvFreq(const ModelConfig& c, const std::vector<float>& freq_factors) {
  const int half = c.head_dim / 2;
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i) {
    // float32 arithmetic, as the reference implementation computes it.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
    inv[i] = 1.0f / std::pow(c.rope_theta, exponent);
  }
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeScaling::Type::kLinear) {
    for (float& f : inv) f /= s.factor;
  } else if (s.type == RopeScaling::Type::kLlama3) {
    const float old_ctx = static_cast<float>(s.original_max_position);
    const float low_wavelen = old_ctx / s.low_freq_factor;
    const float high_wavelen = old_ctx / s.high_freq_factor;
    for (float& f : inv) {
      const float wavelen = 2.0f * static_cast<float>(M_PI) / f;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        f = f / s.factor;
      } else {
        const float smooth =
            (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1.0f - smooth) * f / s.factor + smooth * f;
      }
    }
  }
  if (!freq_factors.empty()) {
    for (int i = 0; i < half && i < static_cast<int>(freq_factors.size()); ++i) {
      inv[i] /= freq_factors[i];
    }
  }
  return inv;
}

}  // namespace gs
