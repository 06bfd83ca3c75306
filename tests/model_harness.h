// Test helpers that run a model directly (no scheduler): one sequence, given
// tokens, logits for every position. Collective under MPI: every rank calls
// the same methods in the same order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/llama_model.h"

namespace gs::testing {

// A golden file written by scripts/make_fixtures.py from transformers.
struct Golden {
  std::vector<int32_t> token_ids;
  int n_vocab = 0;
  std::vector<std::vector<float>> logits;         // per prompt position
  std::vector<int32_t> greedy_ids;                // greedy continuation
  std::vector<std::vector<float>> greedy_logits;  // after feeding greedy_ids[i]
};
Golden LoadGolden(const std::string& path);

// max_i |a_i - b_i| / max_i |b_i|
double MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b);

class SequenceRunner {
 public:
  SequenceRunner(LlamaModel& model, int max_tokens, int block_size = 4);
  // Appends `tokens` to the sequence and returns the logits of every new
  // position (on rank 0; empty vectors elsewhere).
  std::vector<std::vector<float>> Feed(const std::vector<int32_t>& tokens);
  int position() const { return pos_; }

 private:
  LlamaModel& model_;
  std::unique_ptr<KvCache> cache_;
  int block_size_;
  int pos_ = 0;
  std::vector<int32_t> block_table_;
};

}  // namespace gs::testing
