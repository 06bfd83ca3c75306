#include "proto/coordinator_service.h"

#include <chrono>
#include <thread>

#include "proto/coordinator_security.h"

namespace gs {

namespace pb = groupshard::v1;
using HealthResponse = grpc::health::v1::HealthCheckResponse;
using Clock = std::chrono::steady_clock;

namespace {

// Statuses that say the backend (not the request) is at fault, so the
// request may be sent elsewhere when nothing reached the client yet.
bool IsBackendFailure(const grpc::Status& st) {
  switch (st.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNAUTHENTICATED:  // the backend refused our token
    case grpc::StatusCode::PERMISSION_DENIED:
      return true;
    default:
      return false;
  }
}

// Tokens a request may still cost its backend: a rough prompt length plus
// the most it may generate. Only compared between backends.
int64_t EstimateCost(const pb::GenerateRequest& req) {
  int64_t prompt = req.prompt_token_ids_size() + static_cast<int64_t>(req.prompt().size()) / 4;
  for (const pb::ChatMessage& m : req.messages()) prompt += 4 + m.content().size() / 4;
  return prompt + (req.has_max_tokens() ? req.max_tokens() : 256);
}

// Backends one Generate call may try: the first, plus retries and resumes.
constexpr int kMaxAttempts = 4;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

CoordinatorService::CoordinatorService(BackendPool& pool, Metrics& metrics, std::string token)
    : pool_(pool), metrics_(metrics), token_(std::move(token)) {}

grpc::Status CoordinatorService::Generate(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                                          grpc::ServerWriter<pb::GenerateResponse>* writer) {
  if (grpc::Status st = CheckBearer(*ctx, token_); !st.ok()) return st;
  const Clock::time_point arrival = Clock::now();
  metrics_.AddInFlight(1);
  struct InFlight {
    Metrics& m;
    ~InFlight() { m.AddInFlight(-1); }
  } in_flight{metrics_};
  auto end = [&](Metrics::Outcome outcome, grpc::Status st) {
    metrics_.CountRequest(outcome);
    if (outcome == Metrics::Outcome::kFailed || outcome == Metrics::Outcome::kRejected) {
      const std::string text = StatusText(st);
      request_log_.Write(spdlog::level::warn, text.substr(0, text.find(':')),
                         "Generate request ended: " + text);
    }
    return st;
  };

  const int64_t cost = EstimateCost(*req);
  std::vector<const BackendPool::Backend*> tried;
  std::string earlier;  // what went wrong so far, for the final message
  // Tokens the client has received. When a backend fails after some, the
  // stream goes on at another backend from them (resume_token_ids), and the
  // client sees one stream.
  std::vector<int32_t> delivered;
  pb::GenerateRequest resumed;
  const pb::GenerateRequest* send = req;
  int64_t messages = 0;  // written to the client, over all attempts
  Clock::time_point last = arrival;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::unique_ptr<BackendPool::Lease> lease = pool_.Pick(tried, cost);
    if (!lease) {
      if (messages == 0) {
        return end(Metrics::Outcome::kRejected,
                   grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                earlier.empty() ? "no healthy backend"
                                                : "no other healthy backend to retry on; " + earlier));
      }
      metrics_.AddTokens(0, static_cast<int64_t>(delivered.size()));
      return end(Metrics::Outcome::kFailed,
                 grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "no other healthy backend to continue the stream on after " +
                                  std::to_string(delivered.size()) +
                                  " token(s) were delivered; " + earlier));
    }
    tried.push_back(lease->backend());
    // Carries the caller's deadline, and its cancellation, to the backend.
    std::unique_ptr<grpc::ClientContext> bctx = grpc::ClientContext::FromServerContext(*ctx);
    lease->Authorize(bctx.get());
    auto reader = lease->stub().Generate(bctx.get(), *send);

