// A blocking client for groupshard.v1.Inference and grpc.health.v1.Health,
// used by `groupshard client`, `groupshard bench serve` and the tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "proto/groupshard.grpc.pb.h"
#include "proto/health.grpc.pb.h"

namespace gs {

class InferenceClient {
 public:
  // Thread-safe: calls may run concurrently from several threads.
  explicit InferenceClient(const std::string& address, int max_message_bytes = 64 << 20);

  // Streams the reply: on_message runs for every message; returning false
  // cancels the call (the client goes away mid-stream). timeout 0: none.
  grpc::Status Generate(const groupshard::v1::GenerateRequest& req,
                        const std::function<bool(const groupshard::v1::GenerateResponse&)>& on_message,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  grpc::Status Tokenize(const groupshard::v1::TokenizeRequest& req,
                        groupshard::v1::TokenizeResponse* resp);
  grpc::Status Detokenize(const groupshard::v1::DetokenizeRequest& req,
                          groupshard::v1::DetokenizeResponse* resp);
  grpc::Status ModelInfo(groupshard::v1::ModelInfoResponse* resp);
  // Health of `service` ("" = the whole server).
  grpc::Status Health(const std::string& service,
                      grpc::health::v1::HealthCheckResponse::ServingStatus* status);
  // Waits until the channel is connected, up to `timeout`.
  bool WaitForReady(std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<groupshard::v1::Inference::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// "INVALID_ARGUMENT" etc.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace gs
