// The Llama-family decoder (Llama, Mistral, Qwen2) as run by one
// tensor-parallel rank: the layers hold only this rank's slices, cut by the
// shard plan. Combining results across ranks happens inside the parallel
// layers; this class never calls the communicator itself.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/kv_cache.h"
#include "core/model_config.h"
#include "core/model_input.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "core/weight_source.h"
#include "parallel/parallel_linear.h"
#include "parallel/shard_plan.h"

namespace gs {

// Bytes this rank keeps resident, by part.
struct WeightBytes {
  int64_t layers = 0;     // attention + MLP matrices, norms, biases of all layers
  int64_t embedding = 0;
  int64_t lm_head = 0;    // counted even when tied (a separate sliced copy is kept)
  int64_t final_norm = 0;
  int64_t total() const { return layers + embedding + lm_head + final_norm; }
};

class LlamaModel {
 public:
  // Reads only this rank's slices from `src`.
  static StatusOr<std::unique_ptr<LlamaModel>> Load(const WeightSource& src,
                                                    const ShardPlan& plan, Communicator& comm);

  // Runs every layer for `in`, appending K/V to `cache`. On rank 0 writes
  // logits [in.logit_rows.size(), vocab] to `logits`; other ranks ignore it.
  void Forward(const ModelInput& in, KvCache& cache, float* logits);

  const ModelConfig& config() const { return config_; }
  const RankShard& shard() const { return shard_; }
  const WeightBytes& weight_bytes() const { return bytes_; }
  // Called inside Forward for every layer after RoPE, with this rank's
  // q [n, n_local_heads, head_dim] and k [n, n_local_groups, head_dim]
  // (for tools that look inside attention; null by default).
  using LayerObserver = std::function<void(int il, const float* q, const float* k, int64_t n)>;
  void set_observer(LayerObserver observer) { observer_ = std::move(observer); }

  // Runs this rank's kernels on `n_threads` threads (the caller counts as
  // one; 1, the default, means no pool). Call between Forward calls only.
  void SetThreads(int n_threads);
  int threads() const { return pool_ ? pool_->size() : 1; }
  ThreadPool* thread_pool() const { return pool_.get(); }  // null when single-threaded

  // How quantized weights meet activations (kernels::Activations; int8 by
  // default). Call between Forward calls only.
  void set_activations(kernels::Activations a) { act_ = a; }
  kernels::Activations activations() const { return act_; }

  // A KV cache shaped for this rank's groups.
  std::unique_ptr<KvCache> MakeKvCache(int n_blocks, int block_size) const;

 private:
  struct Layer {
    std::vector<float> attn_norm, mlp_norm;
    ColumnParallelLinear q, k, v, gate, up;
    RowParallelLinear o, down;
  };
  LlamaModel() = default;
  void EnsureScratch(int64_t n_tokens, int64_t n_logits);

  ModelConfig config_;
  RankShard shard_;
  std::vector<int32_t> head_group_;  // local head → local group
  std::vector<float> inv_freq_;
  std::vector<Layer> layers_;
  std::unique_ptr<VocabParallelEmbedding> embed_;
  std::vector<float> final_norm_;
  std::unique_ptr<ParallelLmHead> lm_head_;
  WeightBytes bytes_;
  LayerObserver observer_;
  std::unique_ptr<ThreadPool> pool_;  // null when single-threaded
  kernels::Activations act_ = kernels::Activations::kInt8;

  // Scratch, grown on demand and reused across steps.
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, hl_;
};

}  // namespace gs
