#include "core/sequence_forward.h"

#include "kernels/check.h"
#include "core/llama_model_runner.h"

namespace gs {

SequenceForward::SequenceForward(LlamaModel& model, int max_tokens, int block_size)
    : own_runner_(std::make_unique<LlamaModelRunner>(model)),
      runner_(*own_runner_),
      max_tokens_(max_tokens),
      block_size_(block_size) {
  CHECK(max_tokens > 0 && block_size > 0) << max_tokens << " " << block_size;
  runner_.AllocateKvCache((max_tokens + block_size - 1) / block_size, block_size);
}

SequenceForward::SequenceForward(ModelRunner& runner, int max_tokens, int block_size)
    : runner_(runner), max_tokens_(max_tokens), block_size_(block_size) {
  CHECK(max_tokens > 0 && block_size > 0) << max_tokens << " " << block_size;
  runner_.AllocateKvCache((max_tokens + block_size - 1) / block_size, block_size);
}

void SequenceForward::Run(const std::vector<int32_t>& tokens,
                          const std::vector<int32_t>& logit_rows, float* logits) {
  const int n = static_cast<int>(tokens.size());
  CHECK(n > 0 && n <= max_tokens_) << n << " tokens, room for " << max_tokens_;
  ModelInput in;
  in.max_blocks = runner_.kv_blocks();
  for (int b = 0; b < in.max_blocks; ++b) in.block_tables.push_back(b);
  in.tokens = tokens;
  for (int p = 0; p < n; ++p) {
    in.positions.push_back(p);
    in.slots.push_back(p);  // block b holds positions [b*B, (b+1)*B): slot = position
    in.token_seq.push_back(0);
  }
  in.logit_rows = logit_rows;
  const size_t want = logit_rows.size() * static_cast<size_t>(runner_.config().vocab_size);
  if (logits == nullptr) {
    discard_.resize(want);
    logits = discard_.data();
  }
  runner_.Forward(in, logits);
}

}  // namespace gs
