#include "core/step_traffic.h"

#include <cstdio>

#include <gtest/gtest.h>

#include "core/model_config.h"
#include "core/step_protocol.h"

namespace gs {
namespace {

TEST(StepTrafficTest, StepMessages) {
  // A decode step of batch 1 fits the first message; 16 sequences of 64
  // blocks do not: 16 · (5 + 64) = 1104 ints, 506 in the first message.
  EXPECT_EQ(StepChannel::StepMessageBytes(1, 64, 1).rest, 0);
  EXPECT_EQ(StepChannel::StepMessageBytes(16, 16 * 64, 16).rest, 4 * (1104 - 506));
  EXPECT_EQ(StepChannel::StepMessageBytes(16, 16 * 64, 16).first, 2048);
}

TEST(StepTrafficTest, OneRankSendsNothing) {
  auto plan = ShardPlan::Make(Llama3_8BShape(), 1);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(StepTraffic(*plan, 0, DecodeStep(1, 128)), (Traffic{0, 0}));
}

// Llama-3-8B, a decode step of batch 1 at context 2048 (128 blocks of 16):
// the figures in the README.
TEST(StepTrafficTest, Llama3_8BDecode) {
  const int64_t H = 4096, V = 128256;
  for (const int P : {2, 4, 8}) {
    auto plan = ShardPlan::Make(Llama3_8BShape(), P);
    ASSERT_TRUE(plan.ok());
    const StepSizes step = DecodeStep(1, 128);
    const Traffic r0 = StepTraffic(*plan, 0, step);
    const Traffic r1 = StepTraffic(*plan, 1, step);
    const int64_t ar_msgs = P == 2 ? 1 : 2 * (P - 1);
    const int64_t ar_bytes = P == 2 ? 4 * H : 4 * 2 * (P - 1) * (H / P);
    EXPECT_EQ(r0, (Traffic{65 * ar_msgs + (P - 1), 65 * ar_bytes + (P - 1) * 2048}));
    EXPECT_EQ(r1, (Traffic{65 * ar_msgs + 1, 65 * ar_bytes + 4 * (V / P)}));
    EXPECT_EQ(MaxStepTraffic(*plan, step), (Traffic{r0.messages, r1.bytes}));
    std::printf(
        "[traffic] Llama-3-8B P=%d decode batch 1: rank 0 %lld messages %lld B, "
        "rank 1.. %lld messages %lld B\n",
        P, static_cast<long long>(r0.messages), static_cast<long long>(r0.bytes),
        static_cast<long long>(r1.messages), static_cast<long long>(r1.bytes));
  }
}

}  // namespace
}  // namespace gs
