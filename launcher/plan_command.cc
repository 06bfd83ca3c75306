#include <algorithm>
#include <iostream>
#include <optional>

#include "core/plan_report.h"
#include "launcher/commands.h"
#include "parallel/device.h"

namespace gs::launcher {

RunFn AddPlanCommand(CLI::App& app) {
  struct Opts {
    std::string model;
    int tp = 1;
    int64_t context = 4096;
    int64_t batch = 1;
    bool json = false;
    std::string kv_dtype;  // "": the CPU default
    int64_t memory_per_rank = 0;  // 0: no capacity figures
    KvBudget budget;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Model: HF directory or .gguf file")->required();
  app.add_option("--tp", o->tp, "Tensor-parallel size P")->check(CLI::PositiveNumber);
  app.add_option("--context", o->context, "Tokens per sequence for the KV figure")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", o->batch, "Sequences for the KV figure")->check(CLI::PositiveNumber);
  app.add_flag("--json", o->json, "Print JSON");
  AddKvDTypeOption(app, &o->kv_dtype);
  app.add_option("--memory-per-rank", o->memory_per_rank,
                 "Memory each rank has (bytes, or with a unit: 512MiB, 8GiB, 8GB): prints what is "
                 "left for the KV cache after weights and scratch, and what fits in it, as "
                 "`serve --memory-per-rank` allocates")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::PositiveNumber);
  app.add_option("--block-size", o->budget.block_size, "KV-cache block size in tokens (as serve)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-batch-tokens", o->budget.max_batch_tokens,
                 "Tokens of the largest step (as serve)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-running", o->budget.max_logit_rows,
                 "Sequences decoding at once (as serve): the logit rows of a step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [o](int*, char***) {
    auto src = WeightSource::Open(o->model);
    if (!src.ok()) {
      std::cerr << "groupshard plan: " << src.status().ToString() << "\n";
      return 1;
    }
    // The KV figures for the cache `serve` makes on the CPU with the same flag.
    DType kv_dtype = DefaultKvDType(Device::kCpu);
    if (!o->kv_dtype.empty()) DTypeFromLowerName(o->kv_dtype, &kv_dtype);
    auto rep = MakePlanReport(**src, o->tp, kv_dtype);
    if (!rep.ok()) {
      std::cerr << "groupshard plan: " << rep.status().message() << "\n";
      return kUsageError;
    }
    std::optional<KvCapacity> cap;
    if (o->memory_per_rank > 0) {
      KvBudget b = o->budget;
      b.memory_per_rank = o->memory_per_rank;
      b.max_logit_rows = std::min(b.max_logit_rows, b.max_batch_tokens);
      cap = PlanKvCapacity(*rep, b);
    }
    const KvCapacity* c = cap ? &*cap : nullptr;
    if (o->json) {
      std::cout << PlanJson(*rep, o->context, o->batch, c).dump(2) << "\n";
    } else {
      std::cout << FormatPlanText(*rep, o->context, o->batch, c);
    }
    return 0;
  };
}

}  // namespace gs::launcher
