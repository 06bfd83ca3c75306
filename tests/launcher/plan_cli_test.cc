// `groupshard plan --network` as a user runs it: the decode cost model's
// breakdown, prediction and scan over P, in text and JSON, and the refusal of
// a link it cannot read.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace gs {
namespace {

using gs::testing::DataPath;
using gs::testing::GroupshardBin;
using gs::testing::RunCommand;

std::string Plan(const std::string& args, int* rc) {
  std::string out;
  *rc = RunCommand("timeout 60 " + GroupshardBin() + " plan --model " +
                       DataPath("models/g9x3.gguf") + " " + args + " 2>&1",
                   &out);
  return out;
}

TEST(PlanCliTest, NetworkJsonCarriesTheBreakdownAndTheScan) {
  int rc = 0;
  const std::string out =
      Plan("--json --tp 3 --context 64 --network 10gbit,50us --memory-bandwidth 20", &rc);
  ASSERT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out);
  ASSERT_TRUE(j.contains("cost")) << out;
  const auto& c = j["cost"];
  EXPECT_EQ(c["tp_size"], 3);
  EXPECT_DOUBLE_EQ(c["link_bits_per_s"].get<double>(), 10e9);
  EXPECT_DOUBLE_EQ(c["link_latency_us"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(c["memory_gb_per_s"].get<double>(), 20.0);
  EXPECT_EQ(c["memory_bandwidth_source"], "given");
  const double parts = c["memory_ms"].get<double>() + c["all_reduce_latency_ms"].get<double>() +
                       c["all_reduce_bandwidth_ms"].get<double>() + c["gather_ms"].get<double>() +
                       c["broadcast_ms"].get<double>();
  EXPECT_NEAR(c["ms_per_token"].get<double>(), parts, 1e-9);
  EXPECT_NEAR(c["tokens_per_s"].get<double>(), 1e3 / parts, 1e-6);
  // 2 layers: 5 all-reduces, each 2 (P - 1) messages at P = 3.
  EXPECT_EQ(c["all_reduce"]["messages"], 20);
  EXPECT_NEAR(c["all_reduce_latency_ms"].get<double>(), 20 * 0.05, 1e-9);
  ASSERT_EQ(c["scan"].size(), 4u);  // P = 1, 2, 3, 9
  EXPECT_EQ(c["scan"][3]["tp_size"], 9);
  EXPECT_EQ(c["scan"][2]["ms_per_token"], c["ms_per_token"]);
  // A model this small is all latency: one host is fastest.
  EXPECT_EQ(c["no_further_speedup_tp"], 1);
}

TEST(PlanCliTest, NetworkTextPrintsThePrediction) {
  int rc = 0;
  const std::string out = Plan("--tp 2 --network 100gbit,5us --memory-bandwidth 20", &rc);
  ASSERT_EQ(rc, 0) << out;
  for (const char* s :
       {"decode cost model", "memory ", "all-reduce latency", "all-reduce bandwidth",
        "logits gather", "step broadcast", "tokens/s at P=2",
        "no further speedup beyond P=", "memory bandwidth: given"}) {
    EXPECT_NE(out.find(s), std::string::npos) << s << "\n" << out;
  }
}

TEST(PlanCliTest, BadNetworkExitsTwo) {
  int rc = 0;
  std::string out = Plan("--tp 2 --network 10gbs,50us --memory-bandwidth 20", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("link rate"), std::string::npos) << out;
  out = Plan("--tp 2 --network 10gbit,50 --memory-bandwidth 20", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("latency"), std::string::npos) << out;
  out = Plan("--tp 2 --network 10gbit --memory-bandwidth 20", &rc);
  EXPECT_EQ(rc, 2) << out;
}

}  // namespace
}  // namespace gs
