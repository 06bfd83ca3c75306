#include "proto/http_gateway.h"

#ifdef GS_HAVE_HTTPLIB

#include <httplib.h>

#include <atomic>
#include <ctime>
#include <thread>

#include "proto/coordinator_security.h"
#include "proto/groupshard.grpc.pb.h"
#include "proto/health.grpc.pb.h"
#include "proto/http_gateway_openai.h"

namespace gs {

namespace pb = groupshard::v1;
using nlohmann::json;

namespace {

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// One Generate call that outlives the HTTP handler when the reply streams.
struct GenerateCall {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<pb::GenerateResponse>> reader;
};

bool WriteEvent(httplib::DataSink& sink, const std::string& data) {
  const std::string event = "data: " + data + "\n\n";
  return sink.write(event.data(), event.size());
}

}  // namespace

struct HttpGateway::Impl {
  HttpGatewayOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Inference::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::string address;
  std::atomic<uint64_t> next_id{1};

  void Authorize(grpc::ClientContext* ctx) const {
    if (!options.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options.token);
  }

  std::string NewId(bool chat) {
    return std::string(chat ? "chatcmpl-" : "cmpl-") + std::to_string(std::time(nullptr)) + "-" +
           std::to_string(next_id.fetch_add(1));
  }

  StatusOr<std::string> ModelName() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Authorize(&ctx);
    pb::ModelInfoResponse info;
    grpc::Status st = stub->ModelInfo(&ctx, pb::ModelInfoRequest(), &info);
    if (!st.ok()) return Status::Unavailable(st.error_message());
    const std::string& path = info.model();
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }

  void Routes();
  void Completion(const httplib::Request& req, httplib::Response& res, bool chat);
};

void HttpGateway::Impl::Routes() {
  server->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (BearerMatches(req.get_header_value("Authorization"), options.token)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    SendJson(res, 401,
             OpenAiError("missing or wrong bearer token", "authentication_error", "", "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
  // Called for every status >= 400; fills in only replies that have no body.
  server->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string what = res.status == 404 ? "no such path: " + req.method + " " + req.path
                                               : "HTTP error " + std::to_string(res.status);
    SendJson(res, res.status, OpenAiError(what, "invalid_request_error", "", ""));
    return httplib::Server::HandlerResponse::Handled;
  }));
  server->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SendJson(res, 500, OpenAiError(what, "server_error"));
  });
  server->Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) {
    Completion(q, r, /*chat=*/false);
  });
  server->Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) {
    Completion(q, r, /*chat=*/true);
  });
  server->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    auto name = ModelName();
    if (!name.ok()) {
      SendJson(res, 503, OpenAiError(name.status().message(), "server_error", "", "unavailable"));
      return;
    }
    json model = {{"id", *name}, {"object", "model"}, {"created", 0}, {"owned_by", "groupshard"}};
    SendJson(res, 200, json{{"object", "list"}, {"data", json::array({model})}});
  });
  server->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    Authorize(&ctx);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status st = health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
    const bool ok = st.ok() && resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    SendJson(res, ok ? 200 : 503, json{{"status", ok ? "ok" : "unavailable"}});
  });
  if (options.metrics) {
    server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(options.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
}

void HttpGateway::Impl::Completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    SendJson(res, 400, OpenAiError("body: not valid JSON", "invalid_request_error", "body"));
    return;
  }
  auto parsed = ParseOpenAiRequest(body, chat);
  if (!parsed.ok()) {
    SendJson(res, 400, OpenAiErrorFor(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                   parsed.status().message())));
    return;
  }
  auto r = std::make_shared<OpenAiRequest>(std::move(parsed).value());
  const std::string id = NewId(chat);
  r->generate.set_request_id(id);
  if (r->model.empty()) {
    auto name = ModelName();
    r->model = name.ok() ? *name : "groupshard";
  }
  const int64_t created = static_cast<int64_t>(std::time(nullptr));

  auto call = std::make_shared<GenerateCall>();
  Authorize(&call->ctx);
  call->reader = stub->Generate(&call->ctx, r->generate);
  // Read the first message here so that a refused request gets its real
  // HTTP status rather than a 200 followed by an error event.
  auto first = std::make_shared<pb::GenerateResponse>();
  if (!call->reader->Read(first.get())) {
    grpc::Status st = call->reader->Finish();
    if (st.ok()) st = grpc::Status(grpc::StatusCode::INTERNAL, "the reply had no messages");
    SendJson(res, HttpStatusFor(st.error_code()), OpenAiErrorFor(st));
    return;
  }
  if (!r->stream) {
    std::string text;
    json finish = nullptr;
    pb::Usage usage;
    pb::GenerateResponse& msg = *first;
    do {
      text += msg.text();
      if (msg.finish_reason() != pb::FINISH_REASON_UNSPECIFIED) finish = FinishReasonJson(msg.finish_reason());
      if (msg.has_usage()) usage = msg.usage();
    } while (call->reader->Read(&msg));
    grpc::Status st = call->reader->Finish();
    if (!st.ok()) {
      SendJson(res, HttpStatusFor(st.error_code()), OpenAiErrorFor(st));
      return;
    }
    SendJson(res, 200, FullResponse(*r, id, created, text, finish, usage));
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [call, r, first, id, created](size_t, httplib::DataSink& sink) {
        pb::GenerateResponse& msg = *first;
        pb::Usage usage;
        bool first_chunk = true;
        do {
          if (msg.finish_reason() == pb::FINISH_REASON_ERROR) continue;  // the status says it
          if (msg.has_usage()) usage = msg.usage();
          if (!WriteEvent(sink, StreamChunk(*r, id, created, msg.text(),
                                            FinishReasonJson(msg.finish_reason()), first_chunk)
                                    .dump())) {
            call->ctx.TryCancel();  // the HTTP client went away
            call->reader->Finish();
            return false;
          }
          first_chunk = false;
        } while (call->reader->Read(&msg));
        grpc::Status st = call->reader->Finish();
        if (!st.ok()) {
          // No [DONE]: the error event is the end of this stream.
          WriteEvent(sink, OpenAiErrorFor(st).dump());
        } else {
          if (r->include_usage) {
            json u = StreamChunk(*r, id, created, "", nullptr, false);
            u["choices"] = json::array();
            u["usage"] = UsageJson(usage);
            WriteEvent(sink, u.dump());
          }
          WriteEvent(sink, "[DONE]");
        }
        sink.done();
        return true;
      });
}

