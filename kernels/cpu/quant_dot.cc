#include "kernels/cpu/quant_dot.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>

#include "kernels/check.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/vec_math.h"

namespace gs::kernels::cpu {

int64_t PairedRowBytes(DType t, int64_t cols) {
  return PairsOf(cols / kQBlock) * 2 * BlockBytes(t);
}

namespace {

// Q8_0: where the bytes of the two GGUF blocks (b0, b1) of a pair go in the
// pair record: `len` bytes at offset `block_off` of block `block` ↔
// `pair_off`.
struct Segment {
  int pair_off, block, block_off, len;
};
constexpr Segment kQ8_0Pair[] = {{0, 0, 0, 2},   {2, 1, 0, 2},    {4, 0, 2, 16},
                                 {20, 1, 2, 16}, {36, 0, 18, 16}, {52, 1, 18, 16}};

// Q4: calls copy(group_off, block_off, len) for each field of block h (0 or
// 1) of pair k of a group of n pairs: its d (and m for Q4_1), then its
// nibbles, at group_off from the group's first byte. A shorter group keeps
// each block's 16 bytes together; a whole group spreads them in four words
// of four bytes (kGroupPairs).
template <class Copy>
void ForQ4Fields(DType t, int64_t n, int64_t k, int64_t h, Copy&& copy) {
  const int64_t fields = t == DType::kQ4_1 ? 2 : 1;
  for (int64_t f = 0; f < fields; ++f) copy(4 * n * f + 2 * (h * n + k), 2 * f, 2);
  const int64_t qs = 4 * n * fields;
  if (n < kGroupPairs) {
    copy(qs + 32 * k + 16 * h, 2 * fields, 16);
    return;
  }
  for (int64_t v = 0; v < 4; ++v) copy(qs + 32 * v + 4 * (4 * h + k), 2 * fields + 4 * v, 4);
}

}  // namespace

void PackPairedRows(DType t, const uint8_t* gguf, int64_t rows, int64_t cols, uint8_t* out) {
  CHECK(cols % kQBlock == 0) << DTypeName(t) << " row of " << cols << " elements";
  CHECK(t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1)
      << "no packed layout for " << DTypeName(t);
  const int64_t nb = cols / kQBlock, bb = BlockBytes(t), np = PairsOf(nb);
  const uint8_t zero[64] = {};
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = gguf + r * nb * bb;
    uint8_t* dst = out + r * np * 2 * bb;
    auto block = [&](int64_t b) { return b < nb ? src + b * bb : zero; };
    if (t == DType::kQ8_0) {
      for (int64_t j = 0; j < np; ++j) {
        for (const Segment& s : kQ8_0Pair) {
          std::memcpy(dst + j * 2 * bb + s.pair_off, block(2 * j + s.block) + s.block_off, s.len);
        }
      }
      continue;
    }
    for (int64_t g = 0; g < np; g += kGroupPairs) {
      const int64_t n = std::min<int64_t>(kGroupPairs, np - g);
      for (int64_t k = 0; k < n; ++k) {
        for (int64_t h = 0; h < 2; ++h) {
          uint8_t* group = dst + g * 2 * bb;
          const uint8_t* from = block(2 * (g + k) + h);
          ForQ4Fields(t, n, k, h, [&](int64_t go, int64_t bo, int64_t len) {
            std::memcpy(group + go, from + bo, len);
          });
        }
      }
    }
  }
}

void UnpackBlock(DType t, const uint8_t* row, int64_t cols, int64_t b, uint8_t* out) {
  const int64_t bb = BlockBytes(t), np = PairsOf(cols / kQBlock), j = b / 2, h = b % 2;
  if (t == DType::kQ8_0) {
    for (const Segment& s : kQ8_0Pair) {
      if (s.block == h) std::memcpy(out + s.block_off, row + j * 2 * bb + s.pair_off, s.len);
    }
    return;
  }
  const int64_t g = j / kGroupPairs * kGroupPairs;
  const uint8_t* group = row + g * 2 * bb;
  ForQ4Fields(t, std::min<int64_t>(kGroupPairs, np - g), j - g, h,
              [&](int64_t go, int64_t bo, int64_t len) { std::memcpy(out + bo, group + go, len); });
}

