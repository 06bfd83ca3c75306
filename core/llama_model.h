// The Llama-family decoder (Llama, Mistral, Qwen2) as run by one
// tensor-parallel rank, on any device: the one layer loop, over the
// operations of kernels/device_ops.h. The layers hold only this rank's
// slices (core/rank_tensors.h); combining results across ranks happens
// inside the parallel layers, so this class never calls the communicator.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/kv_cache.h"
#include "core/model_config.h"
#include "core/model_input.h"
#include "core/weight_source.h"
#include "kernels/device_ops.h"
#include "kernels/status.h"
#include "kernels/timed_ops.h"
#include "parallel/parallel_linear.h"
#include "parallel/shard_plan.h"

namespace gs {

// Bytes this rank keeps resident, by part.
struct WeightBytes {
  int64_t layers = 0;     // attention + MLP matrices, norms, biases of all layers
  int64_t embedding = 0;  // 0 when tied: the LM head's table, counted there
  int64_t lm_head = 0;    // read every step, unlike the embedding
  int64_t final_norm = 0;
  int64_t total() const { return layers + embedding + lm_head + final_norm; }
};

class LlamaModel {
 public:
  // Reads only this rank's slices from `src` onto `ops`' device (the CPU when
  // null). `comm` combines results across ranks and must take pointers in
  // that device's memory (MPI for the CPU, NCCL for GPUs); it must outlive
  // the model.
  static StatusOr<std::unique_ptr<LlamaModel>> Load(
      const WeightSource& src, const ShardPlan& plan, Communicator& comm,
      std::unique_ptr<kernels::DeviceOps> ops = nullptr);
  // Random weights from a hash of `seed`, norms of ones, biases of zeros
  // (benchmarks; no files). On the CPU when `ops` is null.
  static std::unique_ptr<LlamaModel> Random(const ModelConfig& config, const ShardPlan& plan,
                                            Communicator& comm,
                                            std::unique_ptr<kernels::DeviceOps> ops,
                                            uint64_t seed);

  // Runs every layer for `in`, appending K/V to `cache`. On rank 0 writes
  // logits [in.logit_rows.size(), vocab] to host `logits`; other ranks ignore
  // it. Upload, then Run, then FetchLogits.
  void Forward(const ModelInput& in, KvCache& cache, float* logits);

  // The parts of Forward, for callers that record Run (a CUDA graph): Upload
  // copies the step to the device (fixed addresses while its sizes do not
  // change); Run only enqueues work and makes no collective call other than
  // the all-reduces; `max_context` bounds positions + 1 for every replay.
  // FetchLogits gathers the logits to rank 0's host memory.
  void Upload(const ModelInput& in);
  void Run(KvCache& cache, int max_context);
  void FetchLogits(float* logits);

  const ModelConfig& config() const { return config_; }
  const RankShard& shard() const { return shard_; }
  const WeightBytes& weight_bytes() const { return bytes_; }
  // Bytes of activation scratch a step of `n_tokens` tokens and `n_logits`
  // logit rows needs on the rank holding `shard`, with products fed in
  // `matmul_input` (DeviceOps::matmul_input_dtype): what Forward allocates
  // for its largest step. Scratch only grows, so this bounds it for any mix
  // of smaller steps.
  static int64_t ScratchBytes(const ModelConfig& c, const RankShard& shard, DType matmul_input,
                              int64_t n_tokens, int64_t n_logits);
  // Bytes of activation scratch allocated now.
  int64_t scratch_bytes() const;
  kernels::DeviceOps& ops() const { return *ops_; }
  // Called inside Run for every layer after RoPE, with this rank's
  // q [n, n_local_heads, head_dim] and k [n, n_local_groups, head_dim] in
  // the device's memory (for tools that look inside attention).
  using LayerObserver = std::function<void(int il, const float* q, const float* k, int64_t n)>;
  void set_observer(LayerObserver observer) { observer_ = std::move(observer); }

