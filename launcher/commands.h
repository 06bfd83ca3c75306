// Subcommands of the groupshard executable. Each Add*Command registers its
// flags on `app` and returns the function main calls when it is chosen.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "kernels/matmul.h"
#include "core/rank_model.h"
#include "parallel/mpi_communicator.h"

namespace gs::launcher {

using RunFn = std::function<int(int* argc, char*** argv)>;

RunFn AddGenerateCommand(CLI::App& app);
RunFn AddPlanCommand(CLI::App& app);
RunFn AddServeCommand(CLI::App& app);        // launcher/serve_command.cc
RunFn AddClientCommand(CLI::App& app);       // launcher/client_command.cc
RunFn AddBenchCommand(CLI::App& app);        // launcher/bench_command.cc
// `bench serve --server ADDR ...`: registered by AddBenchCommand on its
// "serve" subcommand; launcher/bench_serve_command.cc.
RunFn AddBenchServeCommand(CLI::App& serve_sub);
RunFn AddInspectCommand(CLI::App& app);      // launcher/inspect_command.cc
RunFn AddPerplexityCommand(CLI::App& app);   // launcher/perplexity_command.cc
RunFn AddConvertCommand(CLI::App& app);      // launcher/convert_command.cc
RunFn AddCoordinatorCommand(CLI::App& app);  // launcher/coordinator_command.cc

// Exit code for bad arguments and bad requests from the command line.
constexpr int kUsageError = 2;

// Collective start-up shared by the commands that run the model across ranks
// (launcher/rank_startup.cc): loads this rank's slices on `device` ("cpu",
// "cuda", or "" for cuda when every rank has a GPU of its own, else cpu), or
// prints why not and sets *exit_code (kUsageError for an impossible rank
// count or an unusable device, else 1). Once loaded, checks in
// (MpiRuntime::CheckIn): a rank that does not within the launch timeout ends
// the job.
// `kv_dtype` ("f32", "f16", "bf16", "q8_0", or "" for DefaultKvDType of the
// device) is the dtype of the KV cache the model will make; one the device
// or the model cannot hold is a usage error, printed by rank 0.
std::optional<RankModel> LoadModelOrReport(const std::string& command, const std::string& path,
                                           MpiRuntime& mpi, Communicator& comm, int* exit_code,
                                           const std::string& device = "cpu",
                                           const std::string& kv_dtype = "");

// Registers `--device cpu|cuda` (default: "" = cuda when usable, else cpu).
void AddDeviceOption(CLI::App& app, std::string* device);

// Registers `--launch-timeout SECONDS` (default 30; 0 = wait forever).
void AddLaunchTimeoutOption(CLI::App& app, double* seconds);

// Registers `--activations int8|fp32` (kernels::Activations; default int8).
void AddActivationsOption(CLI::App& app, kernels::Activations* act);

// Registers `--kv-dtype f32|f16|bf16|q8_0` (default "": f16 on the CPU, bf16
// on CUDA), for LoadModelOrReport.
void AddKvDTypeOption(CLI::App& app, std::string* kv_dtype);

}  // namespace gs::launcher
