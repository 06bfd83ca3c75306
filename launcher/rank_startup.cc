#include <iostream>
#include <map>
#include <string>

#include "launcher/commands.h"

namespace gs::launcher {

namespace {

StatusOr<RankModel> LoadOnDevice(const std::string& path, Communicator& comm,
                                 const std::string& device) {
  if (device.empty()) return LoadRankModel(path, comm, DefaultDeviceForGroup(comm));
  // A bad name fails on every rank alike, before anything collective.
  GS_ASSIGN_OR_RETURN(Device d, ParseDevice(device));
  return LoadRankModel(path, comm, d);
}

// Every rank reaches the same answer (same model, same device kind).
// The KV-cache dtype `name` ("" = the device's default) on rm's model.
Status ApplyKvDType(RankModel& rm, const std::string& name) {
  DType t = DefaultKvDType(rm.device);
  if (!name.empty() && !DTypeFromLowerName(name, &t)) {
    return Status::InvalidArgument("--kv-dtype: '" + name + "' is not one of f32, f16, bf16, q8_0");
  }
  Status st = rm.model->SetKvDType(t);
  if (!st.ok()) {
    return Status::InvalidArgument("--kv-dtype " + std::string(DTypeLowerName(t)) +
                                   " with --device " + DeviceName(rm.device) + ": " + st.message());
  }
  return Status::Ok();
}

}  // namespace

std::optional<RankModel> LoadModelOrReport(const std::string& command, const std::string& path,
                                           MpiRuntime& mpi, Communicator& comm, int* exit_code,
                                           const std::string& device, const std::string& kv_dtype) {
  auto rm = LoadOnDevice(path, comm, device);
  if (rm.ok()) {
    mpi.CheckIn();
    if (rm->model) {
      Status st = ApplyKvDType(*rm, kv_dtype);
      if (!st.ok()) {
        if (comm.rank() == 0) std::cerr << "groupshard " << command << ": " << st.message() << "\n";
        *exit_code = kUsageError;
        return std::nullopt;
      }
    }
    return std::move(rm).value();
  }
  // A failing rank prints its own error; rank 0 also prints the summary
  // naming the ranks that failed.
  if (rm.status().code() != StatusCode::kUnavailable || comm.rank() == 0) {
    std::cerr << "groupshard " << command << ": " << rm.status().ToString() << "\n";
  }
  *exit_code = rm.status().code() == StatusCode::kInvalidArgument ? kUsageError : 1;
  return std::nullopt;
}

void AddDeviceOption(CLI::App& app, std::string* device) {
  app.add_option("--device", *device,
                 "Where each rank computes: cpu, or cuda (one GPU per rank, BF16). "
                 "Default: cuda when every rank has a GPU of its own, else cpu")
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

void AddLaunchTimeoutOption(CLI::App& app, double* seconds) {
  app.add_option("--launch-timeout", *seconds,
                 "Seconds every rank has to start (MPI_Init) and, once the model is loaded, to "
                 "check in; past it the job ends, naming the ranks and hosts that did not. "
                 "0 = wait forever")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void AddActivationsOption(CLI::App& app, kernels::Activations* act) {
  const std::map<std::string, kernels::Activations> names = {
      {"int8", kernels::Activations::kInt8}, {"fp32", kernels::Activations::kFp32}};
  app.add_option("--activations", *act,
                 "How quantized weights meet activations: int8 (8-bit activation groups, "
                 "fast) or fp32 (exactly the dequantized product)")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
      ->default_str("int8")
      ->option_text("int8|fp32 (default int8)");
}

void AddKvDTypeOption(CLI::App& app, std::string* kv_dtype) {
  app.add_option("--kv-dtype", *kv_dtype,
                 "Dtype of the KV cache: f32, f16, bf16 or q8_0 (GGUF blocks of 32; head_dim a "
                 "multiple of 32). Default: f16 on cpu, bf16 on cuda (which also takes f32)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}, CLI::ignore_case))
      ->option_text("f32|f16|bf16|q8_0 (default f16 on cpu, bf16 on cuda)");
}

}  // namespace gs::launcher
