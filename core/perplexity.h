// Perplexity of a model over a token sequence with a sliding window, as the
// Hugging Face perplexity guide computes it: windows of `context` tokens that
// start every `stride` tokens; each window scores only the tokens no earlier
// window scored, conditioning them on the whole window before them.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/llama_model.h"
#include "core/model_runner.h"
#include "kernels/status.h"

namespace gs {

struct PerplexityOptions {
  int context = 512;  // tokens per window
  int stride = 0;     // window start step; 0 means `context` (no overlap)
};

struct PerplexityResult {
  double nll_sum = 0;    // sum of -log p(token | its window before it), nats
  int64_t n_scored = 0;  // tokens scored (every token but the first)
  int n_windows = 0;
  double mean_nll() const { return n_scored == 0 ? 0.0 : nll_sum / n_scored; }
  double perplexity() const;
};

// One window [begin, end) of the token sequence, scoring tokens [score_begin, end).
struct PerplexityWindow {
  int64_t begin = 0, end = 0, score_begin = 0;
};
// The windows the Hugging Face loop visits, for n_tokens tokens.
std::vector<PerplexityWindow> PerplexityWindows(int64_t n_tokens, int context, int stride);

// Called after each window with the windows done, the windows in all, and
// the result so far (meaningful on rank 0).
using PerplexityProgress = std::function<void(int done, int total, const PerplexityResult& so_far)>;

// Collective: every rank of the model's group calls it with the same tokens;
// the result is meaningful on rank 0 only. Errors: fewer than 2 tokens,
// context < 2, context beyond the model's max_position, stride < 1.
StatusOr<PerplexityResult> ComputePerplexity(LlamaModel& model, const std::vector<int32_t>& tokens,
                                             const PerplexityOptions& options,
                                             const PerplexityProgress& progress = nullptr);
// The same on any device. `runner` must have no KV cache yet: this sizes it
// for one window.
StatusOr<PerplexityResult> ComputePerplexity(ModelRunner& runner,
                                             const std::vector<int32_t>& tokens,
                                             const PerplexityOptions& options,
                                             const PerplexityProgress& progress = nullptr);

}  // namespace gs
