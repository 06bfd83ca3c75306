// RMSNorm on the CPU against the formula in long double, over widths with
// and without a tail past the vector body, rows of very different
// magnitudes, and in place.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/rms_norm.h"

namespace gs {
namespace {

TEST(RmsNormTest, MatchesTheFormula) {
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (const int64_t dim : {1, 7, 16, 17, 64, 576, 2048, 4099}) {
    SCOPED_TRACE(dim);
    const int64_t n = 3;
    const float scales[n] = {1.0f, 1e-3f, 300.0f};
    std::vector<float> x(n * dim), w(dim), y(n * dim, NAN);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t i = 0; i < dim; ++i) x[t * dim + i] = gauss(rng) * scales[t];
    }
    for (float& v : w) v = 1.0f + 0.5f * gauss(rng);
    const float eps = 1e-5f;
    kernels::RmsNorm(x.data(), w.data(), n, dim, eps, y.data());
    std::vector<float> in_place = x;
    kernels::RmsNorm(in_place.data(), w.data(), n, dim, eps, in_place.data());
    EXPECT_EQ(in_place, y);
    for (int64_t t = 0; t < n; ++t) {
      long double ss = 0;
      for (int64_t i = 0; i < dim; ++i) ss += static_cast<long double>(x[t * dim + i]) * x[t * dim + i];
      const long double inv = 1.0L / std::sqrt(ss / dim + eps);
      for (int64_t i = 0; i < dim; ++i) {
        const double want = static_cast<double>(x[t * dim + i] * inv * w[i]);
        EXPECT_NEAR(y[t * dim + i], want, 3e-7 * std::fabs(want) + 1e-30)
            << "token " << t << " element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace gs
