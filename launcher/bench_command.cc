#include <iostream>
#include <memory>

#include "launcher/commands.h"
#include "core/bench.h"
#include "parallel/mpi_communicator.h"
#include "core/rank_model.h"

namespace gs::launcher {

namespace {

struct BenchOpts {
  std::string model;
  BenchOptions bench;
  int threads = 1;
  kernels::Activations act = kernels::Activations::kInt8;
  std::string kv_dtype;        // "" = the CPU's default
  double launch_timeout = 30;  // --launch-timeout
  bool json = false;
};

int RunBenchModel(const BenchOpts& o, int* argc, char*** argv) {
  MpiRuntime mpi(argc, argv, "groupshard bench", o.launch_timeout);
  MpiCommunicator mpi_comm;
  // The model's collectives go through the meter, which times them for the
  // benchmark.
  CountingCommunicator comm(mpi_comm);
  const bool leader = comm.rank() == 0;
  int load_error = 0;
  auto rm = LoadModelOrReport("bench", o.model, mpi, comm, &load_error, "cpu", o.kv_dtype);
  if (!rm) return load_error;
  rm->model->SetThreads(o.threads);
  rm->model->set_activations(o.act);
  const BenchResult r = RunBench(*rm->model, comm, o.bench);
  if (leader) {
    if (o.json) {
      nlohmann::json j = BenchJson(r, o.bench);
      j["model"] = o.model;
      j["kv_dtype"] = DTypeLowerName(rm->model->kv_dtype());
      std::cout << j.dump() << std::endl;
    } else {
      std::cout << "model " << o.model << ", KV cache " << DTypeLowerName(rm->model->kv_dtype())
                << "\n"
                << FormatBenchText(r, o.bench);
    }
  }
  return 0;
}

}  // namespace

RunFn AddBenchCommand(CLI::App& app) {
  auto o = std::make_shared<BenchOpts>();
  app.add_option("--model", o->model, "Model: HF directory or .gguf file")
      ->check(CLI::ExistingPath);
  app.add_option("--prompt-tokens", o->bench.prompt_tokens, "Prompt length per sequence")
      ->check(CLI::PositiveNumber);
  app.add_option("--gen-tokens", o->bench.gen_tokens, "Decode steps")->check(CLI::PositiveNumber);
  app.add_option("--batch", o->bench.batch, "Sequences decoded together")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o->threads, "Threads per rank")->check(CLI::PositiveNumber);
  app.add_option("--repeat", o->bench.repeat, "Runs of prefill and decode; the best is reported")
      ->check(CLI::PositiveNumber);
  AddActivationsOption(app, &o->act);
  AddKvDTypeOption(app, &o->kv_dtype);
  AddLaunchTimeoutOption(app, &o->launch_timeout);
  app.add_flag("--json", o->json, "One JSON object on stdout");
  CLI::App* serve = app.add_subcommand("serve", "Load a running server");
  auto serve_run = AddBenchServeCommand(*serve);
  return [o, serve, serve_run](int* argc, char*** argv) {
    if (serve->parsed()) return serve_run(argc, argv);
    if (o->model.empty()) {
      std::cerr << "groupshard bench: --model is required (or use `bench serve`)\n";
      return kUsageError;
    }
    return RunBenchModel(*o, argc, argv);
  };
}

}  // namespace gs::launcher
