// `groupshard bench` as a user runs it, alone and under mpirun: the figures it
// prints are consistent with each other (no timing thresholds here; speed is
// what the benchmark itself reports).
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/weight_source.h"
#include "parallel/collective_traffic.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using gs::testing::DataPath;
using gs::testing::GroupshardBin;
using gs::testing::RunCommand;

nlohmann::json Bench(const std::string& prefix, const std::string& args) {
  std::string out;
  const int rc = RunCommand(prefix + GroupshardBin() + " bench --json " + args + " 2>/dev/null", &out);
  EXPECT_EQ(rc, 0) << out;
  const size_t brace = out.find('{');
  if (brace == std::string::npos) return nlohmann::json::object();
  return nlohmann::json::parse(out.substr(brace), nullptr, false);
}

void ExpectConsistent(const nlohmann::json& j, int tp, int batch) {
  ASSERT_TRUE(j.is_object() && j.contains("decode_tokens_per_s")) << j.dump();
  EXPECT_EQ(j["tp_size"], tp);
  EXPECT_EQ(j["batch"], batch);
  EXPECT_GT(j["prefill_tokens_per_s"].get<double>(), 0.0);
  const double tps = j["decode_tokens_per_s"].get<double>();
  const double step_ms = j["decode_step_ms"].get<double>();
  EXPECT_NEAR(tps, 1e3 * batch / step_ms, 1e-6 * tps);
  // achieved = bytes per step / step time.
  const double bytes = j["weight_bytes_per_step"].get<double>() + j["kv_bytes_per_step"].get<double>();
  EXPECT_NEAR(j["achieved_gb_per_s"].get<double>(), bytes / (step_ms * 1e-3) * 1e-9,
              1e-6 * bytes);
  EXPECT_GT(j["probe_gb_per_s"].get<double>(), 0.0);
  EXPECT_NEAR(j["roofline_fraction"].get<double>(),
              j["achieved_gb_per_s"].get<double>() / j["probe_gb_per_s"].get<double>(), 1e-9);
}

// decode_step.breakdown: rank 0's step by kind of device call, then
// collectives and the rest. The kinds add up to the compute time and all of
// it to the step; a decode step makes the calls one Forward makes per layer.
void ExpectBreakdown(const nlohmann::json& j, const ModelConfig& c, int np) {
  ASSERT_TRUE(j.contains("decode_step") && j["decode_step"].contains("breakdown")) << j.dump();
  const auto& b = j["decode_step"]["breakdown"];
  const auto& rank0 = j["decode_step"]["rank0"];
  ASSERT_TRUE(b.is_object() && b.contains("collectives") && b.contains("other")) << b.dump();
  double compute = 0, all = 0;
  for (const auto& [kind, part] : b.items()) {
    ASSERT_TRUE(part.contains("ms") && part.contains("calls")) << kind;
    EXPECT_GE(part["ms"].get<double>(), 0.0) << kind;
    EXPECT_GE(part["calls"].get<double>(), 0.0) << kind;
    all += part["ms"].get<double>();
    if (kind != "collectives" && kind != "other") compute += part["ms"].get<double>();
  }
  const double compute_ms = rank0["compute_ms"]["mean"].get<double>();
  const double step_ms = rank0["step_ms"]["mean"].get<double>();
  EXPECT_NEAR(compute, compute_ms, 1e-6 * compute_ms + 1e-9);
  EXPECT_NEAR(b["collectives"]["ms"].get<double>(), rank0["collective_ms"]["mean"].get<double>(),
              1e-12);
  // "other" is the step's rest, so the whole adds up to the step.
  EXPECT_NEAR(all, step_ms, 1e-6 * step_ms + 1e-9);

  const double L = c.n_layers;
  const std::pair<const char*, double> calls[] = {
      {"matmul_qkv", L},     {"matmul_o", L},         {"matmul_gate_up", L}, {"matmul_down", L},
      {"matmul_lm_head", 1}, {"attention", L},        {"kv_append", L},      {"rope", 2 * L},
      {"silu_mul", L},       {"rms_norm", 2 * L + 1}, {"embedding", 1}};
  for (const auto& [kind, n] : calls) {
    ASSERT_TRUE(b.contains(kind)) << kind << " missing: " << b.dump();
    EXPECT_EQ(b[kind]["calls"].get<double>(), n) << kind;
  }
  // Every product reads a labelled weight.
  EXPECT_FALSE(b.contains("matmul")) << b.dump();
  if (np == 1) {
    // The products add to the residual themselves; only the embedding's
    // all-reduce is left.
    EXPECT_FALSE(b.contains("add")) << b.dump();
    EXPECT_EQ(b["collectives"]["calls"].get<double>(), 1.0);
  } else {
    // A row-parallel product goes to scratch, is all-reduced and added: two
    // per layer; the embedding's all-reduce and the logits' gather.
    ASSERT_TRUE(b.contains("add")) << b.dump();
    EXPECT_EQ(b["add"]["calls"].get<double>(), 2 * L);
    EXPECT_EQ(b["collectives"]["calls"].get<double>(), 2 * L + 2);
  }
}

