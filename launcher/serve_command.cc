#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "core/plan_report.h"
#include "core/tokenizer.h"
#include "core/weight_source.h"
#include "launcher/commands.h"
#include "parallel/mpi_communicator.h"
#include "core/rank_model.h"
#include "proto/log.h"
#include "proto/serve_runner.h"

namespace gs::launcher {

namespace {

struct ServeCliOpts {
  ServeOptions serve;
  int kv_blocks = 0;
  double kv_cache_mb = 512;
  int64_t memory_per_rank = 0;  // bytes; 0: --kv-cache-mb sets the cache
  int threads = 1;
  std::string device;  // "" = cuda when usable, else cpu
  std::string kv_dtype;  // "" = the device's default
  kernels::Activations act = kernels::Activations::kInt8;
  double launch_timeout = 30;  // --launch-timeout
  bool no_prefix_cache = false;
};

// The KV blocks --memory-per-rank leaves room for on every rank after its
// weights and scratch (PlanKvCapacity, as `plan --memory-per-rank`).
StatusOr<int> KvBlocksForMemory(const ServeCliOpts& o, int tp_size, DType kv_dtype,
                                Device device) {
  if (device != Device::kCpu) {
    return Status::InvalidArgument(
        "--memory-per-rank plans CPU memory; with --device cuda give --kv-cache-mb");
  }
  GS_ASSIGN_OR_RETURN(auto src, WeightSource::Open(o.serve.model_path));
  GS_ASSIGN_OR_RETURN(PlanReport rep,
                      MakePlanReport(*src, tp_size, kv_dtype));
  KvBudget b;
  b.memory_per_rank = o.memory_per_rank;
  b.block_size = o.serve.engine.block_size;
  b.max_batch_tokens = o.serve.engine.scheduler.max_batch_tokens;
  b.max_logit_rows = std::min(o.serve.engine.scheduler.max_running, b.max_batch_tokens);
  const KvCapacity cap = PlanKvCapacity(rep, b);
  if (cap.n_blocks < 1) {
    const RankCapacity& rc = cap.ranks[cap.limiting_rank];
    return Status::InvalidArgument(
        "--memory-per-rank " + std::to_string(o.memory_per_rank) + " bytes leaves rank " +
        std::to_string(cap.limiting_rank) + " " + std::to_string(rc.kv_budget_bytes) +
        " bytes after its weights and scratch, less than one KV block of " +
        std::to_string(rc.block_bytes) + " bytes (see `groupshard plan --memory-per-rank`)");
  }
  return cap.n_blocks;
}

int RunServe(ServeCliOpts o, int* argc, char*** argv) {
  MpiRuntime mpi(argc, argv, "groupshard serve", o.launch_timeout);
  MpiCommunicator comm;
  const bool leader = comm.rank() == 0;
  // Before loading: a signal during the (long) load must not kill a rank.
  const std::atomic<bool>* stop = nullptr;
  if (leader) {
    stop = &InstallStopSignals();
  } else {
    IgnoreStopSignals();
  }
  int load_error = 0;
  auto rm =
      LoadModelOrReport("serve", o.serve.model_path, mpi, comm, &load_error, o.device, o.kv_dtype);
  if (!rm) return load_error;
  ModelRunner& runner = *rm->runner;
  if (rm->model) {
    rm->model->SetThreads(o.threads);
    rm->model->set_activations(o.act);
  }
  const ShardPlan& plan = *rm->plan;

  std::unique_ptr<Tokenizer> tok;
  int32_t setup[2] = {0, 0};  // n_blocks, error
  if (leader) {
    auto t = Tokenizer::Load(o.serve.model_path);
    if (!t.ok()) {
      std::cerr << "groupshard serve: " << t.status().ToString() << "\n";
      setup[1] = 1;
    } else {
      tok = std::move(t).value();
    }
    if (o.kv_blocks > 0) {
      setup[0] = o.kv_blocks;
    } else if (o.memory_per_rank > 0) {
      // What `plan --memory-per-rank` prints, from the same figures.
      auto blocks = KvBlocksForMemory(o, plan.tp_size(), runner.kv_dtype(), rm->device);
      if (blocks.ok()) {
        setup[0] = *blocks;
      } else {
        std::cerr << "groupshard serve: " << blocks.status().message() << "\n";
        setup[1] = kUsageError;
      }
    } else {
      // The budget is per rank; the rank holding the most groups sets the count.
      int groups = 0;
      for (const RankShard& r : plan.ranks()) groups = std::max(groups, r.n_local_groups());
      // In the cache's dtype: smaller dtypes fit more blocks in the budget.
      const int64_t block_bytes =
          KvBytesPerToken(plan.shape(), groups, runner.kv_dtype()) * o.serve.engine.block_size;
      setup[0] = static_cast<int32_t>(o.kv_cache_mb * (1 << 20) / static_cast<double>(block_bytes));
      if (setup[0] < 1) {
        std::cerr << "groupshard serve: --kv-cache-mb " << o.kv_cache_mb
                  << " holds no block of " << block_bytes << " bytes\n";
        setup[1] = kUsageError;
      }
    }
  }
  comm.Broadcast(setup, sizeof(setup), 0);
  if (setup[1] != 0) return setup[1];
  runner.AllocateKvCache(setup[0], o.serve.engine.block_size);
  if (!leader) {
    RunWorker(runner, comm);
    return 0;
  }
  o.serve.engine.n_blocks = setup[0];
  o.serve.engine.prefix_cache = !o.no_prefix_cache;
  Status st =
      ServeOnLeader(o.serve, runner, comm, plan, *tok, *stop, [&](const std::string& address) {
        std::printf("groupshard serving on %s\n", address.c_str());
        std::fflush(stdout);
        Log()->info(
            "serving {} on {}: {} rank(s) on {}, {} KV blocks of {} tokens in {}, prefix cache "
            "{}, pid {}",
            o.serve.model_path, address, comm.size(), DeviceName(rm->device), setup[0],
            o.serve.engine.block_size, DTypeLowerName(runner.kv_dtype()),
            o.serve.engine.prefix_cache ? "on" : "off", static_cast<int>(getpid()));
      });
  if (!st.ok()) {
    Log()->error("groupshard serve: {}", st.ToString());
    return 1;
  }
  Log()->info("drained, exiting");
  return 0;
}

}  // namespace

RunFn AddServeCommand(CLI::App& app) {
  auto o = std::make_shared<ServeCliOpts>();
  app.footer(
      "Draining (stop accepting, finish what is in flight, exit 0): SIGTERM or SIGINT to rank 0 "
      "(its pid is printed at start), or SIGUSR1 to mpirun, which forwards it to every rank. "
      "SIGTERM to mpirun itself aborts the whole job (Open MPI's behaviour).");
  app.add_option("--model", o->serve.model_path, "Model: HF directory or .gguf file")
      ->required()
      ->check(CLI::ExistingPath);
  app.add_option("--listen", o->serve.listen, "host:port to listen on (port 0: pick a free one)")
      ->capture_default_str();
  auto* blocks = app.add_option("--kv-blocks", o->kv_blocks, "KV-cache blocks (every rank)")
                     ->check(CLI::PositiveNumber);
  auto* mb = app.add_option("--kv-cache-mb", o->kv_cache_mb, "KV-cache budget per rank in MiB")
                 ->check(CLI::PositiveNumber)
                 ->excludes(blocks)
                 ->capture_default_str();
  app.add_option("--memory-per-rank", o->memory_per_rank,
                 "Memory each rank may use (bytes, or with a unit: 512MiB, 8GiB): the KV cache "
                 "gets what weights and scratch leave, as `groupshard plan --memory-per-rank` "
                 "prints (cpu)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::PositiveNumber)
      ->excludes(blocks)
      ->excludes(mb);
  app.add_option("--block-size", o->serve.engine.block_size, "KV-cache block size in tokens")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-batch-tokens", o->serve.engine.scheduler.max_batch_tokens,
                 "Tokens computed per step, all sequences together")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-running", o->serve.engine.scheduler.max_running,
                 "Sequences decoding at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--no-prefix-cache", o->no_prefix_cache,
               "Compute every prompt in full: no reuse of the KV blocks of earlier requests' "
               "leading tokens");
  app.add_option("--max-queue", o->serve.max_queue,
                 "Requests waiting beyond the running set before RESOURCE_EXHAUSTED")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-message-bytes", o->serve.max_message_bytes,
                 "Largest gRPC message accepted or sent")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  app.add_option("--drain-seconds", o->serve.drain_seconds,
                 "On SIGTERM/SIGINT, time given to requests in flight")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--default-max-tokens", o->serve.default_max_tokens,
                 "max_tokens for requests that do not set it")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--threads", o->threads, "Kernel threads per rank (cpu)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddDeviceOption(app, &o->device);
  AddActivationsOption(app, &o->act);
  AddKvDTypeOption(app, &o->kv_dtype);
  AddLaunchTimeoutOption(app, &o->launch_timeout);
  return [o](int* argc, char*** argv) { return RunServe(*o, argc, argv); };
}

}  // namespace gs::launcher
