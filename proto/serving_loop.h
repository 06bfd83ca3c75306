// Rank 0's main loop while serving: moves requests from the ServingQueue
// into the Engine, runs steps, and turns each TokenEvent into text on the
// request's own channel (streaming decode and stop strings per request).
// Runs on the thread that owns MPI; it sleeps on the queue when idle.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/engine.h"
#include "core/text_stream.h"
#include "core/tokenizer.h"
#include "proto/serving_queue.h"

namespace gs {

// Counters for ModelInfo, refreshed by the loop after every step.
struct ServingStats {
  int kv_total_blocks = 0;
  int kv_free_blocks = 0;  // referenced by no sequence (cached ones included)
  int kv_cached_blocks = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t prefix_query_tokens = 0;
  bool prefix_cache = false;
  int kv_block_size = 0;
  int queue_depth = 0;  // accepted, not yet running
  int running = 0;
  int64_t preemptions = 0;
  int64_t steps = 0;
  int64_t load = 0;  // tokens still to process, see ModelInfoResponse.load
  bool draining = false;
};

class ServingLoop {
 public:
  ServingLoop(Engine& engine, const Tokenizer& tokenizer, ServingQueue& queue);

  // Serves until `stop` becomes true, then drains: closes the queue, calls
  // on_drain (e.g. to report NOT_SERVING), lets requests in flight finish
  // for up to `drain_timeout`, ends the rest with an error, and returns after
  // Engine::Shutdown(). Call from the MPI thread only.
  void Run(const std::atomic<bool>& stop, std::chrono::milliseconds drain_timeout,
           const std::function<void()>& on_drain);

  // Any thread.
  ServingStats Stats() const;

 private:
  struct Live {
    std::shared_ptr<ActiveRequest> req;
    TextStream text;
    int completion = 0;  // tokens generated, resumed ones included
    int resumed = 0;     // of which came with the request
    std::chrono::steady_clock::time_point first_token;
    std::string error;  // reported if it ends with kError
  };

  void Admit(std::shared_ptr<ActiveRequest> req);
  void Route(const TokenEvent& e);
  void Finish(Live& live, FinishReason finish, StreamChunk chunk);
  void Publish(bool draining);

  Engine& engine_;
  const Tokenizer& tokenizer_;
  ServingQueue& queue_;
  std::map<uint64_t, Live> live_;
  std::vector<TokenEvent> events_;
  mutable std::mutex stats_mu_;
  ServingStats stats_;
};

}  // namespace gs