    pb::GenerateResponse msg;
    int64_t prompt_tokens = 0;
    bool finished = false;
    std::string backend_error;
    while (reader->Read(&msg)) {
      if (msg.finish_reason() == pb::FINISH_REASON_ERROR) {
        // Not passed on: the call's status will say what happened.
        backend_error = msg.error().empty() ? "the backend reported an error" : msg.error();
        continue;
      }
      if (!writer->Write(msg)) {
        bctx->TryCancel();
        reader->Finish();
        metrics_.AddTokens(0, static_cast<int64_t>(delivered.size()));
        return end(Metrics::Outcome::kCancelled,
                   grpc::Status(grpc::StatusCode::CANCELLED, "the client stopped reading"));
      }
      const Clock::time_point now = Clock::now();
      if (msg.token_ids_size() > 0) {
        if (delivered.empty()) {
          metrics_.ObserveTimeToFirstToken(Seconds(now - arrival));
        } else {
          const double per_token = Seconds(now - last) / msg.token_ids_size();
          for (int i = 0; i < msg.token_ids_size(); ++i) metrics_.ObserveInterTokenLatency(per_token);
        }
        last = now;
      }
      ++messages;
      delivered.insert(delivered.end(), msg.token_ids().begin(), msg.token_ids().end());
      if (msg.finish_reason() != pb::FINISH_REASON_UNSPECIFIED) {
        finished = true;
        prompt_tokens = msg.usage().prompt_tokens();
      }
    }
    grpc::Status st = reader->Finish();
    if (st.ok() && finished && backend_error.empty()) {
      metrics_.AddTokens(prompt_tokens, static_cast<int64_t>(delivered.size()));
      return end(Metrics::Outcome::kCompleted, grpc::Status::OK);
    }
    if (ctx->IsCancelled()) {
      metrics_.AddTokens(0, static_cast<int64_t>(delivered.size()));
      return end(Metrics::Outcome::kCancelled,
                 grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client or its deadline"));
    }
    if (st.ok()) {
      st = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        backend_error.empty() ? "the stream ended without its last message"
                                              : backend_error);
    } else if (!backend_error.empty()) {
      st = grpc::Status(st.error_code(), backend_error);
    }
    if (!IsBackendFailure(st)) {
      // The request's own fault: passed on as is when nothing reached the
      // client, otherwise (a resumed request refused) ended with its reason.
      if (messages == 0) return end(Metrics::Outcome::kRejected, st);
      metrics_.AddTokens(0, static_cast<int64_t>(delivered.size()));
      return end(Metrics::Outcome::kFailed,
                 grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "backend " + lease->address() + " refused to continue the stream after " +
                                  std::to_string(delivered.size()) + " token(s): " +
                                  StatusText(st) + (earlier.empty() ? "" : " (" + earlier + ")")));
    }
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE) lease->MarkFailed(st);
    std::string what = "backend " + lease->address();
    what += delivered.empty() ? " failed first: "
                              : " failed after " + std::to_string(delivered.size()) +
                                    " token(s) were delivered: ";
    what += st.error_message();
    earlier = earlier.empty() ? what : earlier + "; " + what;
    if (delivered.empty()) {
      metrics_.CountRetry();  // nothing reached the client: start again elsewhere
      continue;
    }
    // Continue elsewhere from the tokens the client has: the prompt is
    // rendered and tokenized again there, these follow it, and generation
    // picks up as the failed backend would have.
    resumed = *req;
    resumed.mutable_resume_token_ids()->Add(delivered.begin(), delivered.end());
    send = &resumed;
    metrics_.CountResume();
  }
  metrics_.AddTokens(0, static_cast<int64_t>(delivered.size()));
  return end(Metrics::Outcome::kFailed,
             grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "gave up after " + std::to_string(kMaxAttempts) + " backends failed: " +
                              earlier));
}

template <typename Req, typename Resp, typename Call>
grpc::Status CoordinatorService::Forward(grpc::ServerContext* ctx, const Req& req, Resp* resp,
                                         Call call) {
  if (grpc::Status st = CheckBearer(*ctx, token_); !st.ok()) return st;
  std::vector<const BackendPool::Backend*> tried;
  std::string earlier;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<BackendPool::Lease> lease = pool_.Pick(tried, 0);
    if (!lease) break;
    tried.push_back(lease->backend());
    std::unique_ptr<grpc::ClientContext> bctx = grpc::ClientContext::FromServerContext(*ctx);
    lease->Authorize(bctx.get());
    resp->Clear();
    grpc::Status st = call(lease->stub(), bctx.get(), req, resp);
    if (st.ok() || !IsBackendFailure(st) || ctx->IsCancelled()) return st;
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE) lease->MarkFailed(st);
    earlier = "backend " + lease->address() + ": " + st.error_message();
  }
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      earlier.empty() ? "no healthy backend" : "no healthy backend; " + earlier);
}