void DequantizePairedRow(DType t, const uint8_t* row, int64_t cols, float* out) {
  uint8_t block[34];
  for (int64_t b = 0; b < cols / kQBlock; ++b) {
    UnpackBlock(t, row, cols, b, block);
    DequantizeRow(t, block, out + b * kQBlock, kQBlock);
  }
}

void QuantizeRowQ8(const float* x, int64_t k, Q8ActPair* out) {
  CHECK(k % kQBlock == 0) << "activation row of " << k << " elements";
  const int64_t nb = k / kQBlock;
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
  for (int64_t j = 0; j < PairsOf(nb); ++j) {
    Q8ActPair& o = out[j];
    std::memset(o.group_sums, 0, sizeof(o.group_sums));
    int32_t* sums = out[j / kGroupPairs * kGroupPairs].group_sums;
    const int64_t k_in_group = j % kGroupPairs;
    for (int half = 0; half < 2; ++half) {
      const int64_t b = 2 * j + half;
      if (b >= nb) {  // the zero block that pads an odd row
        std::memset(o.lo + 16, 0, 16);
        std::memset(o.hi + 16, 0, 16);
        for (int l = 8; l < 16; ++l) o.k[l] = 1;
        break;
      }
      const float* xb = x + b * kQBlock;
      // Groups of four: elements 4j, 4j + 1, 4j + 16, 4j + 17 and 4j + 2,
      // 4j + 3, 4j + 18, 4j + 19 (j = 0..3), the four products that one
      // int16 lane of the Q4 kernels sums (see the header). m[c] gives lane t
      // of vectors c and c + 2 (elements 8c + t and 8c + t + 16) the largest
      // magnitude of its group.
      __m256 v[4];
      for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xb + 8 * i);
      __m256 kc[2];  // the multiplier of each lane's group, for v[c] and v[c + 2]
      for (int c = 0; c < 2; ++c) {
        __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[c]),
                                 _mm256_andnot_ps(sign_bit, v[c + 2]));
        m = _mm256_max_ps(m, _mm256_permute_ps(m, 0xb1));
        kc[c] = _mm256_min_ps(k_max,
                              _mm256_max_ps(one, _mm256_ceil_ps(_mm256_mul_ps(m, to_steps))));
      }
      __m256i qi[4];
      __m256i sum = _mm256_setzero_si256();
      for (int i = 0; i < 4; ++i) {
        const __m256 kf = kc[i % 2];
        const __m256 step = _mm256_mul_ps(kf, scale_v);
        const __m256 nz = _mm256_cmp_ps(step, _mm256_setzero_ps(), _CMP_GT_OQ);
        __m256 r = _mm256_round_ps(_mm256_and_ps(nz, _mm256_div_ps(v[i], step)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm256_min_ps(q_max, _mm256_max_ps(q_min, r));
        qi[i] = _mm256_cvtps_epi32(r);
        sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(qi[i], _mm256_cvtps_epi32(kf)));
      }
      const __m256i p01 = _mm256_packs_epi32(qi[0], qi[1]);
      const __m256i p23 = _mm256_packs_epi32(qi[2], qi[3]);
      const __m256i q = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
      // Elements 0..15 go to lo, 16..31 to hi, at the block's half of each.
      // int16 lane l of that half covers elements 2l, 2l + 1 (and 16 more):
      // its multiplier is lane 2l mod 8 of kc[l / 4]. shuffle gives
      // [kc0 0 2, kc1 0 2 | kc0 4 6, kc1 4 6].
      const __m256i k32 = _mm256_permutevar8x32_epi32(
          _mm256_cvtps_epi32(_mm256_shuffle_ps(kc[0], kc[1], 0x88)),
          _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7));
      const __m128i k16 =
          _mm_packs_epi32(_mm256_castsi256_si128(k32), _mm256_extracti128_si256(k32, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o.lo + 16 * half), _mm256_castsi256_si128(q));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o.hi + 16 * half),
                       _mm256_extracti128_si256(q, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o.k + 8 * half), k16);
      sums[kGroupPairs * half + k_in_group] = HSum(sum);
    }
    o.scale = scale;
  }
}

