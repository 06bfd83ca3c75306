// The groupshard.v1.Inference service on rank 0. Handlers run on gRPC
// threads and never touch MPI or the engine: they validate, tokenize, submit
// to the ServingQueue and stream what the step loop writes back.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/model_config.h"
#include "proto/log.h"
#include "kernels/status.h"
#include "core/tokenizer.h"
#include "parallel/shard_plan.h"
#include "proto/groupshard.grpc.pb.h"
#include "proto/request_builder.h"
#include "proto/serving_loop.h"
#include "proto/serving_queue.h"

namespace gs {

grpc::Status ToGrpcStatus(const Status& st);

struct ServiceInfo {
  std::string model_path;
  const ShardPlan* plan = nullptr;     // outlives the service
  const ModelConfig* config = nullptr;  // outlives the service
  int64_t kv_bytes_per_token_rank0 = 0;
  std::string kv_dtype;  // "f16", ...
  RequestLimits limits;
};

class InferenceService final : public groupshard::v1::Inference::Service {
 public:
  // All references must outlive the service. `stats` is called from gRPC threads.
  InferenceService(const Tokenizer& tokenizer, ServingQueue& queue,
                   std::function<ServingStats()> stats, ServiceInfo info);

  grpc::Status Generate(grpc::ServerContext* ctx, const groupshard::v1::GenerateRequest* req,
                        grpc::ServerWriter<groupshard::v1::GenerateResponse>* writer) override;
  grpc::Status Tokenize(grpc::ServerContext* ctx, const groupshard::v1::TokenizeRequest* req,
                        groupshard::v1::TokenizeResponse* resp) override;
  grpc::Status Detokenize(grpc::ServerContext* ctx, const groupshard::v1::DetokenizeRequest* req,
                          groupshard::v1::DetokenizeResponse* resp) override;
  grpc::Status ModelInfo(grpc::ServerContext* ctx, const groupshard::v1::ModelInfoRequest* req,
                         groupshard::v1::ModelInfoResponse* resp) override;

 private:
  // Refused and failed requests, logged rate-limited by status code.
  grpc::Status Refuse(const char* rpc, grpc::Status st);

  const Tokenizer& tokenizer_;
  ServingQueue& queue_;
  std::function<ServingStats()> stats_;
  ServiceInfo info_;
  RateLimitedLog request_log_{5, std::chrono::seconds(10)};
};

// A started gRPC server hosting a service plus the standard health service
// (reporting SERVING until SetServing(false)) and server reflection.
class GrpcServer {
 public:
  // `listen` is host:port; port 0 picks a free one (see port()).
  static StatusOr<std::unique_ptr<GrpcServer>> Start(const std::string& listen,
                                                     int max_message_bytes,
                                                     grpc::Service* service);
  int port() const { return port_; }
  // host:port actually bound.
  const std::string& address() const { return address_; }
  void SetServing(bool serving);
  // Waits for handlers up to `timeout`, then cancels what is left.
  void Shutdown(std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
};

}  // namespace gs
