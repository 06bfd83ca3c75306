// How rank 0 tells the other ranks what to run. Each step it broadcasts one
// fixed-size message of kFirstBytes: the command, the array sizes and as
// much of the ModelInput's arrays as fits (a decode step of a few sequences
// fits whole); the arrays' remainder, if any, follows in a second broadcast.
// Only rank 0 decides anything.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/model_input.h"
#include "parallel/communicator.h"

namespace gs {

enum class StepCommand : int32_t { kRun = 1, kShutdown = 2 };

class StepChannel {
 public:
  static constexpr int kFirstInts = 512;
  static constexpr int64_t kFirstBytes = kFirstInts * sizeof(int32_t);

  // The broadcasts that carry a kRun step of these sizes: kFirstBytes, then
  // the arrays that did not fit (0: none, no second broadcast).
  struct MessageBytes {
    int64_t first = kFirstBytes;
    int64_t rest = 0;
  };
  static MessageBytes StepMessageBytes(int64_t n_tokens, int64_t n_block_table_entries,
                                       int64_t n_logit_rows);

  explicit StepChannel(Communicator& comm) : comm_(comm) {}
  // Rank 0: sends `cmd` (and `in` when kRun) to every other rank.
  void Send(StepCommand cmd, const ModelInput& in);
  // Other ranks: blocks until the next step; fills `in` when the command is kRun.
  StepCommand Receive(ModelInput* in);

 private:
  Communicator& comm_;
  std::array<int32_t, kFirstInts> first_{};
  std::vector<int32_t> buffer_;
};

}  // namespace gs