namespace {

// 4 x 4 transpose of 4-byte words in each 128-bit half: word (h, v) of
// in[p] → word (h, p) of out[v].
void TransposeWords(const __m256i in[4], __m256i out[4]) {
  const __m256i t0 = _mm256_unpacklo_epi32(in[0], in[1]);
  const __m256i t1 = _mm256_unpackhi_epi32(in[0], in[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(in[2], in[3]);
  const __m256i t3 = _mm256_unpackhi_epi32(in[2], in[3]);
  out[0] = _mm256_unpacklo_epi64(t0, t2);
  out[1] = _mm256_unpackhi_epi64(t0, t2);
  out[2] = _mm256_unpacklo_epi64(t1, t3);
  out[3] = _mm256_unpackhi_epi64(t1, t3);
}

// One field (lo, hi or k: 32 bytes at `offset` in each pair) of the four
// pairs at a, transposed into the four pairs at b.
void TransposeField(const Q8ActPair* a, Q8ActPair* b, size_t offset) {
  __m256i in[4], out[4];
  for (int p = 0; p < 4; ++p) {
    in[p] = _mm256_load_si256(
        reinterpret_cast<const __m256i*>(reinterpret_cast<const char*>(a + p) + offset));
  }
  TransposeWords(in, out);
  for (int v = 0; v < 4; ++v) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(reinterpret_cast<char*>(b + v) + offset),
                       out[v]);
  }
}

}  // namespace

void TransposeQ4Groups(const Q8ActPair* x, int64_t np, Q8ActPair* out) {
  int64_t j = 0;
  for (; j + kGroupPairs <= np; j += kGroupPairs) {
    TransposeField(x + j, out + j, offsetof(Q8ActPair, lo));
    TransposeField(x + j, out + j, offsetof(Q8ActPair, hi));
    TransposeField(x + j, out + j, offsetof(Q8ActPair, k));
    for (int p = 0; p < kGroupPairs; ++p) {
      std::memcpy(out[j + p].group_sums, x[j + p].group_sums, sizeof(x[j + p].group_sums));
      out[j + p].scale = x[j + p].scale;
    }
  }
  for (; j < np; ++j) out[j] = x[j];
}

float QuantizedActivation(const Q8ActPair* row, int64_t i) {
  const Q8ActPair& p = row[i / (2 * kQBlock)];
  const int64_t e = i % (2 * kQBlock), half = e / kQBlock, elem = e % kQBlock;
  const int64_t v = 16 * half + elem % 16;  // byte of lo (elem < 16) or hi
  const bool low = elem < 16;
  const int q = low ? p.lo[v] : p.hi[v];
  const int k = p.k[v / 2];
  return static_cast<float>(q) * (static_cast<float>(k) * p.scale);
}

// AVX2 (the x86-64-v3 baseline): maddubs to int16 pairs, then madd with the
// group multipliers to int32.
#define GS_QD_NS avx2
#define GS_QD_MADD_ACC(acc, x, k) _mm256_add_epi32(acc, _mm256_madd_epi16(x, k))
#define GS_QD_IDOT2(ul, sl, kl, uh, sh, kh)                              \
  _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ul, sl), kl), \
                   _mm256_madd_epi16(_mm256_maddubs_epi16(uh, sh), kh))
#include "kernels/cpu/quant_dot_body.inc"
#undef GS_QD_NS
#undef GS_QD_IDOT2
#undef GS_QD_MADD_ACC

// AVX-512 VNNI: the second step and the sum as two dpwssd (Q8_0; the Q4
// kernels' one madd is the same in both). Only called when the CPU reports
// it (PickQuantRows).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#define GS_QD_NS vnni
#define GS_QD_MADD_ACC(acc, x, k) _mm256_dpwssd_epi32(acc, x, k)
#define GS_QD_IDOT2(ul, sl, kl, uh, sh, kh)                                              \
  _mm256_dpwssd_epi32(                                                                  \
      _mm256_dpwssd_epi32(_mm256_setzero_si256(), _mm256_maddubs_epi16(ul, sl), kl), \
      _mm256_maddubs_epi16(uh, sh), kh)
#include "kernels/cpu/quant_dot_body.inc"
#undef GS_QD_NS
#undef GS_QD_IDOT2
#undef GS_QD_MADD_ACC
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
