#include <cstdio>
#include <iostream>
#include <thread>

#include "launcher/commands.h"
#include "proto/coordinator_security.h"
#include "proto/coordinator_server.h"
#include "proto/log.h"
#include "proto/serve_runner.h"

namespace gs::launcher {

namespace {

struct CoordinatorCliOpts {
  CoordinatorOptions c;
  std::string auth_token_file, backend_token_file;
  double drain_seconds = 30;
};

int RunCoordinator(CoordinatorCliOpts o) {
  if (!o.auth_token_file.empty()) {
    auto t = ReadTokenFile(o.auth_token_file);
    if (!t.ok()) {
      std::cerr << "groupshard coordinator: --auth-token-file " << t.status().ToString() << "\n";
      return kUsageError;
    }
    o.c.auth_token = *t;
  }
  if (!o.backend_token_file.empty()) {
    auto t = ReadTokenFile(o.backend_token_file);
    if (!t.ok()) {
      std::cerr << "groupshard coordinator: --backend-token-file " << t.status().ToString() << "\n";
      return kUsageError;
    }
    o.c.backend_token = *t;
  }
  const std::atomic<bool>& stop = InstallStopSignals();
  auto coord = Coordinator::Start(o.c);
  if (!coord.ok()) {
    std::cerr << "groupshard coordinator: " << coord.status().ToString() << "\n";
    return coord.status().code() == StatusCode::kInvalidArgument ? kUsageError : 1;
  }
  std::printf("groupshard coordinator on %s\n", (*coord)->address().c_str());
  if (!(*coord)->http_address().empty()) {
    std::printf("groupshard http on %s\n", (*coord)->http_address().c_str());
  }
  std::fflush(stdout);
  Log()->info("coordinator on {} routing to {} backend(s)", (*coord)->address(),
              (*coord)->pool().Gauges().size());
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*coord)->Shutdown(std::chrono::milliseconds(static_cast<int64_t>(o.drain_seconds * 1000)));
  Log()->info("coordinator stopped");
  return 0;
}

}  // namespace

RunFn AddCoordinatorCommand(CLI::App& app) {
  auto o = std::make_shared<CoordinatorCliOpts>();
  app.add_option("--listen", o->c.listen, "host:port for gRPC (port 0: pick a free one)")
      ->capture_default_str();
  app.add_option("--backend", o->c.backends, "A serving group's leader, host:port (repeat)")
      ->required();
  app.add_option("--http-listen", o->c.http_listen,
                 "host:port for OpenAI-compatible HTTP and /metrics (default: none)");
  auto* cert = app.add_option("--tls-cert", o->c.tls_cert, "PEM certificate: serve gRPC and HTTP over TLS")
                   ->check(CLI::ExistingFile);
  auto* key = app.add_option("--tls-key", o->c.tls_key, "PEM private key for --tls-cert")
                  ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--auth-token-file", o->auth_token_file,
                 "File holding the bearer token every gRPC and HTTP caller must present")
      ->check(CLI::ExistingFile);
  app.add_option("--backend-token-file", o->backend_token_file,
                 "File holding the bearer token to present to the backends")
      ->check(CLI::ExistingFile);
  app.add_option("--backend-ca", o->c.backend_ca, "PEM CA certificate: reach the backends over TLS")
      ->check(CLI::ExistingFile);
  app.add_option("--drain-seconds", o->drain_seconds,
                 "On SIGTERM/SIGINT, time given to requests in flight")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return [o](int*, char***) { return RunCoordinator(*o); };
}

}  // namespace gs::launcher
