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
  __m256 row_max = _mm256_setzero_ps();
  for (int64_t i = 0; i < k; i += 8) {
    row_max = _mm256_max_ps(row_max, _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + i)));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(row_max), _mm256_extractf128_ps(row_max, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  const float scale = amax > 0 ? amax / (127.0f * kGroupSteps) : 0.0f;
  // k = ceil(group amax / (127 scale)), at least 1 (an all-zero group).
  const __m256 to_steps = _mm256_set1_ps(amax > 0 ? kGroupSteps / amax : 0.0f);
  const __m256 one = _mm256_set1_ps(1.0f), k_max = _mm256_set1_ps(kGroupSteps);
  const __m256 scale_v = _mm256_set1_ps(scale);
  const __m256 q_max = _mm256_set1_ps(127.0f), q_min = _mm256_set1_ps(-127.0f);
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
      const __m256 kf = _mm256_min_ps(
          k_max, _mm256_max_ps(one, _mm256_ceil_ps(_mm256_mul_ps(m, to_steps))));
      const __m256 step = _mm256_mul_ps(kf, scale_v);
      const __m256 nz = _mm256_cmp_ps(step, _mm256_setzero_ps(), _CMP_GT_OQ);
      __m256 r = _mm256_round_ps(_mm256_and_ps(nz, _mm256_div_ps(v, step)),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      r = _mm256_min_ps(q_max, _mm256_max_ps(q_min, r));
      qi[i] = _mm256_cvtps_epi32(r);
      sum = _mm256_fmadd_ps(r, kf, sum);
      // Elements 0 and 4 of the vector start its two groups.
      const auto kg0 = static_cast<int16_t>(_mm256_cvtss_f32(kf));
      const auto kg1 = static_cast<int16_t>(_mm_cvtss_f32(_mm256_extractf128_ps(kf, 1)));
      out[b].k[4 * i] = out[b].k[4 * i + 1] = kg0;
      out[b].k[4 * i + 2] = out[b].k[4 * i + 3] = kg1;
    }
    const __m256i p01 = _mm256_packs_epi32(qi[0], qi[1]);
    const __m256i p23 = _mm256_packs_epi32(qi[2], qi[3]);
    const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), p);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    out[b].s = _mm_cvtss_f32(s4);
    out[b].s_next = 0.0f;
    if (b > 0) out[b - 1].s_next = out[b].s;
    out[b].scale = scale;
  }
}

// AVX2 (the x86-64-v3 baseline): maddubs to int16 pairs, then madd with the
// group multipliers to int32.
#define GS_QD_NS avx2
#define GS_QD_IDOT(u, s, k) _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), k)
#include "kernels/cpu/quant_dot_body.inc"
#undef GS_QD_NS
#undef GS_QD_IDOT

// AVX-512 VNNI: the second step as dpwssd. Only called when the CPU reports
// it (PickQuantRows).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#define GS_QD_NS vnni
#define GS_QD_IDOT(u, s, k) _mm256_dpwssd_epi32(_mm256_setzero_si256(), _mm256_maddubs_epi16(u, s), k)
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
