// OpenAI-compatible HTTP in front of any groupshard.v1.Inference service
// (a coordinator or a single group), reached through a gRPC channel:
// POST /v1/completions, POST /v1/chat/completions (stream: true gives
// server-sent events ending "data: [DONE]"), GET /v1/models, GET /health,
// and GET /metrics when the owner supplies the text.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "kernels/status.h"

namespace gs {

struct HttpGatewayOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  std::string tls_cert, tls_key;          // PEM files; both set: HTTPS
  // Bearer token HTTP callers must present (every path; "" = none). It is
  // also what the gateway presents on its gRPC calls.
  std::string token;
  std::function<std::string()> metrics;  // body of GET /metrics; null: 404
  int threads = 64;                      // connections served at once
};

class HttpGateway {
 public:
  // Binds and starts serving on a thread of its own. `channel` leads to the
  // Inference service (and its health service).
  static StatusOr<std::unique_ptr<HttpGateway>> Start(std::shared_ptr<grpc::Channel> channel,
                                                      HttpGatewayOptions options);
  ~HttpGateway();  // stops
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // host:port actually bound.
  const std::string& address() const;
  void Stop();

  struct Impl;

 private:
  explicit HttpGateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when this build has cpp-httplib (else Start fails with UNIMPLEMENTED).
bool HttpGatewayAvailable();

}  // namespace gs
