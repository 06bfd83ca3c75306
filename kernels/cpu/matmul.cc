#include "kernels/matmul.h"

#include <immintrin.h>

#include "core/check.h"

namespace gs::kernels {

float Dot(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  float sum = 0.0f;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  acc0 = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  sum = _mm_cvtss_f32(s);
#endif
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

namespace {

// Four token rows against one weight row: the weight row is read once.
void Dot4(const float* w, const float* x0, const float* x1, const float* x2, const float* x3,
          int64_t n, float* out) {
  int64_t i = 0;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
         a3 = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = _mm256_loadu_ps(w + i);
    a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x0 + i), a0);
    a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x1 + i), a1);
    a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x2 + i), a2);
    a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x3 + i), a3);
  }
  auto hsum = [](__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
  };
  s0 = hsum(a0);
  s1 = hsum(a1);
  s2 = hsum(a2);
  s3 = hsum(a3);
#endif
  for (; i < n; ++i) {
    s0 += w[i] * x0[i];
    s1 += w[i] * x1[i];
    s2 += w[i] * x2[i];
    s3 += w[i] * x3[i];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

}  // namespace

void MatMul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y) {
  CHECK(w.dtype == DType::kF32) << "CPU MatMul supports fp32 weights, got " << DTypeName(w.dtype);
  const int64_t K = w.cols, N = w.rows;
  const float* W = w.f32();
  // Block over outputs so a tile of weight rows stays in cache across tokens.
  constexpr int64_t kRowTile = 64;
  for (int64_t o0 = 0; o0 < N; o0 += kRowTile) {
    const int64_t o1 = std::min(N, o0 + kRowTile);
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) {
      const float* x0 = x + t * K;
      for (int64_t o = o0; o < o1; ++o) {
        float out[4];
        Dot4(W + o * K, x0, x0 + K, x0 + 2 * K, x0 + 3 * K, K, out);
        y[t * N + o] = out[0];
        y[(t + 1) * N + o] = out[1];
        y[(t + 2) * N + o] = out[2];
        y[(t + 3) * N + o] = out[3];
      }
    }
    for (; t < n_tokens; ++t) {
      for (int64_t o = o0; o < o1; ++o) y[t * N + o] = Dot(W + o * K, x + t * K, K);
    }
  }
}

}  // namespace gs::kernels
