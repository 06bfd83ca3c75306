#include "parallel/shard_plan.h"

#include <gtest/gtest.h>

namespace gs {
namespace {

ModelShape Shape(int n_heads, int n_kv_heads, int head_dim, int inter, int vocab) {
  ModelShape c;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv_heads;
  c.head_dim = head_dim;
  c.hidden_size = n_heads * head_dim;
  c.intermediate_size = inter;
  c.n_layers = 2;
  c.vocab_size = vocab;
  return c;
}

TEST(ShardPlanTest, SmolLM2ShapeOnTwoRanksIsUneven) {
  // DESIGN.md table: rank 0 groups 0-1 heads 0-5, rank 1 group 2 heads 6-8.
  auto plan = ShardPlan::Make(Shape(9, 3, 64, 1536, 49152), 2);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->rank(0).kv_groups, (Range{0, 2}));
  EXPECT_EQ(plan->rank(0).q_heads, (Range{0, 6}));
  EXPECT_EQ(plan->rank(1).kv_groups, (Range{2, 3}));
  EXPECT_EQ(plan->rank(1).q_heads, (Range{6, 9}));
  EXPECT_EQ(plan->rank(0).mlp_cols.size() + plan->rank(1).mlp_cols.size(), 1536);
  EXPECT_EQ(plan->rank(0).mlp_cols.size() % 32, 0);
  EXPECT_EQ(plan->rank(1).mlp_cols.begin % 32, 0);
  EXPECT_EQ(plan->rank(0).vocab_rows, (Range{0, 24576}));
  EXPECT_EQ(plan->LocalGroupOfHead(0, 3), 1);
  EXPECT_EQ(plan->LocalGroupOfHead(1, 2), 0);
  EXPECT_EQ(plan->kv_replication(), 1);
}

TEST(ShardPlanTest, Llama70BShapeSharesEachGroupBetweenTwoRanks) {
  auto plan = ShardPlan::Make(Shape(64, 8, 128, 28672, 128256), 16);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->kv_replication(), 2);
  for (int r = 0; r < 16; ++r) {
    EXPECT_EQ(plan->rank(r).kv_groups, (Range{r / 2, r / 2 + 1}));
    EXPECT_EQ(plan->rank(r).q_heads.size(), 4);
    EXPECT_EQ(plan->rank(r).q_heads.begin, r * 4);
    for (int j = 0; j < 4; ++j) EXPECT_EQ(plan->LocalGroupOfHead(r, j), 0);
  }
}

TEST(ShardPlanTest, MqaReplicatesTheOnlyGroup) {
  auto plan = ShardPlan::Make(Shape(8, 1, 8, 128, 256), 4);
  ASSERT_TRUE(plan.ok());
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(plan->rank(r).kv_groups, (Range{0, 1}));
    EXPECT_EQ(plan->rank(r).q_heads, (Range{2 * r, 2 * r + 2}));
  }
}

TEST(ShardPlanTest, EveryHeadAndColumnOwnedExactlyOnce) {
  for (auto [n, g] : std::vector<std::pair<int, int>>{{4, 4}, {8, 1}, {8, 2}, {9, 3}, {32, 8}}) {
    ModelShape c = Shape(n, g, 8, 128, 256);
    for (int p : ShardPlan::ValidTpSizes(c)) {
      auto plan = ShardPlan::Make(c, p);
      ASSERT_TRUE(plan.ok()) << n << "/" << g << " P=" << p;
      std::vector<int> head_owner(n, 0);
      int64_t cols = 0, vocab = 0;
      for (const RankShard& s : plan->ranks()) {
        for (int64_t h = s.q_heads.begin; h < s.q_heads.end; ++h) {
          ++head_owner[h];
          // A head's group is among the rank's groups.
          EXPECT_GE(h / c.group_size(), s.kv_groups.begin);
          EXPECT_LT(h / c.group_size(), s.kv_groups.end);
        }
        cols += s.mlp_cols.size();
        vocab += s.vocab_rows.size();
      }
      for (int h = 0; h < n; ++h) EXPECT_EQ(head_owner[h], 1) << "head " << h << " P=" << p;
      EXPECT_EQ(cols, 128);
      EXPECT_EQ(vocab, 256);
    }
  }
}

TEST(ShardPlanTest, RefusesImpossibleSizesAndListsTheGoodOnes) {
  auto plan = ShardPlan::Make(Shape(9, 3, 64, 1536, 49152), 4);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("sizes that work: 1 2 3 9"), std::string::npos)
      << plan.status().message();
  EXPECT_FALSE(ShardPlan::Make(Shape(8, 2, 8, 128, 256), 16).ok());  // more ranks than heads
  EXPECT_FALSE(ShardPlan::Make(Shape(8, 2, 8, 128, 256), 6).ok());   // 6 % 2 == 0 but 4 % 3 != 0
  EXPECT_EQ(ShardPlan::ValidTpSizes(Shape(8, 2, 8, 128, 256)), (std::vector<int>{1, 2, 4, 8}));
}

TEST(ShardPlanTest, SplitEvenAlignsToBlocks) {
  auto r = SplitEven(1536, 3, 32);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], (Range{0, 512}));
  EXPECT_EQ(r[2], (Range{1024, 1536}));
  auto u = SplitEven(96, 2, 32);  // 3 blocks on 2 ranks
  EXPECT_EQ(u[0], (Range{0, 64}));
  EXPECT_EQ(u[1], (Range{64, 96}));
}

}  // namespace
}  // namespace gs

namespace gs {
namespace {

TEST(ShardPlanTest, KvBytesPerTokenIsTwoLayersGroupsHeadDimBytes) {
  // SmolLM2-135M: 30 layers, 9 heads in 3 groups of head_dim 64 (DESIGN.md table).
  ModelShape c = Shape(9, 3, 64, 1536, 49152);
  c.n_layers = 30;
  EXPECT_EQ(KvBytesPerToken(c, 3, DType::kBF16), 2 * 30 * 3 * 64 * 2);  // all groups
  auto plan = ShardPlan::Make(c, 2);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->KvBytesPerToken(0, DType::kBF16), 15 * 1024);  // groups 0-1: 15 KiB
  EXPECT_EQ(plan->KvBytesPerToken(1, DType::kBF16), 7680);       // group 2: 7.5 KiB
}

TEST(ShardPlanTest, KvBytesPerTokenCountsWholeRowsOfTheCacheDType) {
  ModelShape c = Shape(9, 3, 64, 1536, 49152);
  c.n_layers = 30;
  EXPECT_EQ(KvBytesPerToken(c, 3, DType::kF32), 2 * 30 * 3 * 64 * 4);
  EXPECT_EQ(KvBytesPerToken(c, 3, DType::kF16), 2 * 30 * 3 * 64 * 2);
  // Q8_0: two blocks of 32 per row of 64, each an fp16 scale and 32 int8.
  EXPECT_EQ(KvBytesPerToken(c, 3, DType::kQ8_0), 2 * 30 * 3 * 2 * 34);
  auto plan = ShardPlan::Make(c, 2);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->KvBytesPerToken(1, DType::kQ8_0), 2 * 30 * 1 * 68);
}

}  // namespace
}  // namespace gs
