#include "core/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/llama_model_runner.h"
#include "core/sequence_forward.h"

namespace gs {

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

std::vector<PerplexityWindow> PerplexityWindows(int64_t n_tokens, int context, int stride) {
  std::vector<PerplexityWindow> out;
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < n_tokens; begin += stride) {
    PerplexityWindow w;
    w.begin = begin;
    w.end = std::min<int64_t>(begin + context, n_tokens);
    // The first token of a window has nothing before it in the window, so
    // it is never scored (the guide's label shift).
    w.score_begin = std::max(prev_end, begin + 1);
    if (w.score_begin < w.end) out.push_back(w);
    prev_end = w.end;
    if (w.end == n_tokens) break;
  }
  return out;
}

StatusOr<PerplexityResult> ComputePerplexity(LlamaModel& model, const std::vector<int32_t>& tokens,
                                             const PerplexityOptions& options,
                                             const PerplexityProgress& progress) {
  LlamaModelRunner runner(model);
  return ComputePerplexity(runner, tokens, options, progress);
}

StatusOr<PerplexityResult> ComputePerplexity(ModelRunner& runner,
                                             const std::vector<int32_t>& tokens,
                                             const PerplexityOptions& options,
                                             const PerplexityProgress& progress) {
  const int stride = options.stride == 0 ? options.context : options.stride;
  if (tokens.size() < 2) {
    return Status::InvalidArgument("perplexity needs at least 2 tokens, got " +
                                   std::to_string(tokens.size()));
  }
  if (options.context < 2) return Status::InvalidArgument("context must be at least 2 tokens");
  if (stride < 1) return Status::InvalidArgument("stride must be at least 1 token");
  const int max_pos = runner.config().max_position;
  if (options.context > max_pos) {
    return Status::InvalidArgument("context " + std::to_string(options.context) +
                                   " exceeds the model's max_position_embeddings " +
                                   std::to_string(max_pos));
  }
  const int V = runner.config().vocab_size;
  for (int32_t t : tokens) {
    if (t < 0 || t >= V) {
      return Status::InvalidArgument("token id " + std::to_string(t) +
                                     " outside the vocabulary of " + std::to_string(V));
    }
  }
  const auto windows =
      PerplexityWindows(static_cast<int64_t>(tokens.size()), options.context, stride);
  const int window_len = static_cast<int>(std::min<int64_t>(options.context, tokens.size()));
  SequenceForward run(runner, window_len);
  const bool leader = runner.shard().tp_rank == 0;
  PerplexityResult res;
  std::vector<float> logits;
  for (const PerplexityWindow& w : windows) {
    std::vector<int32_t> ids(tokens.begin() + w.begin, tokens.begin() + w.end);
    // Token t is predicted by the logits of the token before it.
    std::vector<int32_t> rows;
    for (int64_t t = w.score_begin; t < w.end; ++t)
      rows.push_back(static_cast<int32_t>(t - 1 - w.begin));
    logits.resize(rows.size() * static_cast<size_t>(V));
    run.Run(ids, rows, leader ? logits.data() : nullptr);
    if (leader) {
      for (size_t i = 0; i < rows.size(); ++i) {
        const float* l = &logits[i * V];
        double mx = l[0];
        for (int v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(l[v]));
        double sum = 0;
        for (int v = 0; v < V; ++v) sum += std::exp(l[v] - mx);
        const int32_t target = tokens[w.score_begin + static_cast<int64_t>(i)];
        res.nll_sum += mx + std::log(sum) - l[target];
      }
    }
    res.n_scored += static_cast<int64_t>(rows.size());
    ++res.n_windows;
    if (progress) progress(res.n_windows, static_cast<int>(windows.size()), res);
  }
  return res;
}

}  // namespace gs
