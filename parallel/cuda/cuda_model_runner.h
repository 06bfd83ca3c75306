// The CUDA ModelRunner: CudaLlamaModel on this rank's GPU with its BF16 KV
// cache; the all-reduces go over NCCL (no communicator at all on one rank).
// The step itself still travels over the host communicator. This header has
// no CUDA includes, so CPU code can call the factory behind GS_HAVE_CUDA.
#pragma once

#include <memory>

#include "core/model_runner.h"
#include "core/status.h"
#include "core/weight_source.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"

namespace gs {

// Collective over `host_comm`, which must be an MpiCommunicator when it has
// more than one rank: selects GPU local_rank (as NcclCommunicator does),
// builds the NCCL communicator when plan.tp_size() > 1, and loads this
// rank's slices onto the GPU. Every rank must have passed
// CheckDeviceUsable(Device::kCuda, ...) before any calls this. Errors are
// this rank's (a tensor missing in the checkpoint).
StatusOr<std::unique_ptr<ModelRunner>> LoadCudaModelRunner(const WeightSource& src,
                                                           const ShardPlan& plan,
                                                           Communicator& host_comm);

}  // namespace gs