TEST(BenchCliTest, FiguresAreConsistentOnOneRank) {
  const auto j = Bench("timeout 120 ", "--model " + DataPath("models/g9x3.q8_0.gguf") +
                                           " --prompt-tokens 16 --gen-tokens 4 --batch 3 "
                                           "--threads 2 --repeat 1");
  ExpectConsistent(j, 1, 3);
  EXPECT_EQ(j["threads"], 2);
  auto src = WeightSource::Open(DataPath("models/g9x3.q8_0.gguf"));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  ExpectBreakdown(j, (*src)->config(), 1);
}

TEST(BenchCliTest, WeightBytesSplitAcrossRanks) {
  const std::string model = " --model " + DataPath("models/g9x3.q8_0.gguf") +
                            " --prompt-tokens 8 --gen-tokens 2 --repeat 1";
  const auto one = Bench("timeout 120 ", model);
  const auto three = Bench(
      "timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 3 ", model);
  ExpectConsistent(one, 1, 1);
  ExpectConsistent(three, 3, 1);
  // Every rank reads only its slices, and together they read the model once,
  // up to the norms each rank keeps whole and the zero block that pads a row
  // slice with an odd number of blocks (this model's slices are a few blocks
  // wide, so that is several percent here and next to nothing on real ones).
  const double w1 = one["weight_bytes_per_step"].get<double>();
  const double w3 = three["weight_bytes_per_step"].get<double>();
  EXPECT_GE(w3, w1);
  EXPECT_LT(w3, 1.15 * w1);
}

// Per decode step, on rank 0 and the most of any rank: step, collective and
// compute times (measured apart, so compute + collectives <= step can fail
// if intervals were counted twice), and what rank 0 sent: the embedding's
// all-reduce and two per layer (no step broadcast, no gather from rank 0).
TEST(BenchCliTest, DecodeStepTimesAddUp) {
  const std::string path = DataPath("models/g9x3.q8_0.gguf");
  auto src = WeightSource::Open(path);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  const ModelConfig& c = (*src)->config();
  for (const int np : {2, 3}) {
    SCOPED_TRACE("np " + std::to_string(np));
    const int batch = 2;
    const auto j = Bench("timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none -np " +
                             std::to_string(np) + " ",
                         "--model " + path + " --prompt-tokens 8 --gen-tokens 6 --batch 2 --repeat 2");
    ExpectConsistent(j, np, batch);
    ASSERT_TRUE(j.contains("decode_step")) << j.dump();
    const auto& rank0 = j["decode_step"]["rank0"];
    const auto& most = j["decode_step"]["max_over_ranks"];
    for (const char* k : {"step_ms", "collective_ms", "compute_ms"}) {
      for (const char* s : {"mean", "p99"}) {
        ASSERT_TRUE(rank0[k].contains(s) && most[k].contains(s)) << j.dump();
        EXPECT_GE(rank0[k][s].get<double>(), 0.0) << k << " " << s;
        EXPECT_GE(most[k][s].get<double>(), rank0[k][s].get<double>()) << k << " " << s;
      }
    }
    EXPECT_GT(rank0["collective_ms"]["mean"].get<double>(), 0.0);
    EXPECT_GT(rank0["compute_ms"]["mean"].get<double>(), 0.0);
    EXPECT_LE(rank0["compute_ms"]["mean"].get<double>() +
                  rank0["collective_ms"]["mean"].get<double>(),
              rank0["step_ms"]["mean"].get<double>() + 1e-6);
    // The figures a step's mean is made of agree with decode_step_ms (the
    // fastest run's wall time per step, over all ranks, barriers aside).
    EXPECT_LE(rank0["step_ms"]["mean"].get<double>(), j["decode_step_ms"].get<double>() * 1.5);
    const Traffic ar = AllReduceSumTraffic(int64_t{batch} * c.hidden_size, np, 0);
    EXPECT_EQ(rank0["messages"].get<int64_t>(), (2 * c.n_layers + 1) * ar.messages);
    EXPECT_EQ(rank0["bytes"].get<int64_t>(), (2 * c.n_layers + 1) * ar.bytes);
    EXPECT_GE(most["bytes"].get<int64_t>(), rank0["bytes"].get<int64_t>());
    ExpectBreakdown(j, c, np);
  }
}

TEST(BenchCliTest, RejectsBadArguments) {
  std::string out;
  EXPECT_EQ(RunCommand(GroupshardBin() + " bench --model " + DataPath("models/g9x3.q8_0.gguf") +
                           " --activations int4 2>&1",
                       &out),
            2)
      << out;
  EXPECT_NE(out.find("--activations"), std::string::npos) << out;
}

}  // namespace
}  // namespace gs
