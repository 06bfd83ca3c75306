// The ModelRunner over a LlamaModel on whatever device its ops run, with the
// KV cache it makes there.
#pragma once

#include <memory>
#include <string>

#include "core/kv_cache.h"
#include "core/llama_model.h"
#include "core/model_runner.h"

namespace gs {

class LlamaModelRunner : public ModelRunner {
 public:
  // `model` is borrowed and must outlive the runner.
  explicit LlamaModelRunner(LlamaModel& model) : model_(model) {}

  void AllocateKvCache(int n_blocks, int block_size) override;
  void Forward(const ModelInput& in, float* logits) override;
  const ModelConfig& config() const override { return model_.config(); }
  const RankShard& shard() const override { return model_.shard(); }
  int kv_blocks() const override { return cache_ ? cache_->n_blocks() : 0; }
  int kv_block_size() const override { return cache_ ? cache_->block_size() : 0; }
  DType kv_dtype() const override { return model_.ops().kv_dtype(); }
  int64_t weight_bytes() const override { return model_.weight_bytes().total(); }
  std::string device_name() const override { return model_.ops().name(); }

  LlamaModel& model() { return model_; }

 private:
  LlamaModel& model_;
  std::unique_ptr<KvCache> cache_;
};

}  // namespace gs
