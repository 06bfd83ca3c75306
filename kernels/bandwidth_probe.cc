#include "kernels/bandwidth_probe.h"

#include <immintrin.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "kernels/huge_pages.h"

namespace gs {

namespace {

// Sum of floats [b, e) with independent accumulators so loads, not adds,
// bound the loop.
float SumRange(const float* p, int64_t b, int64_t e) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = b;
  for (; i + 32 <= e; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  float out[8];
  _mm256_storeu_ps(out, s);
  float t = 0;
  for (float v : out) t += v;
  for (; i < e; ++i) t += p[i];
  return t;
}

}  // namespace

BandwidthProbe::BandwidthProbe(int64_t bytes, ThreadPool* pool)
    : n_(bytes / static_cast<int64_t>(sizeof(float)) / 32 * 32),
      buf_(static_cast<float*>(AllocateStreamed(n_ * sizeof(float)))),
      pool_(pool) {
  float* p = buf_;
  // Written by the threads that will read it, so pages land near them.
  auto fill = [p](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) p[i] = static_cast<float>(i & 7);
  };
  if (pool_ != nullptr) {
    pool_->Run(n_, 1024, fill);
  } else {
    fill(0, n_, 0);
  }
}

BandwidthProbe::~BandwidthProbe() { FreeStreamed(buf_); }

double BandwidthProbe::Pass() {
  float partial[64] = {};
  const float* p = buf_;
  const auto t0 = std::chrono::steady_clock::now();
  auto sum = [&](int64_t b, int64_t e, int t) { partial[t % 64] += SumRange(p, b, e); };
  if (pool_ != nullptr) {
    pool_->Run(n_, 1024, sum);
  } else {
    sum(0, n_, 0);
  }
  const auto t1 = std::chrono::steady_clock::now();
  volatile float sink = 0;
  for (float v : partial) sink = sink + v;
  return std::chrono::duration<double>(t1 - t0).count();
}

}  // namespace gs
