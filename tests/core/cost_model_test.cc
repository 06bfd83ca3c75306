#include "core/cost_model.h"

#include <gtest/gtest.h>

#include "core/step_traffic.h"
#include "tests/test_util.h"

namespace gs {
namespace {

// H 64, I 128, L 2, N 4, G 2, hd 16, V 256: admits P = 1, 2, 4.
ModelConfig SmallShape() {
  ModelConfig c;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 256;
  return c;
}

// Each rank holds 1e6 / P bytes of layers and an embedding slice (not read
// per token), and 100 bytes of K/V per token.
PlanReport SmallPlan(int P) {
  PlanReport rep;
  rep.config = SmallShape();
  rep.tp_size = P;
  auto plan = ShardPlan::Make(rep.config, P);
  EXPECT_TRUE(plan.ok());
  for (const RankShard& s : plan->ranks()) {
    RankReport r;
    r.shard = s;
    r.weights.layers = 1000000 / P;
    r.weights.embedding = 9999;
    r.kv_bytes_per_token = 100;
    rep.ranks.push_back(r);
  }
  return rep;
}

CostInputs SmallInputs() {
  CostInputs in;
  in.link = {1e9, 10e-6};  // 1 Gbit/s = 1.25e8 B/s, 10 us
  in.memory_bytes_per_s = 1e9;
  in.context = 10;  // 1 KV block of 16: the step fits StepChannel's first message (2048 bytes)
  in.block_size = 16;
  return in;
}

TEST(CostModelTest, OneRankIsMemoryAlone) {
  const DecodeCost c = PredictDecode(SmallPlan(1), SmallInputs());
  // (1e6 weights + 10 * 100 KV) / 1e9 B/s; no collectives.
  EXPECT_DOUBLE_EQ(c.memory_s, 1.001e-3);
  EXPECT_EQ(c.collectives_s(), 0.0);
  EXPECT_DOUBLE_EQ(c.step_s(), 1.001e-3);
}

TEST(CostModelTest, TwoRanksExchangeOncePerAllReduce) {
  const DecodeCost c = PredictDecode(SmallPlan(2), SmallInputs());
  EXPECT_DOUBLE_EQ(c.memory_s, 0.501e-3);  // (5e5 + 1000) / 1e9
  // 2L + 1 = 5 all-reduces of 64 floats: 1 message and 256 bytes each.
  EXPECT_EQ(c.traffic.all_reduce.messages, 5);
  EXPECT_EQ(c.traffic.all_reduce.bytes, 1280);
  EXPECT_NEAR(c.all_reduce_latency_s, 50e-6, 1e-15);
  EXPECT_NEAR(c.all_reduce_bandwidth_s, 1280 / 1.25e8, 1e-15);
  // Rank 1's 128 logits to rank 0.
  EXPECT_EQ(c.traffic.gather.messages, 1);
  EXPECT_EQ(c.traffic.gather.bytes, 512);
  EXPECT_NEAR(c.gather_s, 10e-6 + 512 / 1.25e8, 1e-15);
  // The step in StepChannel's one 2 KiB message, one round of the tree.
  EXPECT_EQ(c.traffic.broadcast.messages, 1);
  EXPECT_EQ(c.traffic.broadcast.bytes, 2048);
  EXPECT_NEAR(c.broadcast_s, 10e-6 + 2048 / 1.25e8, 1e-15);
  EXPECT_NEAR(c.step_s(), 0.60172e-3, 1e-12);
}

TEST(CostModelTest, FourRanksReduceScatterThenAllGather) {
  const DecodeCost c = PredictDecode(SmallPlan(4), SmallInputs());
  EXPECT_DOUBLE_EQ(c.memory_s, 0.251e-3);
  // Per all-reduce: 3 chunks of 16 floats out, 3 reduced chunks back.
  EXPECT_EQ(c.traffic.all_reduce.messages, 5 * 6);
  EXPECT_EQ(c.traffic.all_reduce.bytes, 5 * 6 * 64);
  EXPECT_EQ(c.traffic.gather.messages, 3);
  EXPECT_EQ(c.traffic.gather.bytes, 4 * 192);
  EXPECT_EQ(c.traffic.broadcast.messages, 3);  // rank 0 to each other rank
  EXPECT_EQ(c.traffic.broadcast.bytes, 3 * 2048);
  EXPECT_NEAR(c.broadcast_s, 30e-6 + 6144 / 1.25e8, 1e-15);
  EXPECT_NEAR(c.step_s(), 0.681656e-3, 1e-12);
}

TEST(CostModelTest, RankZeroSendsWhatTheStepCountsFor) {
  // Rank 0 sends the broadcast and its all-reduce parts (every chunk of 64
  // floats over 4 ranks is 16, so it sends as much as any rank).
  for (int P : {2, 4}) {
    const DecodeCost c = PredictDecode(SmallPlan(P), SmallInputs());
    auto plan = ShardPlan::Make(SmallShape(), P);
    ASSERT_TRUE(plan.ok());
    Traffic sent = c.traffic.all_reduce;
    sent += c.traffic.broadcast;
    EXPECT_EQ(sent, StepTraffic(*plan, 0, DecodeStep(1, 1))) << "P=" << P;
  }
}

TEST(CostModelTest, TheRankWithMostBytesSetsThePace) {
  PlanReport rep = SmallPlan(2);
  rep.ranks[1].weights.layers += 1000;
  const DecodeCost c = PredictDecode(rep, SmallInputs());
  EXPECT_EQ(c.slowest_rank, 1);
  EXPECT_EQ(c.weight_bytes, 501000);
}

DecodeCost Step(int p, double ms) {
  DecodeCost c;
  c.tp_size = p;
  c.memory_s = ms * 1e-3;
  return c;
}

TEST(CostModelTest, NoFurtherSpeedupIsTheSmallestPNoLargerOneBeats) {
  const std::vector<DecodeCost> small = {PredictDecode(SmallPlan(1), SmallInputs()),
                                         PredictDecode(SmallPlan(2), SmallInputs()),
                                         PredictDecode(SmallPlan(4), SmallInputs())};
  EXPECT_EQ(NoFurtherSpeedupTp(small), 2);
  EXPECT_EQ(NoFurtherSpeedupTp({Step(1, 10), Step(2, 6), Step(3, 7), Step(4, 5), Step(6, 8)}), 4);
  EXPECT_EQ(NoFurtherSpeedupTp({Step(1, 1), Step(2, 2), Step(4, 3)}), 1);
  EXPECT_EQ(NoFurtherSpeedupTp({Step(1, 3), Step(2, 2), Step(4, 1)}), 4);
}

TEST(CostModelTest, ScanCoversEverySizeTheShardPlanAccepts) {
  auto src = WeightSource::Open(gs::testing::DataPath("models/g9x3.gguf"));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto scan = ScanTpSizes(**src, DType::kF16, SmallInputs());
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  std::vector<int> sizes;
  for (const DecodeCost& c : *scan) sizes.push_back(c.tp_size);
  EXPECT_EQ(sizes, (std::vector<int>{1, 2, 3, 9}));
}

TEST(CostModelTest, ParsesRatesAndLatencies) {
  EXPECT_DOUBLE_EQ(*ParseLinkRate("100gbit"), 100e9);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("10Gbit"), 10e9);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("1gbit"), 1e9);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("800mbit"), 800e6);
  EXPECT_DOUBLE_EQ(*ParseLatency("5us"), 5e-6);
  EXPECT_DOUBLE_EQ(*ParseLatency("50us"), 50e-6);
  EXPECT_DOUBLE_EQ(*ParseLatency("0.2ms"), 0.2e-3);
  EXPECT_DOUBLE_EQ(*ParseLatency("0s"), 0.0);
  auto net = ParseNetwork("10gbit,50us");
  ASSERT_TRUE(net.ok());
  EXPECT_DOUBLE_EQ(net->bits_per_s, 10e9);
  EXPECT_DOUBLE_EQ(net->bytes_per_s(), 1.25e9);
  EXPECT_DOUBLE_EQ(net->latency_s, 50e-6);
}

TEST(CostModelTest, RefusesBadValuesSayingWhy) {
  for (const char* bad : {"10", "10gb", "fast", "", "-1gbit", "0gbit", "10 gbit", "nangbit"}) {
    auto r = ParseLinkRate(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("link rate"), std::string::npos) << bad;
  }
  for (const char* bad : {"5", "5usec", "-5us", "us"}) {
    auto r = ParseLatency(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("latency"), std::string::npos) << bad;
  }
  EXPECT_FALSE(ParseNetwork("10gbit").ok());
  EXPECT_FALSE(ParseNetwork("10gbit,").ok());
  EXPECT_FALSE(ParseNetwork(",5us").ok());
}

}  // namespace
}  // namespace gs
