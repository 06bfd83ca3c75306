// groupshard.v1.Inference as a coordinator offers it: every call is passed
// to one of the backends in a BackendPool, so a client cannot tell a
// coordinator from a single group. Also the coordinator's health service,
// SERVING while some backend is.
#pragma once

#include <string>

#include <grpcpp/grpcpp.h>

#include "proto/backend_pool.h"
#include "proto/groupshard.grpc.pb.h"
#include "proto/health.grpc.pb.h"
#include "proto/log.h"
#include "proto/metrics.h"

namespace gs {

// Failover: a Generate whose backend fails before the first token reaches
// the client is sent again to another backend; one that fails after that is
// continued on another backend from the prompt and the tokens delivered
// (resume_token_ids), so the client sees one uninterrupted stream. Up to
// four backends per call; when none is left the call ends with UNAVAILABLE
// saying how many tokens were delivered. Every call ends either complete or
// with an explicit error.
class CoordinatorService final : public groupshard::v1::Inference::Service {
 public:
  // `pool` and `metrics` must outlive the service. `token`: the bearer
  // token callers must present ("" = none).
  CoordinatorService(BackendPool& pool, Metrics& metrics, std::string token);

  grpc::Status Generate(grpc::ServerContext* ctx, const groupshard::v1::GenerateRequest* req,
                        grpc::ServerWriter<groupshard::v1::GenerateResponse>* writer) override;
  grpc::Status Tokenize(grpc::ServerContext* ctx, const groupshard::v1::TokenizeRequest* req,
                        groupshard::v1::TokenizeResponse* resp) override;
  grpc::Status Detokenize(grpc::ServerContext* ctx, const groupshard::v1::DetokenizeRequest* req,
                          groupshard::v1::DetokenizeResponse* resp) override;
  // One backend's answer, with the load, queue and KV figures summed over
  // all healthy backends (what a coordinator in front of this one balances on).
  grpc::Status ModelInfo(grpc::ServerContext* ctx, const groupshard::v1::ModelInfoRequest* req,
                         groupshard::v1::ModelInfoResponse* resp) override;

 private:
  template <typename Req, typename Resp, typename Call>
  grpc::Status Forward(grpc::ServerContext* ctx, const Req& req, Resp* resp, Call call);

  BackendPool& pool_;
  Metrics& metrics_;
  std::string token_;
  RateLimitedLog request_log_{5, std::chrono::seconds(10)};  // failed and refused requests
};

// grpc.health.v1.Health for the coordinator: SERVING ("" and
// "groupshard.v1.Inference") while the pool has a healthy backend. Written
// here rather than taken from gRPC so that it checks the bearer token too.
class CoordinatorHealthService final : public grpc::health::v1::Health::Service {
 public:
  CoordinatorHealthService(const BackendPool& pool, std::string token);

  grpc::Status Check(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::health::v1::HealthCheckResponse* resp) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  const BackendPool& pool_;
  std::string token_;
};

}  // namespace gs
