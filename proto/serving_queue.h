// The hand-off between gRPC threads and the step loop on rank 0. gRPC threads
// submit requests and ask for cancellations; the step loop (the only thread
// that calls MPI) takes them between steps and writes each request's output
// into that request's own channel, which its gRPC thread drains.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/engine.h"
#include "kernels/status.h"

namespace gs {

// One message of a request's output stream.
struct StreamChunk {
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<float> logprobs;
  FinishReason finish = FinishReason::kNone;  // set on the last chunk only
  std::string error;                          // with kError
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double ttft_s = 0.0;
  double total_s = 0.0;
};

// A request in flight: what the step loop needs to run it, and its output
// channel. Shared by the gRPC thread that owns the call and the step loop.
struct ActiveRequest {
  GenerateRequest engine_request;  // id assigned by ServingQueue::Submit
  std::vector<std::string> stop;
  bool logprobs = false;
  std::string client_id;
  std::chrono::steady_clock::time_point arrival = std::chrono::steady_clock::now();

  // Step loop: appends a chunk and wakes the reader.
  void Push(StreamChunk chunk);
  // gRPC thread: waits up to `timeout` for chunks and moves out all there
  // are. Returns false if none arrived in time.
  bool Pop(std::chrono::milliseconds timeout, std::vector<StreamChunk>* out);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamChunk> chunks_;
};

struct ServingQueueOptions {
  int max_in_flight = 320;  // requests accepted and not yet finished
};

class ServingQueue {
 public:
  explicit ServingQueue(ServingQueueOptions options) : options_(options) {}

  // gRPC threads. Assigns req->engine_request.id. RESOURCE_EXHAUSTED when
  // max_in_flight requests are already held, UNAVAILABLE once closed.
  Status Submit(std::shared_ptr<ActiveRequest> req);
  // gRPC threads: ends request `id` at the next step boundary (no-op if it
  // has finished already).
  void Cancel(uint64_t id);
  // Refuse new submissions from now on (drain); wakes the step loop.
  void Close();
  bool closed() const;

  // Step loop. Blocks while there is nothing to do: `engine_busy` false, no
  // submissions, no cancellations, and not closed-with-nothing-left. Returns
  // after at most `max_wait` in any case.
  void WaitForWork(bool engine_busy, std::chrono::milliseconds max_wait);
  // Step loop: moves out everything submitted and cancelled since the last call.
  void Take(std::vector<std::shared_ptr<ActiveRequest>>* submitted, std::vector<uint64_t>* cancelled);
  // Step loop: a request has sent its last chunk.
  void Finished();
  int in_flight() const;
  int pending() const;  // submitted, not yet taken by the step loop

 private:
  ServingQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<ActiveRequest>> submitted_;
  std::vector<uint64_t> cancelled_;
  uint64_t next_id_ = 1;
  int in_flight_ = 0;
  bool closed_ = false;
  bool close_seen_ = false;  // the step loop has been woken for the close
};

}  // namespace gs
