// SwiGLU's silu(gate) * up on the CPU against the formula in double
// precision, over the whole range the vector exp clamps (and its edges).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/activation.h"

namespace gs {
namespace {

TEST(SiluMulTest, MatchesTheFormula) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> wide(-120.0f, 120.0f), narrow(-6.0f, 6.0f);
  const int64_t n = 1003;  // vector body and a scalar tail
  std::vector<float> gate(n), up(n), out(n, NAN);
  for (int64_t i = 0; i < n; ++i) {
    gate[i] = i % 3 == 0 ? wide(rng) : narrow(rng);
    up[i] = narrow(rng);
  }
  gate[0] = 0.0f;
  gate[1] = -87.5f;  // past the clamp
  gate[2] = 88.5f;
  kernels::SiluMul(gate.data(), up.data(), n, out.data());
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    const double want = g / (1.0 + std::exp(-g)) * up[i];
    EXPECT_NEAR(out[i], want, 4e-7 * std::fabs(want) + 1e-30) << "gate " << g;
  }
}

}  // namespace
}  // namespace gs
