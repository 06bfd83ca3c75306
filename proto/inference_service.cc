#include "proto/inference_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

namespace gs {

namespace pb = groupshard::v1;

grpc::Status ToGrpcStatus(const Status& st) {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (st.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case StatusCode::kNotFound: code = grpc::StatusCode::NOT_FOUND; break;
    case StatusCode::kResourceExhausted: code = grpc::StatusCode::RESOURCE_EXHAUSTED; break;
    case StatusCode::kUnavailable: code = grpc::StatusCode::UNAVAILABLE; break;
    case StatusCode::kCancelled: code = grpc::StatusCode::CANCELLED; break;
    case StatusCode::kUnimplemented: code = grpc::StatusCode::UNIMPLEMENTED; break;
    default: code = grpc::StatusCode::INTERNAL; break;
  }
  return grpc::Status(code, st.message());
}

namespace {

pb::FinishReason ToProto(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return pb::FINISH_REASON_STOP;
    case FinishReason::kLength: return pb::FINISH_REASON_LENGTH;
    case FinishReason::kCancelled: return pb::FINISH_REASON_CANCELLED;
    case FinishReason::kError: return pb::FINISH_REASON_ERROR;
    case FinishReason::kNone: break;
  }
  return pb::FINISH_REASON_UNSPECIFIED;
}

void SetSpan(const Range& r, pb::Span* s) {
  s->set_begin(r.begin);
  s->set_end(r.end);
}

}  // namespace

InferenceService::InferenceService(const Tokenizer& tokenizer, ServingQueue& queue,
                                   std::function<ServingStats()> stats, ServiceInfo info)
    : tokenizer_(tokenizer), queue_(queue), stats_(std::move(stats)), info_(std::move(info)) {}

grpc::Status InferenceService::Refuse(const char* rpc, grpc::Status st) {
  const std::string text = StatusText(st);
  request_log_.Write(spdlog::level::warn, text.substr(0, text.find(':')),
                     std::string(rpc) + " request ended: " + text);
  return st;
}

grpc::Status InferenceService::Generate(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                                        grpc::ServerWriter<pb::GenerateResponse>* writer) {
  auto prepared = PrepareGenerate(*req, tokenizer_, info_.limits);
  if (!prepared.ok()) return Refuse("Generate", ToGrpcStatus(prepared.status()));
  std::shared_ptr<ActiveRequest> active = *prepared;
  if (Status st = queue_.Submit(active); !st.ok()) return Refuse("Generate", ToGrpcStatus(st));
  const uint64_t id = active->engine_request.id;
  std::vector<StreamChunk> chunks;
  while (true) {
    // Polled: a sync handler gets no callback when its client goes away or
    // its deadline passes, and the step loop must hear of it promptly.
    if (ctx->IsCancelled()) {
      queue_.Cancel(id);
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client or its deadline");
    }
    chunks.clear();
    if (!active->Pop(std::chrono::milliseconds(50), &chunks)) continue;
    for (StreamChunk& c : chunks) {
      pb::GenerateResponse resp;
      resp.set_request_id(req->request_id());
      resp.set_text(SanitizeUtf8(c.text));
      resp.mutable_token_ids()->Add(c.token_ids.begin(), c.token_ids.end());
      resp.mutable_logprobs()->Add(c.logprobs.begin(), c.logprobs.end());
      const bool last = c.finish != FinishReason::kNone;
      if (last) {
        resp.set_finish_reason(ToProto(c.finish));
        resp.set_error(c.error);
        pb::Usage* u = resp.mutable_usage();
        u->set_prompt_tokens(c.prompt_tokens);
        u->set_completion_tokens(c.completion_tokens);
        u->set_time_to_first_token_s(c.ttft_s);
        u->set_total_time_s(c.total_s);
      }
      if (!writer->Write(resp)) {
        if (!last) queue_.Cancel(id);
        return grpc::Status(grpc::StatusCode::CANCELLED, "the client stopped reading");
      }
      if (last) {
        if (c.finish == FinishReason::kError) {
          return Refuse("Generate", grpc::Status(grpc::StatusCode::UNAVAILABLE, c.error));
        }
        return grpc::Status::OK;
      }
    }
  }
}

