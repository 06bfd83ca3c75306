#include "core/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cmath>
#include <limits>
#include <string>

#include "kernels/check.h"

namespace gs {
namespace {

float LogSumExp(const float* x, int n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i] - mx));
  return mx + static_cast<float>(std::log(sum));
}

// Shortest round-trip text: 1e-40 prints as 1e-40, not 0.000000.
std::string Num(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", static_cast<double>(v));
  return buf;
}

// SplitMix64's output function: a bijection of 64-bit words whose outputs
// for consecutive inputs pass statistical test batteries.
uint64_t Mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

double PositionUniform(uint64_t seed, uint64_t position) {
  // 53 random bits -> [0, 1).
  return static_cast<double>(Mix(Mix(seed) ^ position) >> 11) * (1.0 / 9007199254740992.0);
}

Status SamplingParams::Validate() const {
  if (!(temperature >= 0) || std::isinf(temperature)) {
    return Status::InvalidArgument("temperature must be a finite number >= 0, got " +
                                   Num(temperature));
  }
  if (top_k < 0) return Status::InvalidArgument("top_k must be >= 0, got " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1)) {
    return Status::InvalidArgument("top_p must be in (0, 1], got " + Num(top_p));
  }
  if (!(min_p >= 0 && min_p <= 1)) {
    return Status::InvalidArgument("min_p must be in [0, 1], got " + Num(min_p));
  }
  if (!(repetition_penalty >= kMinRepetitionPenalty &&
        repetition_penalty <= kMaxRepetitionPenalty)) {
    return Status::InvalidArgument("repetition_penalty must be in [" +
                                   Num(kMinRepetitionPenalty) + ", " +
                                   Num(kMaxRepetitionPenalty) + "], got " +
                                   Num(repetition_penalty));
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplingParams& p) : params_(p) {
  CHECK(p.Validate().ok()) << p.Validate().message();
}

int32_t Sampler::Sample(const float* logits, int vocab, const std::vector<int32_t>& history,
                        float* logprob) {
  CHECK(vocab > 0) << "empty logits";
  work_.assign(logits, logits + vocab);
  if (params_.repetition_penalty != 1.0f) {
    // CTRL rule, once per distinct token: shrink towards "less likely".
    std::vector<bool> seen(vocab, false);
    for (int32_t id : history) {
      if (id < 0 || id >= vocab || seen[id]) continue;
      seen[id] = true;
      float& l = work_[id];
      const double penalised = l > 0 ? static_cast<double>(l) / params_.repetition_penalty
                                     : static_cast<double>(l) * params_.repetition_penalty;
      // Finite logits stay finite, whatever their size.
      l = static_cast<float>(std::clamp(penalised, -static_cast<double>(FLT_MAX),
                                        static_cast<double>(FLT_MAX)));
    }
  }
  int32_t chosen;
  if (params_.temperature < SamplingParams::kGreedyBelowTemperature || params_.top_k == 1) {
    chosen = static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());
  } else {
    // Scaled after taking the max away: every value is <= 0, the largest is
    // 0, so 1/t can stretch them only towards -inf (exp of which is 0),
    // never to +inf or NaN.
    const float top = *std::max_element(work_.begin(), work_.end());
    const float inv_t = 1.0f / params_.temperature;
    for (float& l : work_) l = (l - top) * inv_t;
    order_.resize(vocab);
    for (int i = 0; i < vocab; ++i) order_[i] = i;
    auto by_logit = [&](int32_t a, int32_t b) {
      return work_[a] > work_[b] || (work_[a] == work_[b] && a < b);
    };
    int n = vocab;
    if (params_.top_k > 0 && params_.top_k < vocab) {
      std::partial_sort(order_.begin(), order_.begin() + params_.top_k, order_.end(), by_logit);
      n = params_.top_k;
    } else if (params_.top_p < 1.0f || params_.min_p > 0.0f) {
      std::sort(order_.begin(), order_.end(), by_logit);
    }
    // Softmax over the n candidates (relative to the full distribution's
    // normaliser so that top-p measures true mass).
    float mx = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < vocab; ++i) mx = std::max(mx, work_[i]);
    double total = 0;
    for (int i = 0; i < vocab; ++i) total += std::exp(static_cast<double>(work_[i] - mx));
    probs_.resize(n);
    double kept = 0;
    for (int i = 0; i < n; ++i) {
      probs_[i] = static_cast<float>(std::exp(static_cast<double>(work_[order_[i]] - mx)) / total);
      kept += probs_[i];
    }
    if (params_.top_p < 1.0f) {
      // Smallest prefix (by probability) whose mass, within the top-k
      // survivors, reaches top_p.
      double cum = 0;
      int keep = n;
      for (int i = 0; i < n; ++i) {
        cum += probs_[i] / kept;
        if (cum >= params_.top_p) {
          keep = i + 1;
          break;
        }
      }
      n = keep;
    }
    if (params_.min_p > 0.0f) {
      const float floor = params_.min_p * probs_[0];
      int keep = 1;
      while (keep < n && probs_[keep] >= floor) ++keep;
      n = keep;
    }
    double mass = 0;
    for (int i = 0; i < n; ++i) mass += probs_[i];
    double u = PositionUniform(params_.seed, history.size()) * mass;
    chosen = order_[n - 1];
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      cum += probs_[i];
      if (u < cum) {
        chosen = order_[i];
        break;
      }
    }
  }
  if (logprob) *logprob = logits[chosen] - LogSumExp(logits, vocab);
  return chosen;
}

}  // namespace gs
