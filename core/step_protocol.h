// How rank 0 tells the other ranks what to run: each step it broadcasts a
// small fixed header (the command and the array sizes) and then the arrays
// of the ModelInput in one buffer. Only rank 0 decides anything.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model_input.h"
#include "parallel/communicator.h"

namespace gs {

enum class StepCommand : int32_t { kRun = 1, kShutdown = 2 };

class StepChannel {
 public:
  explicit StepChannel(Communicator& comm) : comm_(comm) {}
  // Rank 0: sends `cmd` (and `in` when kRun) to every other rank.
  void Send(StepCommand cmd, const ModelInput& in);
  // Other ranks: blocks until the next step; fills `in` when the command is kRun.
  StepCommand Receive(ModelInput* in);

 private:
  Communicator& comm_;
  std::vector<int32_t> buffer_;
};

}  // namespace gs
