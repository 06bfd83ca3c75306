#include "parallel/collective_traffic.h"

#include <gtest/gtest.h>

namespace gs {
namespace {

TEST(CollectiveTrafficTest, AllReduceSum) {
  EXPECT_EQ(AllReduceSumTraffic(4096, 1, 0), (Traffic{0, 0}));
  EXPECT_EQ(AllReduceSumTraffic(4096, 2, 1), (Traffic{1, 4 * 4096}));
  // P = 4, n = 4096: chunks of 1024; 3 sends out, 3 sends of the sum.
  EXPECT_EQ(AllReduceSumTraffic(4096, 4, 2), (Traffic{6, 4 * (3 * 1024 + 3 * 1024)}));
  // n = 10, P = 3: chunks 4, 3, 3.
  EXPECT_EQ(AllReduceSumTraffic(10, 3, 0), (Traffic{4, 4 * (6 + 2 * 4)}));
  EXPECT_EQ(AllReduceSumTraffic(10, 3, 2), (Traffic{4, 4 * (7 + 2 * 3)}));
  // n = 2 < P = 3: chunks 1, 1, 0; rank 2 has nothing to gather back.
  EXPECT_EQ(AllReduceSumTraffic(2, 3, 0), (Traffic{3, 4 * (1 + 2)}));
  EXPECT_EQ(AllReduceSumTraffic(2, 3, 2), (Traffic{2, 4 * 2}));
  EXPECT_EQ(AllReduceSumTraffic(0, 3, 0), (Traffic{0, 0}));
  // About 2(P - 1)/P of the vector per rank, against (P - 1) for an all-gather of it.
  const Traffic t = AllReduceSumTraffic(1 << 20, 8, 3);
  EXPECT_EQ(t.bytes, 4 * 2 * 7 * (1 << 17));
  EXPECT_LT(t.bytes, AllGatherTraffic(4 << 20, 8).bytes / 3);
}

TEST(CollectiveTrafficTest, GatherAllGatherBroadcast) {
  EXPECT_EQ(AllGatherTraffic(8, 3), (Traffic{2, 16}));
  EXPECT_EQ(GatherVTraffic(100, 0, 0), (Traffic{0, 0}));
  EXPECT_EQ(GatherVTraffic(100, 2, 0), (Traffic{1, 400}));
  EXPECT_EQ(BroadcastTraffic(24, 4, 0, 0), (Traffic{3, 72}));
  EXPECT_EQ(BroadcastTraffic(24, 4, 1, 0), (Traffic{0, 0}));
  EXPECT_EQ(BroadcastTraffic(0, 4, 0, 0), (Traffic{0, 0}));
}

}  // namespace
}  // namespace gs
