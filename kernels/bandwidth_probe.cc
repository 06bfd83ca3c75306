#include "kernels/bandwidth_probe.h"

#include <immintrin.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "kernels/huge_pages.h"

namespace gs {

namespace {

// Sum of floats [b, e), read as two sequential streams (the two halves of
// the range, a line of each in turn) with independent accumulators, so loads,
// not adds, bound the loop. Two streams per thread is how the one-token
// products read their weights; a single stream reads a few per cent slower.
float SumRange(const float* p, int64_t b, int64_t e) {
  const int64_t half = (e - b) / 2 / 16 * 16;
  const float* s0 = p + b;
  const float* s1 = p + b + half;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < half; i += 16) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(s0 + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(s0 + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(s1 + i));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(s1 + i + 8));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  float out[8];
  _mm256_storeu_ps(out, s);
  float t = 0;
  for (float v : out) t += v;
  for (int64_t i = b + 2 * half; i < e; ++i) t += p[i];
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
