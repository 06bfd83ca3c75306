#include "kernels/activation.h"

#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/vec_math.h"

namespace gs::kernels {

namespace {

void SiluMulRange(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = cpu::Exp8(_mm256_xor_ps(g, sign));  // e^-g
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)),
                                            _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace

void SiluMul(const float* gate, const float* up, int64_t n, float* out, ThreadPool* pool) {
  if (pool == nullptr || n < kSiluSplitElems) {
    SiluMulRange(gate, up, n, out);
    return;
  }
  // Runs start at multiples of 64 elements, so only the last run has a
  // scalar tail, the same elements as without the split.
  pool->Run(n, 64, [&](int64_t b, int64_t e, int) {
    SiluMulRange(gate + b, up + b, e - b, out + b);
  });
}

}  // namespace gs::kernels
