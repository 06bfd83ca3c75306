// What each rank of a plan holds, in bytes: the figures `groupshard plan`
// prints. Computed from the checkpoint's tensor directory and the shard plan
// with the same slices LlamaModel::Load reads, so the engine's real
// allocation equals this report.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/llama_model.h"
#include "core/weight_source.h"
#include "parallel/shard_plan.h"

namespace gs {

struct RankReport {
  RankShard shard;
  WeightBytes weights;
  int64_t kv_bytes_per_token = 0;
};

struct PlanReport {
  ModelConfig config;
  int tp_size = 1;
  int kv_replication = 1;
  // The dtype the KV figures assume (every rank's kv_bytes_per_token is in it).
  DType kv_dtype = DType::kF32;
  std::vector<RankReport> ranks;

  // K and V bytes per token for the whole model on one device
  // (2·L·G·RowBytes(kv_dtype, hd)).
  int64_t kv_bytes_per_token() const;
  // The same for multi-head attention with N key/value heads.
  int64_t mha_kv_bytes_per_token() const;
  int64_t total_weight_bytes() const;
};

// The KV figures are for a cache of `kv_dtype`.
StatusOr<PlanReport> MakePlanReport(const WeightSource& src, int tp_size,
                                    DType kv_dtype = DType::kF32);
// What a memory budget per rank leaves for the KV cache (`plan
// --memory-per-rank`, `serve --memory-per-rank`): each rank's budget less its
// weights and the activation scratch of the largest step (on rank 0 also the
// host buffer the step's logits are sampled from). Every rank's cache has
// the same block ids, so the rank with the least room sets the block count.
// For the CPU: weights in the dtypes the CPU keeps them in, fp32 products.
struct KvBudget {
  int64_t memory_per_rank = 0;  // bytes
  int block_size = 16;          // tokens per block
  int max_batch_tokens = 256;   // tokens of the largest step
  int max_logit_rows = 64;      // logit rows of the largest step
};

struct RankCapacity {
  int64_t scratch_bytes = 0;    // activations of the largest step (+ rank 0's logits)
  int64_t kv_budget_bytes = 0;  // memory - weights - scratch; negative: does not fit
  int64_t block_bytes = 0;      // K+V bytes of one block on this rank
  int64_t blocks = 0;           // blocks this rank's budget holds (0 if none)
};

struct KvCapacity {
  KvBudget budget;
  std::vector<RankCapacity> ranks;
  int n_blocks = 0;       // on every rank: the least any rank holds
  int limiting_rank = 0;  // the rank that sets n_blocks
  int64_t tokens() const { return static_cast<int64_t>(n_blocks) * budget.block_size; }
  // Sequences of `context` tokens that fit at once (whole blocks each).
  int64_t sequences(int64_t context) const;
  // KV-cache bytes rank r allocates: n_blocks of its block_bytes.
  int64_t kv_bytes(int r) const { return n_blocks * ranks[r].block_bytes; }
};

KvCapacity PlanKvCapacity(const PlanReport& r, const KvBudget& budget);

// `context` x `batch` tokens of cache are shown as well, and what fits in
// `capacity` when given.
std::string FormatPlanText(const PlanReport& r, int64_t context, int64_t batch,
                           const KvCapacity* capacity = nullptr);
nlohmann::json PlanJson(const PlanReport& r, int64_t context, int64_t batch,
                        const KvCapacity* capacity = nullptr);

}  // namespace gs
