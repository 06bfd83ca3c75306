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
// `context` x `batch` tokens of cache are shown as well.
std::string FormatPlanText(const PlanReport& r, int64_t context, int64_t batch);
nlohmann::json PlanJson(const PlanReport& r, int64_t context, int64_t batch);

}  // namespace gs