  // CPU settings (kernels::DeviceOps::SetThreads / SetActivations); other
  // devices ignore them. Between Forward calls only.
  void SetThreads(int n_threads) { ops_->SetThreads(n_threads); }
  int threads() const { return ops_->threads(); }
  ThreadPool* thread_pool() const { return ops_->thread_pool(); }
  void set_activations(kernels::Activations a) { ops_->SetActivations(a); }
  kernels::Activations activations() const { return ops_->activations(); }

  // The dtype of the KV caches MakeKvCache makes from now on
  // (kernels::DeviceOps::SetKvDType), or InvalidArgument when the device does
  // not store it or the model's head_dim does not fit it (q8_0 needs a
  // multiple of 32).
  Status SetKvDType(DType t);
  DType kv_dtype() const { return ops_->kv_dtype(); }

  // A zeroed KV cache shaped for this rank's groups, on the model's device.
  std::unique_ptr<KvCache> MakeKvCache(int n_blocks, int block_size) const;

  // From now on Upload, Run and FetchLogits time their device operations
  // (kernels::TimedOps): compute_seconds() is the wall time spent inside
  // them, disjoint from the collectives the parallel layers make between
  // operations. Between Forward calls only.
  void MeasureCompute();
  double compute_seconds() const { return timed_ ? timed_->seconds() : 0.0; }
  // compute_seconds() by kind of call (kernels::TimedOps::kinds), with the
  // products split by the weights they read: "matmul_qkv", "matmul_o",
  // "matmul_gate_up", "matmul_down", "matmul_lm_head". Empty before
  // MeasureCompute.
  std::vector<kernels::TimedOps::KindTotals> compute_by_kind() const {
    return timed_ ? timed_->kinds() : std::vector<kernels::TimedOps::KindTotals>{};
  }

 private:
  struct Layer {
    std::unique_ptr<kernels::DeviceMemory> attn_norm, mlp_norm;  // fp32 [hidden]
    ColumnParallelLinear q, k, v, gate, up;
    RowParallelLinear o, down;
  };
  // Weights come from `read` (the checkpoint, or random), one RankTensor at a time.
  LlamaModel(const ModelConfig& config, const ShardPlan& plan, Communicator& comm,
             std::unique_ptr<kernels::DeviceOps> ops);
  template <typename ReadMatrix, typename ReadVector>
  Status Build(const ShardPlan& plan, ReadMatrix read_matrix, ReadVector read_vector);
  void EnsureScratch(int64_t n_tokens, int64_t n_logits);
  std::unique_ptr<kernels::DeviceMemory> ToDevice(const std::vector<float>& v);
  // The operations a step runs on: ops_, timed after MeasureCompute.
  kernels::DeviceOps& step_ops() { return timed_ ? *timed_ : *ops_; }

  ModelConfig config_;
  RankShard shard_;
  Communicator& comm_;
  std::unique_ptr<kernels::DeviceOps> ops_;
  std::unique_ptr<kernels::TimedOps> timed_;  // over ops_, after MeasureCompute
  std::unique_ptr<kernels::DeviceMemory> inv_freq_;  // fp32 [head_dim / 2]
  std::vector<Layer> layers_;
  VocabParallelEmbedding embed_;
  std::unique_ptr<kernels::DeviceMemory> final_norm_;
  ParallelLmHead lm_head_;
  WeightBytes bytes_;
  LayerObserver observer_;

  // The uploaded step.
  int64_t n_tokens_ = 0;
  std::vector<int32_t> logit_rows_;
  bool logits_are_all_rows_ = false;

  // Scratch on the device, grown on demand and reused across steps.
  struct Scratch {
    std::unique_ptr<kernels::DeviceMemory> mem;
    void* Get(kernels::DeviceOps& ops, size_t bytes);
  };
  Scratch x_, h_, q_, k_, v_, attn_, gate_, up_, act_, hl_, logits_, sum_;
  // Pointers to the scratch buffers above (const for a const model), in the
  // order of ScratchSizes (llama_model.cc): the one list of them.
  template <typename Model>
  static auto ScratchBuffers(Model& m);
};

}  // namespace gs
