// Helpers for the CUDA tests: the skip guard, host<->device copies and
// comparisons with BF16-aware tolerances.
#pragma once

#ifdef GS_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"

// First statement of every test that needs a device.
#define GS_REQUIRE_GPU()                                                                 \
  do {                                                                                   \
    if (::gs::kernels::cuda::DeviceCount() == 0)                                         \
      GTEST_SKIP() << "no usable CUDA device (cudaGetDeviceCount failed or returned 0)"; \
  } while (0)

namespace gs::testing::cuda {

using kernels::cuda::DeviceBuffer;

inline std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Each value rounded to the nearest BF16 (so device and host see the same numbers).
inline std::vector<float> Bf16Round(std::vector<float> v) {
  for (float& x : v) x = BFloat16ToFloat(FloatToBFloat16(x));
  return v;
}

template <typename T>
DeviceBuffer ToDevice(const std::vector<T>& v) {
  DeviceBuffer b(std::max<size_t>(v.size(), 1) * sizeof(T));
  CUDA_CHECK(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}

inline DeviceBuffer ToDeviceBf16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = FloatToBFloat16(v[i]);
  return ToDevice(h);
}

// Waits for all queued work, then copies n elements back.
template <typename T>
std::vector<T> Download(const DeviceBuffer& b, int64_t n) {
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<T> h(n);
  CUDA_CHECK(cudaMemcpy(h.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

inline std::vector<float> DownloadBf16(const DeviceBuffer& b, int64_t n) {
  std::vector<uint16_t> h = Download<uint16_t>(b, n);
  std::vector<float> f(n);
  for (int64_t i = 0; i < n; ++i) f[i] = BFloat16ToFloat(h[i]);
  return f;
}

// |got - want| <= tol * (1 + |want|) elementwise; reports the worst element.
inline void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, double tol,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = std::fabs(double{got[i]} - want[i]) / (1.0 + std::fabs(double{want[i]}));
    if (std::isnan(e)) e = INFINITY;
    if (e > worst) {
      worst = e;
      at = i;
    }
  }
  EXPECT_LE(worst, tol) << what << ": worst at " << at << " got " << got[at] << " want "
                        << want[at];
}

}  // namespace gs::testing::cuda

#endif  // GS_HAVE_CUDA