HttpGateway::HttpGateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpGateway::~HttpGateway() { Stop(); }

const std::string& HttpGateway::address() const { return impl_->address; }

void HttpGateway::Stop() {
  if (impl_->server) impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(std::shared_ptr<grpc::Channel> channel,
                                                         HttpGatewayOptions options) {
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--http-listen: expected host:port, got '" + options.listen + "'");
  }
  const std::string host = options.listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(options.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return Status::InvalidArgument("--http-listen: bad port in '" + options.listen + "'");
  }
  auto impl = std::make_unique<Impl>();
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      return Status::InvalidArgument("--tls-cert and --tls-key go together");
    }
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!ssl->is_valid()) {
      return Status::InvalidArgument(options.tls_cert + ", " + options.tls_key +
                                     ": cannot load the TLS certificate and key");
    }
    impl->server = std::move(ssl);
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  const int threads = options.threads;
  impl->server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl->options = std::move(options);
  impl->channel = std::move(channel);
  impl->stub = pb::Inference::NewStub(impl->channel);
  impl->health = grpc::health::v1::Health::NewStub(impl->channel);
  impl->Routes();
  if (port == 0) {
    port = impl->server->bind_to_any_port(host);
    if (port <= 0) return Status::Unavailable("--http-listen: cannot listen on " + host);
  } else if (!impl->server->bind_to_port(host, port)) {
    return Status::Unavailable("--http-listen: cannot listen on " + impl->options.listen);
  }
  impl->address = host + ":" + std::to_string(port);
  httplib::Server* server = impl->server.get();
  impl->thread = std::thread([server] { server->listen_after_bind(); });
  // stop() is a no-op until the loop runs; wait for it so Stop() always works.
  for (int i = 0; i < 500 && !server->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::unique_ptr<HttpGateway>(new HttpGateway(std::move(impl)));
}

bool HttpGatewayAvailable() { return true; }

}  // namespace gs

#else  // !GS_HAVE_HTTPLIB

namespace gs {

struct HttpGateway::Impl {
  std::string address;
};

HttpGateway::HttpGateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpGateway::~HttpGateway() = default;
const std::string& HttpGateway::address() const { return impl_->address; }
void HttpGateway::Stop() {}

StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(std::shared_ptr<grpc::Channel>,
                                                         HttpGatewayOptions) {
  return Status::Unimplemented("HTTP: this build has no cpp-httplib (libcpp-httplib-dev)");
}

bool HttpGatewayAvailable() { return false; }

}  // namespace gs

#endif  // GS_HAVE_HTTPLIB
