// Collective model start-up: every rank opens the checkpoint, computes the
// shard plan and reads only its own slices; then the ranks agree on whether
// all of them succeeded, so a failure on one rank ends every rank with a
// message instead of leaving the others waiting in a collective.
#pragma once

#include <memory>
#include <string>

#include "core/llama_model.h"
#include "core/weight_source.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"

namespace gs {

struct RankModel {
  std::unique_ptr<WeightSource> source;
  std::unique_ptr<ShardPlan> plan;
  std::unique_ptr<LlamaModel> model;
};

// Collective over `comm`. On failure every rank gets an error: the failing
// rank its own, the others one naming the failing rank(s). Errors that every
// rank sees identically (an impossible tp size) come back as
// InvalidArgument on all ranks.
StatusOr<RankModel> LoadRankModel(const std::string& path, Communicator& comm);

}  // namespace gs
