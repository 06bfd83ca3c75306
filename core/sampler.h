// Picks the next token from a row of logits: repetition penalty, then
// temperature, top-k, top-p and min-p (Hugging Face's order), seeded.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/status.h"

namespace gs {

struct SamplingParams {
  // Below this, sampling is greedy (the argmax): at 1e-5 a logit gap of
  // 0.001 is already a factor of e^100, and 1/t overflows float from 3e-39.
  static constexpr float kGreedyBelowTemperature = 1e-5f;
  // The range repetition_penalty is accepted in (dividing a logit by less
  // than 0.01 is no longer a penalty but a different distribution).
  static constexpr float kMinRepetitionPenalty = 0.01f;
  static constexpr float kMaxRepetitionPenalty = 100.0f;

  float temperature = 1.0f;         // finite, >= 0; below kGreedyBelowTemperature -> greedy
  int top_k = 0;                    // 0 -> off
  float top_p = 1.0f;               // in (0, 1]
  float min_p = 0.0f;               // in [0, 1]
  float repetition_penalty = 1.0f;  // > 1 penalises tokens in prompt + output
  uint64_t seed = 0;
  Status Validate() const;  // errors name the field (and reject NaN and infinities)
};

// A uniform number in [0, 1) that depends only on (seed, position).
double PositionUniform(uint64_t seed, uint64_t position);

// Not thread-safe: one per sequence (it owns scratch buffers). The random
// number behind each sampled token is a function of (seed, position) only,
// the position being the token's index in the sequence (history.size()):
// a sequence resumed elsewhere from its prompt and the tokens it already
// produced continues exactly as it would have, whatever was sampled before.
class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);  // p must pass Validate() (CHECKed)
  // logits: [vocab], not modified. history: prompt + generated ids (its
  // size is the position of the token being sampled). Sets
  // *logprob (if not null) to the token's log-probability under the raw
  // logits (log_softmax, before any penalty or truncation).
  int32_t Sample(const float* logits, int vocab, const std::vector<int32_t>& history,
                 float* logprob);

 private:
  // Temperature, then top-k / top-p / min-p, then a draw at `position`.
  int32_t SampleTempered(const float* x, int vocab, uint64_t position);

  SamplingParams params_;
  std::vector<float> work_;     // [vocab] adjusted logits
  std::vector<float> exps_;     // [vocab] e^(scaled logit - max)
  std::vector<int32_t> order_;  // candidate ids, best first once sorted
};

}  // namespace gs
