#include <algorithm>
#include <iostream>
#include <optional>
#include <thread>

#include "core/cost_model.h"
#include "core/plan_report.h"
#include "kernels/bandwidth_probe.h"
#include "launcher/commands.h"
#include "parallel/device.h"

namespace gs::launcher {

namespace {

// This machine's read bandwidth with every core streaming (best of three
// passes over 256 MiB): what `plan --network` assumes of each host when
// --memory-bandwidth is not given.
double ProbeThisMachine() {
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  BandwidthProbe probe(int64_t{256} << 20, &pool);
  double best = 1e30;
  for (int i = 0; i < 3; ++i) best = std::min(best, probe.Pass());
  return static_cast<double>(probe.bytes()) / best;
}

}  // namespace

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
    std::string network;         // "": no cost model
    double memory_gb_per_s = 0;  // 0: probe this machine
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
  app.add_option("--network", o->network,
                 "RATE,LATENCY of each host's link (e.g. 10gbit,50us): predicts decode time per "
                 "token at --tp with one rank per host, and over every P the model admits");
  app.add_option("--memory-bandwidth", o->memory_gb_per_s,
                 "Read bandwidth of each host in GB/s for --network (default: this machine's, "
                 "measured now with every core)")
      ->check(CLI::PositiveNumber);
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
    std::optional<CostInputs> cost_in;
    if (!o->network.empty()) {
      auto link = ParseNetwork(o->network);
      if (!link.ok()) {
        std::cerr << "groupshard plan: --network: " << link.status().message() << "\n";
        return kUsageError;
      }
      CostInputs in;
      in.link = *link;
      in.context = o->context;
      in.block_size = o->budget.block_size;
      in.memory_bytes_per_s =
          o->memory_gb_per_s > 0 ? o->memory_gb_per_s * 1e9 : ProbeThisMachine();
      cost_in = in;
    }
    std::optional<DecodeCost> cost;
    std::vector<DecodeCost> scan;
    if (cost_in) {
      cost = PredictDecode(*rep, *cost_in);
      auto s = ScanTpSizes(**src, kv_dtype, *cost_in);
      if (!s.ok()) {
        std::cerr << "groupshard plan: " << s.status().message() << "\n";
        return 1;
      }
      scan = std::move(*s);
    }
    const char* bw_source = o->memory_gb_per_s > 0 ? "given" : "probed on this machine";
    if (o->json) {
      nlohmann::json j = PlanJson(*rep, o->context, o->batch, c);
      if (cost) {
        j["cost"] = CostJson(*cost, *cost_in, scan);
        j["cost"]["memory_bandwidth_source"] = bw_source;
      }
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << FormatPlanText(*rep, o->context, o->batch, c);
      if (cost) {
        std::cout << FormatCostText(*cost, *cost_in, scan) << "memory bandwidth: " << bw_source
                  << "\n";
      }
    }
    return 0;
  };
}

}  // namespace gs::launcher
