// The sampler's passes over a row of logits against plain loops in double
// precision: maximum, first index of the maximum, and sums of exponentials
// (with the terms written out), over vector bodies and scalar tails.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/logit_math.h"

namespace gs {
namespace {

std::vector<float> Row(int64_t n, uint32_t seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = d(rng);
  return x;
}

TEST(LogitMathTest, MaxAndArgMaxFindTheFirstLargest) {
  for (int64_t n : {1, 7, 8, 31, 32, 33, 1000, 49152, 49155}) {
    std::vector<float> x = Row(n, static_cast<uint32_t>(n), 4.0f);
    int64_t want = 0;
    for (int64_t i = 1; i < n; ++i) {
      if (x[i] > x[want]) want = i;
    }
    EXPECT_EQ(kernels::MaxOf(x.data(), n), x[want]) << n;
    EXPECT_EQ(kernels::ArgMax(x.data(), n), want) << n;
    if (n > 2) {
      // A tie: the first one wins, wherever the two fall in the vectors.
      x[n - 1] = x[want];
      EXPECT_EQ(kernels::ArgMax(x.data(), n), want) << n;
      x[0] = x[want];
      EXPECT_EQ(kernels::ArgMax(x.data(), n), 0) << n;
    }
  }
}

TEST(LogitMathTest, NansAreSkippedAndInfinitiesCount) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(100, -5.0f);
  x[3] = nan;
  x[40] = nan;
  x[77] = 2.0f;
  EXPECT_EQ(kernels::MaxOf(x.data(), 100), 2.0f);
  EXPECT_EQ(kernels::ArgMax(x.data(), 100), 77);
  x[90] = inf;
  EXPECT_EQ(kernels::ArgMax(x.data(), 100), 90);
  std::vector<float> low(50, -inf);
  low[10] = nan;
  EXPECT_EQ(kernels::MaxOf(low.data(), 50), -inf);
  EXPECT_EQ(kernels::ArgMax(low.data(), 50), 0);
  std::vector<float> all_nan(20, nan);
  EXPECT_TRUE(std::isnan(kernels::MaxOf(all_nan.data(), 20)));
  EXPECT_EQ(kernels::ArgMax(all_nan.data(), 20), 0);
}

TEST(LogitMathTest, SumExpMatchesDoublePrecision) {
  for (int64_t n : {1, 9, 1003, 49152, 128256}) {
    for (float scale : {1.0f, 1.0f / 0.7f, 50.0f}) {
      const std::vector<float> x = Row(n, 7u + static_cast<uint32_t>(n), 3.0f);
      double mx = x[0];
      for (float v : x) mx = std::max<double>(mx, v);
      std::vector<float> terms(n, NAN);
      const double got = kernels::SumExp(x.data(), n, static_cast<float>(mx), scale, terms.data());
      double want = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float a = (x[i] - static_cast<float>(mx)) * scale;  // the argument, as the kernel forms it
        const double t = a < -87.0f ? 0.0 : std::exp(static_cast<double>(a));
        want += t;
        ASSERT_NEAR(terms[i], t, 3e-7 * t) << "n " << n << " i " << i << " a " << a;
      }
      EXPECT_NEAR(got, want, 1e-6 * want) << n << " " << scale;
      EXPECT_EQ(kernels::SumExp(x.data(), n, static_cast<float>(mx), scale, nullptr), got);
    }
  }
}

TEST(LogitMathTest, SumExpDropsTermsPastTheClampAndInfinities) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(24, -1000.0f);
  x[5] = 0.0f;
  x[13] = -inf;
  x[23] = -86.0f;  // above the clamp: kept
  std::vector<float> out(24, NAN);
  const double s = kernels::SumExp(x.data(), 24, 0.0f, 1.0f, out.data());
  EXPECT_NEAR(s, 1.0 + std::exp(-86.0), 1e-7);
  for (int i = 0; i < 24; ++i) {
    if (i == 5 || i == 23) continue;
    EXPECT_EQ(out[i], 0.0f) << i;
  }
  // In place, and with the tail done without vectors.
  std::vector<float> y = {0.0f, -1.0f, -2000.0f};
  const double t = kernels::SumExp(y.data(), 3, 0.0f, 1.0f, y.data());
  EXPECT_NEAR(t, 1.0 + std::exp(-1.0), 1e-7);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[2], 0.0f);
}

}  // namespace
}  // namespace gs
