#include <iostream>

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
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Model: HF directory or .gguf file")->required();
  app.add_option("--tp", o->tp, "Tensor-parallel size P")->check(CLI::PositiveNumber);
  app.add_option("--context", o->context, "Tokens per sequence for the KV figure")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", o->batch, "Sequences for the KV figure")->check(CLI::PositiveNumber);
  app.add_flag("--json", o->json, "Print JSON");
  return [o](int*, char***) {
    auto src = WeightSource::Open(o->model);
    if (!src.ok()) {
      std::cerr << "groupshard plan: " << src.status().ToString() << "\n";
      return 1;
    }
    // The KV figures for the cache `serve` makes by default on the CPU.
    auto rep = MakePlanReport(**src, o->tp, DefaultKvDType(Device::kCpu));
    if (!rep.ok()) {
      std::cerr << "groupshard plan: " << rep.status().message() << "\n";
      return kUsageError;
    }
    if (o->json) {
      std::cout << PlanJson(*rep, o->context, o->batch).dump(2) << "\n";
    } else {
      std::cout << FormatPlanText(*rep, o->context, o->batch);
    }
    return 0;
  };
}

}  // namespace gs::launcher
