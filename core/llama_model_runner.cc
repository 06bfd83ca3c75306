#include "core/llama_model_runner.h"

#include "kernels/check.h"

namespace gs {

void LlamaModelRunner::AllocateKvCache(int n_blocks, int block_size) {
  CHECK(cache_ == nullptr) << "AllocateKvCache called twice";
  cache_ = model_.MakeKvCache(n_blocks, block_size);
}

void LlamaModelRunner::Forward(const ModelInput& in, float* logits) {
  CHECK(cache_ != nullptr) << "AllocateKvCache before Forward";
  model_.Forward(in, *cache_, logits);
}

}  // namespace gs
