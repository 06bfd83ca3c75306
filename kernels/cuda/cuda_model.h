// The Llama-family decoder run by one tensor-parallel rank on its GPU: BF16
// weights (converted on the device at load), fp32 residual stream, paged BF16
// KV cache holding this rank's KV groups. Slices come from the same ShardPlan
// as the CPU LlamaModel; the all-reduces go through a Communicator that takes
// device pointers (NcclCommunicator, or LocalCommunicator when tp_size == 1).
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "core/model_config.h"
#include "core/model_input.h"
#include "core/status.h"
#include "core/weight_source.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"

namespace gs::kernels::cuda {

class CudaLlamaModel {
 public:
  // Reads this rank's slices from `src` (dequantized to fp32 on the host, one
  // tensor at a time) and converts them to BF16 on the current device. All
  // work is enqueued on `stream`.
  static StatusOr<std::unique_ptr<CudaLlamaModel>> Load(const WeightSource& src,
                                                        const ShardPlan& plan, Communicator& comm,
                                                        cudaStream_t stream);
  // Random weights generated on the device (benchmarks; no files read).
  static std::unique_ptr<CudaLlamaModel> Random(const ShardPlan& plan, Communicator& comm,
                                                cudaStream_t stream, uint64_t seed);

  // Allocates (zeroed) a BF16 cache of n_blocks blocks of block_size tokens.
  void AllocateKvCache(int n_blocks, int block_size);

  // Uploads `in`, runs every layer and, on rank 0, copies logits
  // [in.logit_rows.size(), vocab] into host `logits` (synchronizes the stream).
  // Other ranks leave `logits` untouched.
  void Forward(const ModelInput& in, float* logits);

  // The two halves of Forward, for callers that capture Run in a CUDA graph:
  // Upload copies the step arrays into device buffers whose addresses stay
  // fixed while the shapes (tokens, sequences, max_blocks) do not change;
  // Run only enqueues kernels. `max_context` bounds positions + 1 (it sizes
  // the attention grid, so a captured graph must use a bound for all replays).
  void Upload(const ModelInput& in);
  void Run(int max_context);
  // Rank 0: logits [n_logits, vocab_rows_of_rank0 or vocab] on the device after Run.
  const float* device_logits() const { return logits_.get<float>(); }

  const ModelConfig& config() const { return config_; }
  const RankShard& shard() const { return shard_; }
  // Bytes of weights a decode step streams (all matrices and norms, not the
  // embedding table, of which a step reads only its tokens' rows).
  int64_t streamed_weight_bytes() const { return streamed_bytes_; }
  // K+V bytes per token of context on this rank.
  int64_t kv_bytes_per_token() const;

 private:
  struct Layer {
    DeviceBuffer attn_norm, mlp_norm, q_bias, k_bias, v_bias;  // fp32
    DeviceBuffer wq, wk, wv, wo, wgate, wup, wdown;            // bf16
    DeviceMatrix q, k, v, o, gate, up, down;
  };
  CudaLlamaModel(const ShardPlan& plan, Communicator& comm, cudaStream_t stream);
  void AllocateWeights();
  void EnsureScratch(int64_t n_tokens, int64_t n_logits);
  void LinearOut(const bf16* x, int64_t n, const DeviceMatrix& w, float* x_residual);
  KvLayerDeviceView kv_layer(int il) const;

  ModelConfig config_;
  ShardPlan plan_;
  RankShard shard_;
  Communicator& comm_;
  cudaStream_t stream_;
  Gemm gemm_;
  std::vector<Layer> layers_;
  DeviceBuffer embed_, final_norm_, lm_head_w_, inv_freq_;
  DeviceMatrix lm_head_;
  int64_t streamed_bytes_ = 0;

  DeviceBuffer kv_;
  int kv_blocks_ = 0, kv_block_size_ = 0;

  // The uploaded step: counts, and device views into step_.
  int64_t n_tokens_ = 0, n_logits_ = 0;
  bool decode_only_ = false, logits_are_all_rows_ = false;
  int n_tiles_ = 0;
  std::vector<int32_t> host_rows_;  // logit rows (host copy)
  std::vector<int32_t> staging_;    // packed step arrays
  int32_t *d_tokens_ = nullptr, *d_positions_ = nullptr, *d_slots_ = nullptr,
          *d_token_seq_ = nullptr, *d_tables_ = nullptr, *d_tiles_ = nullptr;
  int32_t max_blocks_ = 0;
  DeviceBuffer step_;

  // Scratch, grown on demand.
  DeviceBuffer x_, h_, hb_, q_, k_, v_, attn_, gate_, up_, mb_, hl_, logits_, gathered_, attn_ws_;
  std::vector<float> host_gathered_;
};

}  // namespace gs::kernels::cuda