grpc::Status InferenceService::Tokenize(grpc::ServerContext*, const pb::TokenizeRequest* req,
                                        pb::TokenizeResponse* resp) {
  if (!req->text().empty() && req->messages_size() > 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "text: give text or messages, not both");
  }
  std::vector<int32_t> ids;
  if (req->messages_size() > 0) {
    auto msgs = ParseChatMessages(req->messages());
    if (!msgs.ok()) return ToGrpcStatus(msgs.status());
    auto rendered = tokenizer_.ApplyChatTemplate(*msgs, /*add_generation_prompt=*/true);
    if (!rendered.ok()) return ToGrpcStatus(Status::InvalidArgument("messages: " + rendered.status().message()));
    ids = tokenizer_.Encode(*rendered, /*add_special=*/false);
  } else {
    const long bad = FindInvalidUtf8(req->text());
    if (bad >= 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "text: invalid UTF-8 at byte " + std::to_string(bad));
    }
    ids = tokenizer_.Encode(req->text(), req->add_special());
  }
  resp->mutable_token_ids()->Add(ids.begin(), ids.end());
  return grpc::Status::OK;
}

grpc::Status InferenceService::Detokenize(grpc::ServerContext*, const pb::DetokenizeRequest* req,
                                          pb::DetokenizeResponse* resp) {
  std::vector<int32_t> ids(req->token_ids().begin(), req->token_ids().end());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= tokenizer_.vocab_size()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "token_ids[" + std::to_string(i) + "]: id " + std::to_string(ids[i]) +
                              " outside the vocabulary of " +
                              std::to_string(tokenizer_.vocab_size()));
    }
  }
  resp->set_text(SanitizeUtf8(tokenizer_.Decode(ids, req->skip_special())));
  return grpc::Status::OK;
}

grpc::Status InferenceService::ModelInfo(grpc::ServerContext*, const pb::ModelInfoRequest*,
                                         pb::ModelInfoResponse* resp) {
  const ModelConfig& c = *info_.config;
  resp->set_model(info_.model_path);
  pb::ModelConfig* pc = resp->mutable_config();
  pc->set_arch(c.arch);
  pc->set_hidden_size(c.hidden_size);
  pc->set_intermediate_size(c.intermediate_size);
  pc->set_n_layers(c.n_layers);
  pc->set_n_heads(c.n_heads);
  pc->set_n_kv_heads(c.n_kv_heads);
  pc->set_head_dim(c.head_dim);
  pc->set_vocab_size(c.vocab_size);
  pc->set_max_position(c.max_position);
  resp->set_tp_size(info_.plan->tp_size());
  for (const RankShard& r : info_.plan->ranks()) {
    pb::RankShard* s = resp->add_shards();
    s->set_tp_rank(r.tp_rank);
    SetSpan(r.kv_groups, s->mutable_kv_groups());
    SetSpan(r.q_heads, s->mutable_q_heads());
    SetSpan(r.mlp_cols, s->mutable_mlp_cols());
    SetSpan(r.vocab_rows, s->mutable_vocab_rows());
  }
  const ServingStats st = stats_();
  resp->set_kv_block_size(st.kv_block_size);
  resp->set_kv_total_blocks(st.kv_total_blocks);
  resp->set_kv_free_blocks(st.kv_free_blocks);
  resp->set_queue_depth(st.queue_depth);
  resp->set_running(st.running);
  resp->set_preemptions(st.preemptions);
  resp->set_steps(st.steps);
  resp->set_load(st.load);
  resp->set_draining(st.draining);
  resp->set_kv_bytes_per_token_rank0(info_.kv_bytes_per_token_rank0);
  resp->set_kv_cached_blocks(st.kv_cached_blocks);
  resp->set_prefix_hit_tokens(st.prefix_hit_tokens);
  resp->set_prefix_query_tokens(st.prefix_query_tokens);
  resp->set_prefix_cache(st.prefix_cache);
  resp->set_kv_dtype(info_.kv_dtype);
  return grpc::Status::OK;
}

StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const std::string& listen,
                                                        int max_message_bytes,
                                                        grpc::Service* service) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--listen: expected host:port, got '" + listen + "'");
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  auto out = std::unique_ptr<GrpcServer>(new GrpcServer());
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &out->port_);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  builder.RegisterService(service);
  out->server_ = builder.BuildAndStart();
  if (!out->server_ || out->port_ == 0) {
    return Status::Unavailable("--listen: cannot listen on " + listen);
  }
  out->address_ = listen.substr(0, colon) + ":" + std::to_string(out->port_);
  out->SetServing(true);
  return out;
}

void GrpcServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  health->SetServingStatus("groupshard.v1.Inference", serving);
}

void GrpcServer::Shutdown(std::chrono::milliseconds timeout) {
  server_->Shutdown(std::chrono::system_clock::now() + timeout);
}

}  // namespace gs
