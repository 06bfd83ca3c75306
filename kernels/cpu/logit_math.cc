#include "kernels/logit_math.h"

#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/vec_math.h"

namespace gs::kernels {

float MaxOf(const float* x, int64_t n) {
  int64_t i = 0;
  float m = -INFINITY;
  if (n >= 32) {
    // Four accumulators hide the latency of vmaxps. max_ps(v, acc) keeps acc
    // where v is NaN.
    __m256 a0 = _mm256_set1_ps(-INFINITY), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm256_max_ps(_mm256_loadu_ps(x + i), a0);
      a1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), a1);
      a2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), a2);
      a3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), a3);
    }
    const __m256 a = _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, a);
    for (float v : lanes) m = v > m ? v : m;
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  if (m == -INFINITY) {
    // Every value is -inf or NaN: -inf if there is one, else NaN.
    for (int64_t j = 0; j < n; ++j) {
      if (x[j] == -INFINITY) return -INFINITY;
    }
    return NAN;
  }
  return m;
}

int64_t ArgMax(const float* x, int64_t n) {
  const float m = MaxOf(x, n);
  int64_t i = 0;
  const __m256 mv = _mm256_set1_ps(m);
  for (; i + 8 <= n; i += 8) {
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), mv, _CMP_EQ_OQ));
    if (mask != 0) return i + __builtin_ctz(static_cast<unsigned>(mask));
  }
  for (; i < n; ++i) {
    if (x[i] == m) return i;
  }
  return 0;  // m is NaN
}

double SumExp(const float* x, int64_t n, float shift, float scale, float* out) {
  constexpr float kLowest = -87.0f;  // where Exp8 clamps
  int64_t i = 0;
  const __m256 sh = _mm256_set1_ps(shift), sc = _mm256_set1_ps(scale), lo = _mm256_set1_ps(kLowest);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    const __m256 a = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh), sc);
    // Lanes below the clamp (and NaN lanes) become 0.
    const __m256 e = _mm256_and_ps(cpu::Exp8(a), _mm256_cmp_ps(a, lo, _CMP_GE_OQ));
    if (out) _mm256_storeu_ps(out + i, e);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  double sum = cpu::HSum(_mm256_add_pd(s0, s1));
  for (; i < n; ++i) {
    const float a = (x[i] - shift) * scale;
    const float e = a >= kLowest ? std::exp(a) : 0.0f;
    if (out) out[i] = e;
    sum += e;
  }
  return sum;
}

int64_t IndicesAtLeast(const float* x, int64_t n, float cut, int32_t* out) {
  int64_t m = 0, i = 0;
  const __m256 c = _mm256_set1_ps(cut);
  for (; i + 8 <= n; i += 8) {
    auto mask = static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), c, _CMP_GE_OQ)));
    while (mask != 0) {
      out[m++] = static_cast<int32_t>(i + __builtin_ctz(mask));
      mask &= mask - 1;
    }
  }
  for (; i < n; ++i) {
    if (x[i] >= cut) out[m++] = static_cast<int32_t>(i);
  }
  return m;
}

}  // namespace gs::kernels
