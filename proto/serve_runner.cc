#include "proto/serve_runner.h"

#include <csignal>

#include "proto/inference_service.h"
#include "proto/serving_loop.h"
#include "proto/serving_queue.h"

namespace gs {

namespace {
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
void OnStopSignal(int) { g_stop.store(true); }
}  // namespace

const std::atomic<bool>& InstallStopSignals() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // mpirun turns its own SIGTERM into a job abort but forwards SIGUSR1 to
  // every rank: `kill -USR1 <mpirun>` drains like SIGTERM on rank 0.
  sigaction(SIGUSR1, &sa, nullptr);
  return g_stop;
}

void IgnoreStopSignals() {
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGUSR1, SIG_IGN);
}

Status ServeOnLeader(const ServeOptions& options, ModelRunner& runner, Communicator& comm,
                     const ShardPlan& plan, const Tokenizer& tokenizer,
                     const std::atomic<bool>& stop,
                     const std::function<void(const std::string& address)>& on_ready) {
  Engine engine(runner, comm, options.engine);
  ServingQueue queue({options.max_queue + options.engine.scheduler.max_running});
  ServingLoop loop(engine, tokenizer, queue);

  ServiceInfo info;
  info.model_path = options.model_path;
  info.plan = &plan;
  info.config = &runner.config();
  const ModelConfig& c = runner.config();
  info.kv_bytes_per_token_rank0 = runner.kv_bytes_per_token();
  info.kv_dtype = DTypeLowerName(runner.kv_dtype());
  info.limits.max_position = c.max_position;
  info.limits.vocab_size = c.vocab_size;
  info.limits.kv_tokens = options.engine.n_blocks * options.engine.block_size;
  info.limits.default_max_tokens = options.default_max_tokens;
  InferenceService service(tokenizer, queue, [&loop] { return loop.Stats(); }, info);

  auto server = GrpcServer::Start(options.listen, options.max_message_bytes, &service);
  if (!server.ok()) {
    engine.Shutdown();
    return server.status();
  }
  if (on_ready) on_ready((*server)->address());
  const auto drain = std::chrono::milliseconds(static_cast<int64_t>(options.drain_seconds * 1000));
  loop.Run(stop, drain, [&] { (*server)->SetServing(false); });
  // Every request has had its last message queued; give handlers a moment to
  // write it before the server cancels what is left.
  (*server)->Shutdown(std::chrono::seconds(5));
  return Status::Ok();
}

}  // namespace gs
