// TimedOps: every timed call counts once, under its kind, and the kinds add
// up to the total; products count under the label of their first weight.
#include "kernels/timed_ops.h"

#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/cpu_ops.h"

namespace gs::kernels {
namespace {

const TimedOps::KindTotals* Find(const TimedOps& t, const std::string& name) {
  for (const auto& k : t.kinds()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

TEST(TimedOpsTest, CountsEachCallUnderItsKind) {
  CpuOps cpu;
  TimedOps timed(cpu);
  auto a = timed.RandomWeight(8, 32, 0.1f, 1);
  auto b = timed.RandomWeight(8, 32, 0.1f, 2);
  auto other = timed.RandomWeight(8, 32, 0.1f, 3);
  timed.LabelProducts(*a, "matmul_ab");
  timed.LabelProducts(*b, "matmul_ab");

  std::vector<float> x(2 * 32, 0.5f), y1(2 * 8), y2(2 * 8);
  const DeviceOps::Product ab[] = {{a.get(), y1.data()}, {b.get(), y2.data()}};
  timed.MatMul(x.data(), 2, ab);
  const DeviceOps::Product b_only{b.get(), y2.data()};
  timed.MatMul(x.data(), 2, {&b_only, 1});
  const DeviceOps::Product unlabelled{other.get(), y1.data()};
  timed.MatMul(x.data(), 2, {&unlabelled, 1});
  timed.Add(y1.data(), y2.data(), 16);

  ASSERT_NE(Find(timed, "matmul_ab"), nullptr);
  EXPECT_EQ(Find(timed, "matmul_ab")->calls, 2);
  EXPECT_EQ(Find(timed, "matmul")->calls, 1);
  EXPECT_EQ(Find(timed, "add")->calls, 1);
  EXPECT_EQ(Find(timed, "allocate")->calls, 3);
  EXPECT_EQ(Find(timed, "rms_norm")->calls, 0);
  // The fixed kinds come first, in Kind order.
  EXPECT_EQ(timed.kinds()[TimedOps::kAttention].name, "attention");
  EXPECT_EQ(timed.kinds().back().name, "matmul_ab");

  double sum = 0;
  for (const auto& k : timed.kinds()) {
    EXPECT_GE(k.seconds, 0.0) << k.name;
    sum += k.seconds;
  }
  EXPECT_GT(timed.seconds(), 0.0);
  EXPECT_NEAR(sum, timed.seconds(), 1e-12);
}

}  // namespace
}  // namespace gs::kernels
