#include "core/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cmath>
#include <limits>
#include <string>

#include "kernels/check.h"
#include "kernels/logit_math.h"

namespace gs {
namespace {

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
  const float* x = logits;
  if (params_.repetition_penalty != 1.0f) {
    work_.assign(logits, logits + vocab);
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
    x = work_.data();
  }
  int32_t chosen;
  if (params_.temperature < SamplingParams::kGreedyBelowTemperature || params_.top_k == 1) {
    chosen = static_cast<int32_t>(kernels::ArgMax(x, vocab));
  } else {
    chosen = SampleTempered(x, vocab, history.size());
  }
  if (logprob) {
    const float mx = kernels::MaxOf(logits, vocab);
    const double sum = kernels::SumExp(logits, vocab, mx, 1.0f, nullptr);
    *logprob = logits[chosen] - (mx + static_cast<float>(std::log(sum)));
  }
  return chosen;
}

int32_t Sampler::SampleTempered(const float* x, int vocab, uint64_t position) {
  // Scaled after taking the max away: every value is <= 0, the largest is
  // 0, so 1/t can stretch them only towards -inf (exp of which is 0),
  // never to +inf or NaN.
  const float top = kernels::MaxOf(x, vocab);
  const float inv_t = 1.0f / params_.temperature;
  work_.resize(vocab);  // x may be work_ itself: each element is read, then written
  float* w = work_.data();
  for (int i = 0; i < vocab; ++i) w[i] = (x[i] - top) * inv_t;
  // e_i = exp(w_i); the distribution is e_i / total.
  exps_.resize(vocab);
  const double total = kernels::SumExp(w, vocab, 0.0f, 1.0f, exps_.data());
  const float* e = exps_.data();
  const double u = PositionUniform(params_.seed, position);

  const bool truncate = (params_.top_k > 0 && params_.top_k < vocab) ||
                        params_.top_p < 1.0f || params_.min_p > 0.0f;
  if (!truncate) {
    // The whole vocabulary, in id order.
    const double target = u * total;
    double cum = 0;
    int32_t last = 0;
    for (int i = 0; i < vocab; ++i) {
      if (e[i] == 0.0f) continue;
      last = i;
      cum += e[i];
      if (target < cum) return i;
    }
    return last;  // rounding left the target at the very end
  }

  // Candidates: the ids whose scaled logit is at least `cut`, best first.
  // They are a prefix of the whole vocabulary in that order, so the cut is
  // lowered until the prefix holds what the truncation needs: top-k's k
  // ids, top-p's mass, or every id min-p can keep (e^w >= min_p). Only the
  // prefix is sorted; with a peaked distribution it is a few dozen ids.
  order_.resize(vocab);
  auto by_logit = [w](int32_t a, int32_t b) { return w[a] > w[b] || (w[a] == w[b] && a < b); };
  const bool top_k = params_.top_k > 0 && params_.top_k < vocab;
  const float min_p_cut = params_.min_p > 0.0f ? std::log(params_.min_p) - 1.0f : 0.0f;
  int m = vocab;
  for (float cut = -2.0f; cut >= -256.0f; cut *= 2.0f) {
    m = static_cast<int>(kernels::IndicesAtLeast(w, vocab, cut, order_.data()));
    bool enough;
    if (top_k) {
      enough = m >= params_.top_k;
    } else if (params_.top_p < 1.0f) {
      double mass = 0;
      for (int i = 0; i < m; ++i) mass += e[order_[i]];
      enough = mass / total >= params_.top_p;
    } else {
      enough = cut <= min_p_cut;
    }
    if (enough) break;
    m = vocab;
  }
  if (m == vocab) {
    for (int i = 0; i < vocab; ++i) order_[i] = i;
  }
  auto prob = [&](int i) { return e[order_[i]] / total; };  // of the i-th best

  int n = m;          // candidates left, as a prefix of order_
  double kept = 1.0;  // their mass
  if (top_k) {
    n = params_.top_k;
    if (n < m) std::nth_element(order_.begin(), order_.begin() + n, order_.begin() + m, by_logit);
    std::sort(order_.begin(), order_.begin() + n, by_logit);
    kept = 0;
    for (int i = 0; i < n; ++i) kept += prob(i);
  } else {
    std::sort(order_.begin(), order_.begin() + m, by_logit);
  }
  if (params_.top_p < 1.0f) {
    // Smallest prefix (by probability) whose mass, within the top-k
    // survivors, reaches top_p.
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      cum += prob(i) / kept;
      if (cum >= params_.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    const double floor = params_.min_p * prob(0);
    int keep = 1;
    while (keep < n && prob(keep) >= floor) ++keep;
    n = keep;
  }
  double mass = 0;
  for (int i = 0; i < n; ++i) mass += prob(i);
  const double target = u * mass;
  double cum = 0;
  for (int i = 0; i < n; ++i) {
    cum += prob(i);
    if (target < cum) return order_[i];
  }
  return order_[n - 1];
}

}  // namespace gs
