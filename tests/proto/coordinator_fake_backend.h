// In-process stand-ins for serving groups, for the coordinator tests: a
// gRPC server with groupshard.v1.Inference and the standard health service
// that streams deterministic tokens, counts calls, and can be killed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "proto/groupshard.grpc.pb.h"

namespace gs::testing {

namespace fake_pb = groupshard::v1;

// Token i of a reply: 1000 + 10 * (first prompt id) + i. The text is
// "<id> " per token, so a reply can be checked without the backend.
inline int32_t FakeToken(const fake_pb::GenerateRequest& r, int i) {
  const int32_t base = r.prompt_token_ids_size() > 0 ? r.prompt_token_ids(0) : 0;
  return 1000 + 10 * base + i;
}

class FakeBackend final : public fake_pb::Inference::Service {
 public:
  enum class Mode {
    kNormal,
    kFailBeforeFirstToken,   // UNAVAILABLE at once, nothing streamed
    kHangAfterThreeTokens,   // 3 tokens, then silence until killed
    kHangBeforeFirstToken,   // silence until killed
  };
  std::atomic<Mode> mode{Mode::kNormal};
  // When set, every other call hangs before its first token and the rest
  // after three tokens (a kill mid-load then hits both kinds).
  std::atomic<bool> split_hang{false};
  std::atomic<int> token_delay_ms{5};
  std::atomic<int64_t> load{0};
  std::atomic<int64_t> generate_calls{0};
  std::atomic<int64_t> resumed_calls{0};  // calls that came with resume_token_ids

  bool Start(int port = 0) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(this);
    server_ = b.BuildAndStart();
    if (!server_ || port_ == 0) return false;
    server_->GetHealthCheckService()->SetServingStatus(true);
    return true;
  }
  // As a process death looks from outside: open streams end, the port closes.
  void Kill() {
    if (!server_) return;
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }
  void SetServing(bool serving) { server_->GetHealthCheckService()->SetServingStatus(serving); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  ~FakeBackend() override { Kill(); }

  grpc::Status Generate(grpc::ServerContext* ctx, const fake_pb::GenerateRequest* req,
                        grpc::ServerWriter<fake_pb::GenerateResponse>* w) override {
    const int64_t call = ++generate_calls;
    if (req->has_max_tokens() && req->max_tokens() < 1) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "max_tokens: must be at least 1");
    }
    Mode m = mode.load();
    if (split_hang.load()) {
      m = call % 2 ? Mode::kHangBeforeFirstToken : Mode::kHangAfterThreeTokens;
    }
    if (m == Mode::kFailBeforeFirstToken) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: failing before the first token");
    }
    const int n = req->has_max_tokens() ? req->max_tokens() : 8;
    // A resumed stream: the tokens given must be the ones this backend
    // would have produced, and it goes on after them.
    const int resume = req->resume_token_ids_size();
    if (resume > 0) ++resumed_calls;
    if (resume >= n) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "resume_token_ids: too many");
    }
    for (int i = 0; i < resume; ++i) {
      if (req->resume_token_ids(i) != FakeToken(*req, i)) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "resume_token_ids[" + std::to_string(i) + "]: not this stream's token");
      }
    }
    for (int i = resume; i < n; ++i) {
      if ((m == Mode::kHangBeforeFirstToken && i == resume) ||
          (m == Mode::kHangAfterThreeTokens && i == resume + 3)) {
        for (int k = 0; k < 3000 && !ctx->IsCancelled(); ++k) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return grpc::Status(grpc::StatusCode::CANCELLED, "fake: stopped while hanging");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(token_delay_ms.load()));
      if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "fake: cancelled");
      fake_pb::GenerateResponse r;
      r.set_request_id(req->request_id());
      r.add_token_ids(FakeToken(*req, i));
      r.set_text(std::to_string(FakeToken(*req, i)) + " ");
      if (i == n - 1) {
        r.set_finish_reason(fake_pb::FINISH_REASON_LENGTH);
        r.mutable_usage()->set_prompt_tokens(
            req->prompt_token_ids_size() + static_cast<int>(req->prompt().size()) +
            req->messages_size());
        r.mutable_usage()->set_completion_tokens(n);
      }
      if (!w->Write(r)) return grpc::Status(grpc::StatusCode::CANCELLED, "fake: client gone");
    }
    return grpc::Status::OK;
  }
  grpc::Status Tokenize(grpc::ServerContext*, const fake_pb::TokenizeRequest* req,
                        fake_pb::TokenizeResponse* resp) override {
    for (unsigned char c : req->text()) resp->add_token_ids(c);
    return grpc::Status::OK;
  }
  grpc::Status Detokenize(grpc::ServerContext*, const fake_pb::DetokenizeRequest* req,
                          fake_pb::DetokenizeResponse* resp) override {
    std::string s;
    for (int32_t id : req->token_ids()) s += static_cast<char>(id);
    resp->set_text(s);
    return grpc::Status::OK;
  }
  grpc::Status ModelInfo(grpc::ServerContext*, const fake_pb::ModelInfoRequest*,
                         fake_pb::ModelInfoResponse* resp) override {
    resp->set_model("/models/fake.gguf");
    resp->set_tp_size(2);
    resp->set_kv_total_blocks(100);
    resp->set_kv_free_blocks(90);
    resp->set_kv_cached_blocks(40);
    resp->set_prefix_hit_tokens(300);
    resp->set_prefix_query_tokens(400);
    resp->set_prefix_cache(true);
    resp->set_load(load.load());
    return grpc::Status::OK;
  }

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace gs::testing
