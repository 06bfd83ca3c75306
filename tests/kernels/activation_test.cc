// SwiGLU's silu(gate) * up on the CPU against the formula in double
// precision, over the whole range the vector exp clamps (and its edges).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/activation.h"
#include "kernels/thread_pool.h"

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

// Shared among 2-3 threads, every element comes out as on one thread: the
// runs start at whole vectors, and the scalar tail is the same few elements.
TEST(SiluMulTest, SplitOverThreadsChangesNoBit) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-12.0f, 12.0f);
  for (const int64_t n : {kernels::kSiluSplitElems - 1, int64_t{16 * 1536 + 13}}) {
    std::vector<float> gate(n), up(n), want(n);
    for (int64_t i = 0; i < n; ++i) {
      gate[i] = dist(rng);
      up[i] = dist(rng);
    }
    kernels::SiluMul(gate.data(), up.data(), n, want.data());
    for (const int threads : {2, 3}) {
      ThreadPool pool(threads);
      std::vector<float> got(n, NAN);
      kernels::SiluMul(gate.data(), up.data(), n, got.data(), &pool);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), n * sizeof(float)), 0)
          << n << " elements, " << threads << " threads";
      // In place (out aliases gate), as the model calls it.
      std::vector<float> in_place = gate;
      kernels::SiluMul(in_place.data(), up.data(), n, in_place.data(), &pool);
      EXPECT_EQ(std::memcmp(in_place.data(), want.data(), n * sizeof(float)), 0)
          << n << " elements in place, " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace gs
