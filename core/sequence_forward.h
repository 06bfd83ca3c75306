// Runs one sequence straight through a model, without the scheduler: the
// tools (inspect, perplexity) feed a window of tokens from position 0 into a
// cache of their own. Collective: under tensor parallelism every rank calls
// it with the same arguments.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/llama_model.h"
#include "core/model_runner.h"

namespace gs {

class SequenceForward {
 public:
  // Room for sequences of up to `max_tokens` tokens, on the CPU.
  SequenceForward(LlamaModel& model, int max_tokens, int block_size = 16);
  // The same on any device: allocates `runner`'s KV cache, which must not
  // have one yet. `runner` must outlive this object.
  SequenceForward(ModelRunner& runner, int max_tokens, int block_size = 16);

  // Runs `tokens` at positions 0..n-1, overwriting whatever the cache held.
  // On rank 0 writes the logits of `logit_rows` (indices into tokens) to
  // `logits` [logit_rows.size(), vocab]; other ranks may pass nullptr.
  void Run(const std::vector<int32_t>& tokens, const std::vector<int32_t>& logit_rows,
           float* logits);

  int max_tokens() const { return max_tokens_; }

 private:
  std::unique_ptr<ModelRunner> own_runner_;  // set by the LlamaModel constructor
  ModelRunner& runner_;
  int max_tokens_;
  int block_size_;
  std::vector<float> discard_;  // logits sink for ranks that pass nullptr
};

}  // namespace gs
