#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/perplexity.h"
#include "core/tokenizer.h"
#include "launcher/commands.h"
#include "parallel/mpi_communicator.h"
#include "core/rank_model.h"

namespace gs::launcher {

namespace {

struct PerplexityOpts {
  std::string model;
  std::string file;
  std::string tokens_file;
  std::string tokenizer;  // default: the model
  int context = 512;
  bool context_given = false;
  int stride = 0;
  bool json = false;
  std::string device;  // "" = cuda when usable, else cpu
  std::string kv_dtype;  // "" = the device's default
  kernels::Activations act = kernels::Activations::kInt8;
  double launch_timeout = 30;  // --launch-timeout
};

StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Rank 0: the token ids, from --tokens-file (a JSON array or whitespace-
// separated ids) or by tokenizing --file.
StatusOr<std::vector<int32_t>> LoadTokens(const PerplexityOpts& o) {
  if (!o.tokens_file.empty()) {
    GS_ASSIGN_OR_RETURN(std::string text, ReadAll(o.tokens_file));
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_array()) {
      std::vector<int32_t> ids;
      for (const auto& v : j) {
        if (!v.is_number_integer())
          return Status::InvalidArgument(o.tokens_file + ": not an id: " + v.dump());
        ids.push_back(v.get<int32_t>());
      }
      return ids;
    }
    std::istringstream in(text);
    std::vector<int32_t> ids;
    int64_t id;
    while (in >> id) ids.push_back(static_cast<int32_t>(id));
    if (!in.eof()) return Status::InvalidArgument(o.tokens_file + ": expected token ids");
    return ids;
  }
  GS_ASSIGN_OR_RETURN(std::string text, ReadAll(o.file));
  GS_ASSIGN_OR_RETURN(auto tok, Tokenizer::Load(o.tokenizer.empty() ? o.model : o.tokenizer));
  return tok->Encode(text, /*add_special=*/true);
}

int RunPerplexity(PerplexityOpts o, int* argc, char*** argv) {
  MpiRuntime mpi(argc, argv, "groupshard perplexity", o.launch_timeout);
  MpiCommunicator comm;
  const bool leader = comm.rank() == 0;
  int load_error = 0;
  auto rm = LoadModelOrReport("perplexity", o.model, mpi, comm, &load_error, o.device, o.kv_dtype);
  if (!rm) return load_error;
  if (rm->model) rm->model->set_activations(o.act);
  ModelRunner& runner = *rm->runner;
  if (!o.context_given) o.context = std::min(o.context, runner.config().max_position);

  // Rank 0 reads the tokens; every rank needs them to run the same windows.
  std::vector<int32_t> ids;
  int64_t n = -1;
  if (leader) {
    auto t = LoadTokens(o);
    if (!t.ok()) {
      std::cerr << "groupshard perplexity: " << t.status().ToString() << "\n";
    } else {
      ids = std::move(t).value();
      n = static_cast<int64_t>(ids.size());
    }
  }
  comm.Broadcast(&n, sizeof(n), 0);
  if (n < 0) return 1;
  ids.resize(static_cast<size_t>(n));
  if (n > 0) comm.Broadcast(ids.data(), ids.size() * sizeof(int32_t), 0);

  const bool tty = leader && isatty(STDERR_FILENO);
  PerplexityOptions po{o.context, o.stride};
  auto res =
      ComputePerplexity(runner, ids, po, [&](int done, int total, const PerplexityResult& r) {
        if (tty) {
          std::fprintf(stderr, "\rwindow %d/%d  perplexity so far %.4f   ", done, total,
                       r.perplexity());
          if (done == total) std::fprintf(stderr, "\n");
        }
      });
  if (!res.ok()) {
    if (leader) std::cerr << "groupshard perplexity: " << res.status().ToString() << "\n";
    return kUsageError;
  }
  if (!leader) return 0;
  const int stride = o.stride == 0 ? o.context : o.stride;
  if (o.json) {
    nlohmann::json j = {{"perplexity", res->perplexity()},
                        {"mean_nll", res->mean_nll()},
                        {"n_tokens", n},
                        {"n_scored", res->n_scored},
                        {"n_windows", res->n_windows},
                        {"context", o.context},
                        {"stride", stride},
                        {"tp_size", comm.size()},
                        {"device", DeviceName(rm->device)},
                        {"kv_dtype", DTypeLowerName(runner.kv_dtype())}};
    std::cout << j.dump() << std::endl;
  } else {
    std::printf(
        "perplexity %.6f (mean NLL %.6f nats) over %lld tokens: %lld scored in %d window(s), "
        "context %d, stride %d\n",
        res->perplexity(), res->mean_nll(), static_cast<long long>(n),
        static_cast<long long>(res->n_scored), res->n_windows, o.context, stride);
  }
  return 0;
}

}  // namespace

RunFn AddPerplexityCommand(CLI::App& app) {
  auto o = std::make_shared<PerplexityOpts>();
  app.add_option("--model", o->model, "Model: HF directory or .gguf file")
      ->required()
      ->check(CLI::ExistingPath);
  auto* file = app.add_option("--file", o->file, "Text file to score")->check(CLI::ExistingFile);
  auto* ids =
      app.add_option("--tokens-file", o->tokens_file,
                     "Token ids to score instead of a text (JSON array or whitespace-separated)")
          ->check(CLI::ExistingFile);
  file->excludes(ids);
  app.add_option("--tokenizer", o->tokenizer, "Take the tokenizer from this model instead")
      ->check(CLI::ExistingPath);
  auto* ctx = app.add_option("--context", o->context,
                             "Tokens per window (default 512, capped at the model's maximum)")
                  ->check(CLI::PositiveNumber);
  app.add_option("--stride", o->stride, "Window start step in tokens (default: --context)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", o->json, "Print one JSON object");
  AddDeviceOption(app, &o->device);
  AddActivationsOption(app, &o->act);
  AddKvDTypeOption(app, &o->kv_dtype);
  AddLaunchTimeoutOption(app, &o->launch_timeout);
  return [o, ctx, file, ids](int* argc, char*** argv) {
    if (file->count() == 0 && ids->count() == 0) {
      std::cerr << "groupshard perplexity: give --file TEXT or --tokens-file IDS\n";
      return kUsageError;
    }
    o->context_given = ctx->count() > 0;
    return RunPerplexity(*o, argc, argv);
  };
}

}  // namespace gs::launcher
