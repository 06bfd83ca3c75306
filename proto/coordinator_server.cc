#include "proto/coordinator_server.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>

#include "proto/coordinator_security.h"

namespace gs {

StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& options) {
  if (options.backends.empty()) return Status::InvalidArgument("--backend: give at least one");
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--listen: expected host:port, got '" + options.listen + "'");
  }
  GS_ASSIGN_OR_RETURN(auto server_creds, MakeServerCredentials(options.tls_cert, options.tls_key));
  GS_ASSIGN_OR_RETURN(auto channel_creds, MakeChannelCredentials(options.backend_ca));

  auto c = std::unique_ptr<Coordinator>(new Coordinator());
  BackendPoolOptions po;
  po.credentials = channel_creds;
  po.token = options.backend_token;
  po.check_interval = options.check_interval;
  po.check_timeout = options.check_timeout;
  po.max_message_bytes = options.max_message_bytes;
  c->pool_ = std::make_unique<BackendPool>(options.backends, po);
  c->service_ = std::make_unique<CoordinatorService>(*c->pool_, c->metrics_, options.auth_token);
  c->health_ = std::make_unique<CoordinatorHealthService>(*c->pool_, options.auth_token);

  grpc::ServerBuilder builder;
  // Our own health service replaces gRPC's, which could not check the token.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  int port = 0;
  builder.AddListeningPort(options.listen, server_creds, &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(c->service_.get());
  builder.RegisterService(c->health_.get());
  c->server_ = builder.BuildAndStart();
  if (!c->server_ || port == 0) {
    return Status::Unavailable("--listen: cannot listen on " + options.listen);
  }
  c->address_ = options.listen.substr(0, colon) + ":" + std::to_string(port);
  c->pool_->Start(options.check_timeout + std::chrono::milliseconds(500));

  if (!options.http_listen.empty()) {
    HttpGatewayOptions ho;
    ho.listen = options.http_listen;
    ho.tls_cert = options.tls_cert;
    ho.tls_key = options.tls_key;
    ho.token = options.auth_token;
    Coordinator* self = c.get();
    ho.metrics = [self] { return self->MetricsText(); };
    // In-process: no second TLS handshake, and the same token checks apply.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(options.max_message_bytes);
    args.SetMaxSendMessageSize(options.max_message_bytes);
    auto http = HttpGateway::Start(c->server_->InProcessChannel(args), ho);
    if (!http.ok()) {
      c->Shutdown(std::chrono::milliseconds(0));
      return http.status();
    }
    c->http_ = std::move(http).value();
  }
  return c;
}

Coordinator::~Coordinator() { Shutdown(std::chrono::seconds(1)); }

void Coordinator::Shutdown(std::chrono::milliseconds timeout) {
  if (shut_down_) return;
  shut_down_ = true;
  if (http_) http_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + timeout);
  // The pool goes last: handlers still running hold leases on it.
  pool_.reset();
}

}  // namespace gs
