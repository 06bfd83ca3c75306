// Collective model start-up: every rank opens the checkpoint, computes the
// shard plan and reads only its own slices, onto the CPU or its GPU; then the
// ranks agree on whether all of them succeeded, so a failure on one rank ends
// every rank with a message instead of leaving the others waiting in a
// collective.
#pragma once

#include <memory>
#include <string>

#include "core/llama_model.h"
#include "core/model_runner.h"
#include "core/weight_source.h"
#include "parallel/communicator.h"
#include "parallel/device.h"
#include "parallel/shard_plan.h"

namespace gs {

class CudaContext;

struct RankModel {
  RankModel();
  RankModel(RankModel&&) noexcept;
  RankModel& operator=(RankModel&&) noexcept;
  ~RankModel();

  std::unique_ptr<WeightSource> source;
  std::unique_ptr<ShardPlan> plan;
  Device device = Device::kCpu;
  // On Device::kCuda: the stream and the NCCL communicator the model uses
  // (declared before the model, so it outlives it).
  std::unique_ptr<CudaContext> cuda;
  // The model on its device.
  std::unique_ptr<LlamaModel> model;
  // What the engine drives (over `model`). Its KV cache is not allocated yet.
  std::unique_ptr<ModelRunner> runner;
};

// Collective over `comm` (an MpiCommunicator when it has more than one rank
// and `device` is kCuda). On failure every rank gets an error: the failing
// rank its own, the others one naming the failing rank(s). Errors that every
// rank sees identically (an impossible tp size, --device cuda without a GPU)
// come back as InvalidArgument on all ranks.
StatusOr<RankModel> LoadRankModel(const std::string& path, Communicator& comm,
                                  Device device = Device::kCpu);

// Collective: kCuda when every rank of `comm` can use a GPU of its own, else
// kCpu (so that all ranks pick the same device).
Device DefaultDeviceForGroup(Communicator& comm);

}  // namespace gs