grpc::Status CoordinatorService::Tokenize(grpc::ServerContext* ctx, const pb::TokenizeRequest* req,
                                          pb::TokenizeResponse* resp) {
  return Forward(ctx, *req, resp, [](pb::Inference::Stub& s, grpc::ClientContext* c, auto& q, auto* r) {
    return s.Tokenize(c, q, r);
  });
}

grpc::Status CoordinatorService::Detokenize(grpc::ServerContext* ctx,
                                            const pb::DetokenizeRequest* req,
                                            pb::DetokenizeResponse* resp) {
  return Forward(ctx, *req, resp, [](pb::Inference::Stub& s, grpc::ClientContext* c, auto& q, auto* r) {
    return s.Detokenize(c, q, r);
  });
}

grpc::Status CoordinatorService::ModelInfo(grpc::ServerContext* ctx, const pb::ModelInfoRequest* req,
                                           pb::ModelInfoResponse* resp) {
  grpc::Status st = Forward(ctx, *req, resp, [](pb::Inference::Stub& s, grpc::ClientContext* c,
                                                auto& q, auto* r) { return s.ModelInfo(c, q, r); });
  if (!st.ok()) return st;
  int64_t load = 0, queue = 0, running = 0, total = 0, free = 0, preemptions = 0, steps = 0;
  int64_t cached = 0, hit = 0, query = 0;
  bool prefix_cache = false;
  for (const pb::ModelInfoResponse& i : pool_.HealthyInfos()) {
    load += i.load();
    queue += i.queue_depth();
    running += i.running();
    total += i.kv_total_blocks();
    free += i.kv_free_blocks();
    preemptions += i.preemptions();
    steps += i.steps();
    cached += i.kv_cached_blocks();
    hit += i.prefix_hit_tokens();
    query += i.prefix_query_tokens();
    prefix_cache = prefix_cache || i.prefix_cache();
  }
  resp->set_load(load);
  resp->set_queue_depth(static_cast<int32_t>(queue));
  resp->set_running(static_cast<int32_t>(running));
  resp->set_kv_total_blocks(static_cast<int32_t>(total));
  resp->set_kv_free_blocks(static_cast<int32_t>(free));
  resp->set_preemptions(preemptions);
  resp->set_steps(steps);
  resp->set_kv_cached_blocks(static_cast<int32_t>(cached));
  resp->set_prefix_hit_tokens(hit);
  resp->set_prefix_query_tokens(query);
  resp->set_prefix_cache(prefix_cache);
  resp->set_draining(false);
  return grpc::Status::OK;
}

CoordinatorHealthService::CoordinatorHealthService(const BackendPool& pool, std::string token)
    : pool_(pool), token_(std::move(token)) {}

namespace {

bool KnownService(const std::string& s) { return s.empty() || s == "groupshard.v1.Inference"; }

}  // namespace

grpc::Status CoordinatorHealthService::Check(grpc::ServerContext* ctx,
                                             const grpc::health::v1::HealthCheckRequest* req,
                                             HealthResponse* resp) {
  if (grpc::Status st = CheckBearer(*ctx, token_); !st.ok()) return st;
  if (!KnownService(req->service())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service " + req->service());
  }
  resp->set_status(pool_.AnyHealthy() ? HealthResponse::SERVING : HealthResponse::NOT_SERVING);
  return grpc::Status::OK;
}

grpc::Status CoordinatorHealthService::Watch(grpc::ServerContext* ctx,
                                             const grpc::health::v1::HealthCheckRequest* req,
                                             grpc::ServerWriter<HealthResponse>* writer) {
  if (grpc::Status st = CheckBearer(*ctx, token_); !st.ok()) return st;
  HealthResponse::ServingStatus sent = HealthResponse::UNKNOWN;
  // Ends when the watcher goes away or the server shuts down (both cancel ctx).
  while (!ctx->IsCancelled()) {
    HealthResponse resp;
    if (!KnownService(req->service())) {
      resp.set_status(HealthResponse::SERVICE_UNKNOWN);
    } else {
      resp.set_status(pool_.AnyHealthy() ? HealthResponse::SERVING : HealthResponse::NOT_SERVING);
    }
    if (resp.status() != sent) {
      if (!writer->Write(resp)) break;
      sent = resp.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "watch ended");
}

}  // namespace gs
