#include "kernels/cpu/quant_dot.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"

namespace gs::kernels::cpu {

void QuantizeRowQ8(const float* x, int64_t k, Q8Act* out) {
  CHECK(k % kQBlock == 0) << "activation row of " << k << " elements";
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 zero = _mm256_setzero_ps();
  const __m256 k127 = _mm256_set1_ps(127.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < k / kQBlock; ++b, x += kQBlock) {
    __m256i qi[4];
    __m256 sum = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      const __m256 v = _mm256_loadu_ps(x + 8 * i);
      // Every element gets the largest magnitude of its group of four.
      __m256 m = _mm256_andnot_ps(sign_bit, v);
      m = _mm256_max_ps(m, _mm256_permute_ps(m, 0xb1));
      m = _mm256_max_ps(m, _mm256_permute_ps(m, 0x4e));
      const __m256 d = _mm256_div_ps(m, k127);
      const __m256 nz = _mm256_cmp_ps(m, zero, _CMP_GT_OQ);
      const __m256 id = _mm256_and_ps(nz, _mm256_div_ps(k127, m));
      const __m256 r = _mm256_round_ps(_mm256_mul_ps(v, id),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      qi[i] = _mm256_cvtps_epi32(r);
      sum = _mm256_fmadd_ps(r, d, sum);
      // Elements 0 and 4 of the vector start its two groups.
      out[b].d[2 * i] = _mm256_cvtss_f32(d);
      out[b].d[2 * i + 1] = _mm_cvtss_f32(_mm256_extractf128_ps(d, 1));
    }
    const __m256i p01 = _mm256_packs_epi32(qi[0], qi[1]);
    const __m256i p23 = _mm256_packs_epi32(qi[2], qi[3]);
    const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), p);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    out[b].s = _mm_cvtss_f32(s4);
  }
}

// AVX2 (the x86-64-v3 baseline): maddubs to int16 pairs, then madd to int32.
#define GS_QD_NS avx2
#define GS_QD_IDOT(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
#include "kernels/cpu/quant_dot_body.inc"
#undef GS_QD_NS
#undef GS_QD_IDOT

// AVX-512 VNNI: one dpbusd does the same with no int16 saturation step. Only
// called when the CPU reports it (PickQuantDot).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#define GS_QD_NS vnni
#define GS_QD_IDOT(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s)
#include "kernels/cpu/quant_dot_body.inc"
#undef GS_QD_NS
#undef GS_QD_IDOT
#pragma GCC pop_options

QuantRowsFn PickQuantRows(DType t, bool allow_wide) {
  const bool wide = allow_wide && CpuHasAvx512Vnni();
  switch (t) {
    case DType::kQ8_0:
      return wide ? vnni::Rows<DType::kQ8_0> : avx2::Rows<DType::kQ8_0>;
    case DType::kQ4_0:
      return wide ? vnni::Rows<DType::kQ4_0> : avx2::Rows<DType::kQ4_0>;
    case DType::kQ4_1:
      return wide ? vnni::Rows<DType::kQ4_1> : avx2::Rows<DType::kQ4_1>;
    default:
      return nullptr;
  }
}

}  // namespace gs::kernels::cpu
