// A running coordinator: the gRPC server (routing Inference service and its
// own health service), the backend pool behind it, metrics, and optionally
// the OpenAI-compatible HTTP listener with GET /metrics.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "kernels/status.h"
#include "proto/backend_pool.h"
#include "proto/coordinator_service.h"
#include "proto/http_gateway.h"
#include "proto/metrics.h"

namespace gs {

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:50050";  // port 0 picks a free one
  std::vector<std::string> backends;       // group leaders, host:port
  std::string http_listen;                 // "" = no HTTP
  std::string tls_cert, tls_key;           // PEM files, for gRPC and HTTP
  std::string auth_token;                  // required from callers ("" = none)
  std::string backend_token;               // presented to the backends
  std::string backend_ca;                  // PEM: the backends speak TLS
  std::chrono::milliseconds check_interval{1000};
  std::chrono::milliseconds check_timeout{1000};
  int max_message_bytes = 64 << 20;
};

class Coordinator {
 public:
  // Checks every backend once (up to check_timeout), then serves. A
  // coordinator with no healthy backend still starts, NOT_SERVING.
  static StatusOr<std::unique_ptr<Coordinator>> Start(const CoordinatorOptions& options);
  ~Coordinator();  // Shutdown(1 s) if not done

  const std::string& address() const { return address_; }
  // "" without --http-listen.
  std::string http_address() const { return http_ ? http_->address() : ""; }
  BackendPool& pool() { return *pool_; }
  Metrics& metrics() { return metrics_; }
  std::string MetricsText() const { return metrics_.Render(pool_->Gauges()); }
  // Stops HTTP, then waits up to `timeout` for gRPC calls before cancelling them.
  void Shutdown(std::chrono::milliseconds timeout);

 private:
  Coordinator() = default;

  Metrics metrics_;
  std::unique_ptr<BackendPool> pool_;
  std::unique_ptr<CoordinatorService> service_;
  std::unique_ptr<CoordinatorHealthService> health_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpGateway> http_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace gs
