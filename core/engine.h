// Rank 0's step loop: takes requests, asks the scheduler for each step's
// work, sends it to the other ranks, runs the model, samples, and reports
// tokens. Single-threaded: callers on other threads go through a queue of
// their own (the server's request queue). Other ranks run RunWorker.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "core/block_manager.h"
#include "core/model_runner.h"
#include "core/sampler.h"
#include "core/scheduler.h"
#include "kernels/status.h"
#include "core/step_protocol.h"

namespace gs {

struct EngineOptions {
  int n_blocks = 256;
  int block_size = 16;
  // Reuse the cached KV blocks of prompts' leading tokens (BlockManager).
  bool prefix_cache = true;
  SchedulerOptions scheduler;
};

struct GenerateRequest {
  uint64_t id = 0;
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int max_tokens = 128;
  std::vector<int32_t> eos_ids;  // generation ends after one of these
  // Tokens this request already generated elsewhere (a stream resumed after
  // its group failed): they follow the prompt, count against max_tokens, and
  // generation continues after them as if it had produced them itself.
  std::vector<int32_t> resume;
  // Whether TokenEvent::logprob is wanted; without it the event carries 0
  // and the step skips a pass over the vocabulary per token.
  bool logprobs = true;
};

// One generated token; `finish` is set on the last event of a request. A
// request ended without a token (cancelled while waiting) has token -1.
struct TokenEvent {
  uint64_t id = 0;
  int32_t token = -1;
  float logprob = 0.0f;
  FinishReason finish = FinishReason::kNone;
};

class Engine {
 public:
  // `runner` computes the steps (its KV cache must have options.n_blocks
  // blocks of options.block_size); `comm` is the host communicator that
  // carries each step to the other ranks. Both must outlive the engine.
  Engine(ModelRunner& runner, Communicator& comm, const EngineOptions& options);

  // Refuses prompts that could never fit the cache or the context.
  Status Add(GenerateRequest req);
  // Ends a request at the next step boundary; emits its final event.
  void Cancel(uint64_t id, FinishReason reason, std::vector<TokenEvent>* events);
  bool HasWork() const { return !scheduler_.idle(); }
  // Runs one step (no-op when idle) and appends the tokens it produced.
  void Step(std::vector<TokenEvent>* events);
  // Tells the other ranks to leave RunWorker.
  void Shutdown();

  int n_waiting() const { return scheduler_.n_waiting(); }
  int n_running() const { return scheduler_.n_running(); }
  // Blocks no sequence references (free or evictable cached ones).
  int free_blocks() const { return blocks_.n_free(); }
  int cached_blocks() const { return blocks_.n_cached(); }
  bool prefix_cache() const { return blocks_.prefix_cache(); }
  int64_t prefix_hit_tokens() const { return scheduler_.prefix_hit_tokens(); }
  int64_t prefix_query_tokens() const { return scheduler_.prefix_query_tokens(); }
  int total_blocks() const { return blocks_.n_blocks(); }
  int block_size() const { return blocks_.block_size(); }
  int64_t n_preemptions() const { return scheduler_.n_preemptions(); }
  int64_t n_steps() const { return n_steps_; }
  const ModelRunner& runner() const { return runner_; }

 private:
  void BuildInput(const std::vector<ScheduledChunk>& chunks);

  ModelRunner& runner_;
  StepChannel channel_;
  BlockManager blocks_;
  Scheduler scheduler_;
  struct Picker {
    Sampler sampler;
    bool logprobs;
  };
  std::map<uint64_t, Picker> samplers_;
  ModelInput input_;
  std::vector<float> logits_;
  int64_t n_steps_ = 0;
  bool shut_down_ = false;
};

// Ranks other than 0: run the steps rank 0 sends over `comm` (the host
// communicator) until it says shutdown.
void RunWorker(ModelRunner& runner, Communicator& comm);

}  // namespace gs
