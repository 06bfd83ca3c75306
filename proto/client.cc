#include "proto/client.h"

namespace gs {

namespace pb = groupshard::v1;

InferenceClient::InferenceClient(const std::string& address, int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  stub_ = pb::Inference::NewStub(channel_);
  health_ = grpc::health::v1::Health::NewStub(channel_);
}

grpc::Status InferenceClient::Generate(const pb::GenerateRequest& req,
                                       const std::function<bool(const pb::GenerateResponse&)>& on_message,
                                       std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  if (timeout.count() > 0) ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader = stub_->Generate(&ctx, req);
  pb::GenerateResponse msg;
  while (reader->Read(&msg)) {
    if (!on_message(msg)) {
      ctx.TryCancel();
      break;
    }
  }
  return reader->Finish();
}

grpc::Status InferenceClient::Tokenize(const pb::TokenizeRequest& req, pb::TokenizeResponse* resp) {
  grpc::ClientContext ctx;
  return stub_->Tokenize(&ctx, req, resp);
}

grpc::Status InferenceClient::Detokenize(const pb::DetokenizeRequest& req,
                                         pb::DetokenizeResponse* resp) {
  grpc::ClientContext ctx;
  return stub_->Detokenize(&ctx, req, resp);
}

grpc::Status InferenceClient::ModelInfo(pb::ModelInfoResponse* resp) {
  grpc::ClientContext ctx;
  return stub_->ModelInfo(&ctx, pb::ModelInfoRequest(), resp);
}

grpc::Status InferenceClient::Health(const std::string& service,
                                     grpc::health::v1::HealthCheckResponse::ServingStatus* status) {
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status st = health_->Check(&ctx, req, &resp);
  *status = resp.status();
  return st;
}

bool InferenceClient::WaitForReady(std::chrono::milliseconds timeout) {
  return channel_->WaitForConnected(std::chrono::system_clock::now() + timeout);
}

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace gs
