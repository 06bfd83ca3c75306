// Rank 0's part of `groupshard serve`: the gRPC server, the step loop and
// the drain on SIGTERM/SIGINT. The launcher loads the model on every rank
// and calls this on rank 0 (RunWorker on the others).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "core/engine.h"
#include "core/model_runner.h"
#include "kernels/status.h"
#include "core/tokenizer.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"

namespace gs {

struct ServeOptions {
  std::string model_path;
  std::string listen = "127.0.0.1:50051";
  int max_message_bytes = 4 << 20;
  int max_queue = 256;  // requests waiting beyond the running set
  double drain_seconds = 30.0;
  int default_max_tokens = 256;
  EngineOptions engine;
};

// Serves until `stop` becomes true, then drains and shuts the engine down
// (which releases the other ranks from RunWorker) before returning.
// on_ready(address) runs once the server accepts calls. The Engine is
// shut down on every path, errors included.
// `runner` is rank 0's shard (its KV cache sized by options.engine) and
// `comm` the host communicator the steps travel on.
Status ServeOnLeader(const ServeOptions& options, ModelRunner& runner, Communicator& comm,
                     const ShardPlan& plan, const Tokenizer& tokenizer,
                     const std::atomic<bool>& stop,
                     const std::function<void(const std::string& address)>& on_ready);

// SIGTERM and SIGINT set the returned flag (process-wide; call once).
const std::atomic<bool>& InstallStopSignals();
// SIGTERM and SIGINT are ignored: ranks other than 0 leave when rank 0 says
// so, after the drain, even when mpirun forwards the signal to them.
void IgnoreStopSignals();

}  // namespace gs
