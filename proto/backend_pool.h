// The serving groups behind a coordinator: one channel each, a health check
// every second, and the choice of where the next request goes (the healthy
// backend with the least outstanding work, ties taken in turn).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "proto/groupshard.grpc.pb.h"
#include "proto/health.grpc.pb.h"
#include "proto/metrics.h"

namespace gs {

struct BackendPoolOptions {
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: insecure
  std::string token;                                      // sent as a bearer token when set
  // A failed check takes a backend out at once, so one that dies is out
  // within check_interval + check_timeout (2 s).
  std::chrono::milliseconds check_interval{1000};
  std::chrono::milliseconds check_timeout{1000};
  int max_message_bytes = 64 << 20;
  // Called from a checker thread whenever "some backend is healthy" flips.
  std::function<void(bool any_healthy)> on_health_change;
};

class BackendPool {
 public:
  struct Backend;

  // A request's hold on a backend: counts as its in-flight work until
  // destroyed. Must not outlive the pool.
  class Lease {
   public:
    Lease(BackendPool* pool, Backend* backend, int64_t cost);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    const std::string& address() const;
    groupshard::v1::Inference::Stub& stub() const;
    // Adds the backend token (if any) to a call about to go to this backend.
    void Authorize(grpc::ClientContext* ctx) const;
    // The call found the backend gone (`why`): take it out until a check passes.
    void MarkFailed(const grpc::Status& why) const;
    const Backend* backend() const { return backend_; }

   private:
    BackendPool* pool_;
    Backend* backend_;
    int64_t cost_;
  };

  BackendPool(const std::vector<std::string>& addresses, BackendPoolOptions options);
  ~BackendPool();  // stops the checkers

  // Starts one checker thread per backend and waits (up to `timeout`) until
  // every backend has been checked once.
  void Start(std::chrono::milliseconds timeout);

  // The healthy backend, not in `exclude`, with the least outstanding work
  // (reported load plus the cost of this coordinator's open requests on it);
  // null when there is none. `cost` is the work the new request adds.
  std::unique_ptr<Lease> Pick(const std::vector<const Backend*>& exclude, int64_t cost);

  bool AnyHealthy() const;
  size_t size() const { return backends_.size(); }
  std::vector<BackendGauges> Gauges() const;
  // Latest ModelInfo of each healthy backend.
  std::vector<groupshard::v1::ModelInfoResponse> HealthyInfos() const;

 private:
  void CheckLoop(Backend* b);
  void CheckOnce(Backend* b);
  // Logs each backend's first state and every change, with `why` when not healthy.
  void SetHealthy(Backend* b, bool healthy, const std::string& why);

  BackendPoolOptions options_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<std::thread> checkers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool any_healthy_ = false;
  size_t next_ = 0;  // round-robin start among equals
};

}  // namespace gs
