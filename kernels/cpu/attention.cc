#include "kernels/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/check.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/kv_rows.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/matmul.h"

namespace gs::kernels {

void KvAppend(const float* k, const float* v, int64_t n_tokens, const int32_t* slots,
              const KvLayer& kv) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  const int64_t row = RowBytes(kv.dtype, hd);
  auto* K = static_cast<uint8_t*>(kv.k);
  auto* V = static_cast<uint8_t*>(kv.v);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int64_t block = slots[t] / B, off = slots[t] % B;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t dst = ((block * G + g) * B + off) * row;
      cpu::StoreKvRow(kv.dtype, k + (t * G + g) * hd, hd, K + dst);
      cpu::StoreKvRow(kv.dtype, v + (t * G + g) * hd, hd, V + dst);
    }
  }
}

namespace {

// Heads of one group handled together; a longer run (MQA with many heads) is
// taken in pieces of this many, each reading the group's rows once.
constexpr int kMaxHeadsPerRun = 16;
// Heads met by one pass over a group's rows: each stored vector is widened
// once for all of them (HN x 4 score sums, or HN x NV value sums, stay in
// registers).
constexpr int kPassHeads = 3;

// Lane i of the result: the sum of the eight lanes of a[i], for rows 0..3.
inline __m128 Reduce4(const __m256 a[4]) {
  const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  // s holds the sums of lanes 0..3 of each row, then those of lanes 4..7.
  return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

// s[0, n) ← exp(s[0, n) - max); returns the sum of the new values, and the
// max in *max_out.
double ExpFromMax(float* s, int64_t n, float* max_out) {
  int64_t p = 0;
  __m256 mx8 = _mm256_set1_ps(-INFINITY);
  for (; p + 8 <= n; p += 8) mx8 = _mm256_max_ps(mx8, _mm256_loadu_ps(s + p));
  float lanes[8];
  _mm256_storeu_ps(lanes, mx8);
  float mx = *std::max_element(lanes, lanes + 8);
  for (; p < n; ++p) mx = std::max(mx, s[p]);
  const __m256 m = _mm256_set1_ps(mx);
  __m256 sum8 = _mm256_setzero_ps();
  for (p = 0; p + 8 <= n; p += 8) {
    const __m256 e = cpu::Exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), m));
    _mm256_storeu_ps(s + p, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  _mm256_storeu_ps(lanes, sum8);
  double sum = 0;
  for (float v : lanes) sum += v;
  for (; p < n; ++p) {
    s[p] = std::exp(s[p] - mx);
    sum += s[p];
  }
  *max_out = mx;
  return sum;
}

// s[0, n) ← softmax(s[0, n)).
void Softmax(float* s, int64_t n) {
  float mx;
  const double sum = ExpFromMax(s, n, &mx);
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  int64_t p = 0;
  for (; p + 8 <= n; p += 8) {
    _mm256_storeu_ps(s + p, _mm256_mul_ps(_mm256_loadu_ps(s + p), inv));
  }
  for (; p < n; ++p) s[p] *= _mm256_cvtss_f32(inv);
}

// Asks for the cache lines of the `bytes` bytes at p (a row need not start on
// a line: Q8_0 rows of head_dim 64 are 68 bytes), into L2.
inline void Prefetch(const uint8_t* p, int64_t bytes) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
  for (uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63}; a < end; a += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(a), _MM_HINT_T1);
  }
}

// scores[h][p0 + i] = scale * q_h · k_{p0+i} for the HN heads of one pass
// and the np <= 4 rows at p0 (rows past np repeat the last one): the stored
// vectors are widened in registers, each meets every head of the pass, and
// each sum is formed over the dimensions in order in eight lanes, then
// reduced as Reduce4 does, whatever the dtype or the heads of the pass.
template <DType T, int HN>
inline void ScoreRows(const float* const* qh, const uint8_t* const* krow, int64_t p0, int np,
                      int64_t hd, __m128 sv, float* const* scores) {
  const uint8_t* r[4];
  for (int i = 0; i < 4; ++i) r[i] = krow[p0 + std::min(i, np - 1)];
  __m256 a[HN][4];
  for (int h = 0; h < HN; ++h) {
    for (int i = 0; i < 4; ++i) a[h][i] = _mm256_setzero_ps();
  }
  if constexpr (T == DType::kQ8_0) {
    // A block's scale once per row.
    for (int64_t d0 = 0; d0 < hd; d0 += 32) {
      for (int i = 0; i < 4; ++i) {
        const cpu::Q8RowBlock row(r[i], d0);
        for (int64_t d = d0; d < d0 + 32; d += 8) {
          const __m256 k = row(d);
          for (int h = 0; h < HN; ++h) {
            a[h][i] = _mm256_fmadd_ps(_mm256_loadu_ps(qh[h] + d), k, a[h][i]);
          }
        }
      }
    }
  } else {
    for (int64_t d = 0; d < hd; d += 8) {
      for (int i = 0; i < 4; ++i) {
        const __m256 k = cpu::Widen8<T>(r[i], d);
        for (int h = 0; h < HN; ++h) {
          a[h][i] = _mm256_fmadd_ps(_mm256_loadu_ps(qh[h] + d), k, a[h][i]);
        }
      }
    }
  }
  for (int h = 0; h < HN; ++h) {
    const __m128 v = _mm_mul_ps(Reduce4(a[h]), sv);
    if (np == 4) {
      _mm_storeu_ps(scores[h] + p0, v);
    } else {
      float tmp[4];
      _mm_storeu_ps(tmp, v);
      for (int i = 0; i < np; ++i) scores[h][p0 + i] = tmp[i];
    }
  }
}

// scores[h * ctx + p] = scale * q_h · k_p for heads [0, nh) and positions
// [0, ctx) (krow[p]: the key row of position p, `row_bytes` bytes of T),
// head_dim a multiple of 8: four key rows at a time meet up to kPassHeads
// heads. Rows are read once from memory and live in blocks scattered by the
// block table: the key and value rows kAheadRows positions ahead are asked
// for, into L2 (the values are used after the softmax, from L2).
constexpr int64_t kAheadRows = 64;

// The key and value rows of positions [p0, p1), into L2.
inline void PrefetchRows(const uint8_t* const* krow, const uint8_t* const* vrow, int64_t p0,
                         int64_t p1, int64_t row_bytes) {
  for (int64_t p = p0; p < p1; ++p) {
    Prefetch(krow[p], row_bytes);
    Prefetch(vrow[p], row_bytes);
  }
}

template <DType T>
void ScoresAvx2(const float* const* qh, int nh, const uint8_t* const* krow,
                const uint8_t* const* vrow, int64_t ctx, int64_t hd, int64_t row_bytes, float scale,
                float* scores) {
  const __m128 sv = _mm_set1_ps(scale);
  PrefetchRows(krow, vrow, 0, std::min(ctx, kAheadRows), row_bytes);
  for (int64_t p0 = 0; p0 < ctx; p0 += 4) {
    const int np = static_cast<int>(std::min<int64_t>(4, ctx - p0));
    PrefetchRows(krow, vrow, std::min(ctx, p0 + kAheadRows), std::min(ctx, p0 + kAheadRows + 4),
                 row_bytes);
    for (int h0 = 0; h0 < nh; h0 += kPassHeads) {
      float* sh[kPassHeads];
      for (int h = 0; h < kPassHeads; ++h) sh[h] = scores + std::min(h0 + h, nh - 1) * ctx;
      switch (std::min(kPassHeads, nh - h0)) {
        case 1: ScoreRows<T, 1>(qh + h0, krow, p0, np, hd, sv, sh); break;
        case 2: ScoreRows<T, 2>(qh + h0, krow, p0, np, hd, sv, sh); break;
        default: ScoreRows<T, 3>(qh + h0, krow, p0, np, hd, sv, sh); break;
      }
    }
  }
}

// out_h[d0, d0 + 8 NV) += sum_p w_h[p] * v_p[d0, d0 + 8 NV) over p in [p0, p1)
// in order (out_h starts from zero when p0 is 0), for the HN heads of one
// pass: each stored vector is widened in registers once for all of them.
template <DType T, int HN, int NV>
inline void ValuePass(const float* const* w, const uint8_t* const* vrow, int64_t p0, int64_t p1,
                      int64_t d0, float* const* out) {
  __m256 a[HN][NV];
  for (int h = 0; h < HN; ++h) {
    for (int j = 0; j < NV; ++j) {
      a[h][j] = p0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(out[h] + d0 + 8 * j);
    }
  }
  for (int64_t p = p0; p < p1; ++p) {
    __m256 v[NV];
    if constexpr (T == DType::kQ8_0) {
      const cpu::Q8RowBlock row(vrow[p], d0);  // the NV vectors lie in one block
      for (int j = 0; j < NV; ++j) v[j] = row(d0 + 8 * j);
    } else {
      for (int j = 0; j < NV; ++j) v[j] = cpu::Widen8<T>(vrow[p], d0 + 8 * j);
    }
    for (int h = 0; h < HN; ++h) {
      const __m256 wp = _mm256_set1_ps(w[h][p]);
      for (int j = 0; j < NV; ++j) a[h][j] = _mm256_fmadd_ps(wp, v[j], a[h][j]);
    }
  }
  for (int h = 0; h < HN; ++h) {
    for (int j = 0; j < NV; ++j) _mm256_storeu_ps(out[h] + d0 + 8 * j, a[h][j]);
  }
}

// Value rows taken per round of passes: the passes after the first over
// dimensions [0, hd) find the round's rows in L1 (64 rows of 64 f32 are
// 16 KiB), so a long context's rows come from memory once, not once per pass.
constexpr int64_t kValueRows = 64;

// The heads of one pass over dimensions [0, hd) in pieces of at most 8 NV,
// kValueRows positions at a time.
template <DType T, int HN, int NV>
void ValuePasses(const float* const* w, const uint8_t* const* vrow, int64_t ctx, int64_t hd,
                 float* const* out) {
  for (int64_t p0 = 0; p0 < ctx; p0 += kValueRows) {
    const int64_t p1 = std::min(ctx, p0 + kValueRows);
    int64_t d0 = 0;
    for (; d0 + 8 * NV <= hd; d0 += 8 * NV) ValuePass<T, HN, NV>(w, vrow, p0, p1, d0, out);
    switch ((hd - d0) / 8) {
      case 1: ValuePass<T, HN, 1>(w, vrow, p0, p1, d0, out); break;
      case 2: ValuePass<T, HN, 2>(w, vrow, p0, p1, d0, out); break;
      case 3: ValuePass<T, HN, 3>(w, vrow, p0, p1, d0, out); break;
      default: break;
    }
  }
}

// out_h = sum_p w[h * ctx + p] * v_p for heads [0, nh), head_dim a multiple
// of 8, up to kPassHeads heads per pass over the rows. Each output lane sums
// over p in order (a round's partial sums wait in out_h, stored and loaded
// exactly), so a narrow cache gives the bits of an fp32 cache holding the
// widened values, however the heads are grouped into passes.
template <DType T>
void WeightedValuesAvx2(const float* w, int nh, const uint8_t* const* vrow, int64_t ctx, int64_t hd,
                        float* const* out) {
  for (int h0 = 0; h0 < nh; h0 += kPassHeads) {
    const float* wh[kPassHeads];
    for (int h = 0; h < kPassHeads; ++h) wh[h] = w + std::min(h0 + h, nh - 1) * ctx;
    // Three heads take 24 dimensions at a time (16 for Q8_0, whose pieces
    // must not cross a block of 32), fewer heads 32.
    constexpr int kNV3 = T == DType::kQ8_0 ? 2 : 3;
    switch (std::min(kPassHeads, nh - h0)) {
      case 1: ValuePasses<T, 1, 4>(wh, vrow, ctx, hd, out + h0); break;
      case 2: ValuePasses<T, 2, 4>(wh, vrow, ctx, hd, out + h0); break;
      default: ValuePasses<T, 3, kNV3>(wh, vrow, ctx, hd, out + h0); break;
    }
  }
}

// The same arithmetic in 16-lane vectors, for CPUs with AVX-512 (asked at run
// time, PagedAttention's allow_wide). Every lane does what a lane of the
// 8-lane kernels above does, in the same order, so the results are theirs bit
// for bit: a score vector holds two key rows' eight lanes side by side and is
// reduced by Reduce4 as above; a value vector holds 16 dimensions, each of
// which sums its positions in order. Head dimensions a multiple of 16.
// Each function below carries the target attribute (GCC and clang both take
// it; clang ignores `#pragma GCC target`).
#define GS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
// GCC 12's own AVX-512 intrinsics (_mm512_cvtph_ps, _mm512_broadcast_f32x8,
// ...) pass an undefined vector as their unused merge source, which
// -Wmaybe-uninitialized reports at every use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace wide {

// Elements [d, d + 8) of rows r0 (lanes 0..7) and r1 (lanes 8..15), widened
// as Widen8 widens them. For Q8_0, [d, d + 8) lies in the block whose scales
// (r0's in lanes 0..7, r1's in 8..15) `scale` holds.
template <DType T>
GS_AVX512 inline __m512 Widen8x2(const uint8_t* r0, const uint8_t* r1, int64_t d, __m512 scale) {
  if constexpr (T == DType::kF32) {
    const float* f0 = reinterpret_cast<const float*>(r0) + d;
    const float* f1 = reinterpret_cast<const float*>(r1) + d;
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(f0)), _mm256_loadu_ps(f1), 1);
  } else if constexpr (T == DType::kQ8_0) {
    const int64_t i = d / 32 * 34 + 2 + d % 32;
    const __m128i q = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r0 + i)),
                                         _mm_loadl_epi64(reinterpret_cast<const __m128i*>(r1 + i)));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), scale);
  } else {
    const __m256i h = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + 2 * d))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + 2 * d)), 1);
    if constexpr (T == DType::kF16) {
      return _mm512_cvtph_ps(h);
    } else {
      static_assert(T == DType::kBF16, "KV rows are F32, F16, BF16 or Q8_0");
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
}

// The fp16 scale of the Q8_0 block holding element d of rows r0 and r1, in
// lanes 0..7 and 8..15.
GS_AVX512 inline __m512 Q8Scales2(const uint8_t* r0, const uint8_t* r1, int64_t d) {
  uint16_t h0, h1;
  std::memcpy(&h0, r0 + d / 32 * 34, 2);
  std::memcpy(&h1, r1 + d / 32 * 34, 2);
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(_cvtsh_ss(h0))),
                            _mm256_set1_ps(_cvtsh_ss(h1)), 1);
}

// Elements [d, d + 16) of one row, widened as Widen8 widens them (Q8_0: inside
// one block).
template <DType T>
GS_AVX512 inline __m512 Widen16(const uint8_t* row, int64_t d) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + d);
  } else if constexpr (T == DType::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * d)));
  } else if constexpr (T == DType::kBF16) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * d));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
  } else {
    const uint8_t* block = row + d / 32 * 34;
    uint16_t dh;
    std::memcpy(&dh, block, 2);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2 + d % 32));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)),
                         _mm512_set1_ps(_cvtsh_ss(dh)));
  }
}

// ScoreRows in 16 lanes: rows 0 and 1 share one vector, rows 2 and 3 the next.
template <DType T, int HN>
GS_AVX512 inline void ScoreRows(const float* const* qh, const uint8_t* const* krow, int64_t p0,
                                int np, int64_t hd, __m128 sv, float* const* scores) {
  const uint8_t* r[4];
  for (int i = 0; i < 4; ++i) r[i] = krow[p0 + std::min(i, np - 1)];
  __m512 a[HN][2];
  for (int h = 0; h < HN; ++h) a[h][0] = a[h][1] = _mm512_setzero_ps();
  __m512 s01 = _mm512_setzero_ps(), s23 = _mm512_setzero_ps();
  for (int64_t d = 0; d < hd; d += 8) {
    if constexpr (T == DType::kQ8_0) {
      if (d % 32 == 0) {
        s01 = Q8Scales2(r[0], r[1], d);
        s23 = Q8Scales2(r[2], r[3], d);
      }
    }
    const __m512 k01 = Widen8x2<T>(r[0], r[1], d, s01);
    const __m512 k23 = Widen8x2<T>(r[2], r[3], d, s23);
    for (int h = 0; h < HN; ++h) {
      const __m512 q = _mm512_broadcast_f32x8(_mm256_loadu_ps(qh[h] + d));
      a[h][0] = _mm512_fmadd_ps(q, k01, a[h][0]);
      a[h][1] = _mm512_fmadd_ps(q, k23, a[h][1]);
    }
  }
  for (int h = 0; h < HN; ++h) {
    const __m256 rows[4] = {_mm512_castps512_ps256(a[h][0]), _mm512_extractf32x8_ps(a[h][0], 1),
                            _mm512_castps512_ps256(a[h][1]), _mm512_extractf32x8_ps(a[h][1], 1)};
    const __m128 v = _mm_mul_ps(Reduce4(rows), sv);
    if (np == 4) {
      _mm_storeu_ps(scores[h] + p0, v);
    } else {
      float tmp[4];
      _mm_storeu_ps(tmp, v);
      for (int i = 0; i < np; ++i) scores[h][p0 + i] = tmp[i];
    }
  }
}

// ScoresAvx2's loop around the 16-lane ScoreRows (and below, the value
// passes' loops around the 16-lane ValuePass), written out again rather than
// shared: a template's target options are those it is defined with, so one
// without GS_AVX512 could not inline the 16-lane kernels, and one with it
// would let the compiler use AVX-512 in the 8-lane path, which must run on
// CPUs without it.
template <DType T>
GS_AVX512 void Scores(const float* const* qh, int nh, const uint8_t* const* krow,
                      const uint8_t* const* vrow, int64_t ctx, int64_t hd, int64_t row_bytes,
                      float scale, float* scores) {
  const __m128 sv = _mm_set1_ps(scale);
  PrefetchRows(krow, vrow, 0, std::min(ctx, kAheadRows), row_bytes);
  for (int64_t p0 = 0; p0 < ctx; p0 += 4) {
    const int np = static_cast<int>(std::min<int64_t>(4, ctx - p0));
    PrefetchRows(krow, vrow, std::min(ctx, p0 + kAheadRows), std::min(ctx, p0 + kAheadRows + 4),
                 row_bytes);
    for (int h0 = 0; h0 < nh; h0 += kPassHeads) {
      float* sh[kPassHeads];
      for (int h = 0; h < kPassHeads; ++h) sh[h] = scores + std::min(h0 + h, nh - 1) * ctx;
      switch (std::min(kPassHeads, nh - h0)) {
        case 1: ScoreRows<T, 1>(qh + h0, krow, p0, np, hd, sv, sh); break;
        case 2: ScoreRows<T, 2>(qh + h0, krow, p0, np, hd, sv, sh); break;
        default: ScoreRows<T, 3>(qh + h0, krow, p0, np, hd, sv, sh); break;
      }
    }
  }
}

// ValuePass in 16 lanes: dimensions [d0, d0 + 16 NV).
template <DType T, int HN, int NV>
GS_AVX512 inline void ValuePass(const float* const* w, const uint8_t* const* vrow, int64_t p0,
                                int64_t p1, int64_t d0, float* const* out) {
  __m512 a[HN][NV];
  for (int h = 0; h < HN; ++h) {
    for (int j = 0; j < NV; ++j) {
      a[h][j] = p0 == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(out[h] + d0 + 16 * j);
    }
  }
  for (int64_t p = p0; p < p1; ++p) {
    __m512 v[NV];
    for (int j = 0; j < NV; ++j) v[j] = Widen16<T>(vrow[p], d0 + 16 * j);
    for (int h = 0; h < HN; ++h) {
      const __m512 wp = _mm512_set1_ps(w[h][p]);
      for (int j = 0; j < NV; ++j) a[h][j] = _mm512_fmadd_ps(wp, v[j], a[h][j]);
    }
  }
  for (int h = 0; h < HN; ++h) {
    for (int j = 0; j < NV; ++j) _mm512_storeu_ps(out[h] + d0 + 16 * j, a[h][j]);
  }
}

// WeightedValuesAvx2 in 16 lanes: up to 64 dimensions of up to kPassHeads
// heads per pass (twelve sums in registers), kValueRows positions a round.
template <DType T, int HN>
GS_AVX512 void ValuePasses(const float* const* w, const uint8_t* const* vrow, int64_t ctx,
                           int64_t hd, float* const* out) {
  for (int64_t p0 = 0; p0 < ctx; p0 += kValueRows) {
    const int64_t p1 = std::min(ctx, p0 + kValueRows);
    int64_t d0 = 0;
    for (; d0 + 64 <= hd; d0 += 64) ValuePass<T, HN, 4>(w, vrow, p0, p1, d0, out);
    switch ((hd - d0) / 16) {
      case 1: ValuePass<T, HN, 1>(w, vrow, p0, p1, d0, out); break;
      case 2: ValuePass<T, HN, 2>(w, vrow, p0, p1, d0, out); break;
      case 3: ValuePass<T, HN, 3>(w, vrow, p0, p1, d0, out); break;
      default: break;
    }
  }
}

template <DType T>
GS_AVX512 void WeightedValues(const float* w, int nh, const uint8_t* const* vrow, int64_t ctx,
                              int64_t hd, float* const* out) {
  for (int h0 = 0; h0 < nh; h0 += kPassHeads) {
    const float* wh[kPassHeads];
    for (int h = 0; h < kPassHeads; ++h) wh[h] = w + std::min(h0 + h, nh - 1) * ctx;
    switch (std::min(kPassHeads, nh - h0)) {
      case 1: ValuePasses<T, 1>(wh, vrow, ctx, hd, out + h0); break;
      case 2: ValuePasses<T, 2>(wh, vrow, ctx, hd, out + h0); break;
      default: ValuePasses<T, 3>(wh, vrow, ctx, hd, out + h0); break;
    }
  }
}

}  // namespace wide
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#undef GS_AVX512

// A context longer than kPieceRows positions is taken in pieces of equal
// size (a multiple of 16 positions; the last may be shorter), each with its
// own softmax, and the pieces are merged (Merge): the threads of a rank then
// share one long decode by position, each reading its pieces' keys and values
// of every group, rather than by head, where a group split between two
// threads is read by both. How a context splits depends on its length alone,
// so batching and threads change no bit; a context of up to kPieceRows
// positions is one piece, computed as it always was.
constexpr int64_t kPieceRows = 512;
// The most floats of pieces' partial sums one pool job holds (16 MiB by
// default; SetAttentionPieceBudget).
int64_t piece_floats = int64_t{1} << 22;

struct Pieces {
  int64_t n, rows;  // n pieces of `rows` positions, the last of what is left
};

inline Pieces SplitContext(int64_t ctx) {
  if (ctx <= kPieceRows) return {1, ctx};
  const int64_t want = (ctx + kPieceRows - 1) / kPieceRows;
  const int64_t rows = ((ctx + want - 1) / want + 15) / 16 * 16;
  return {(ctx + rows - 1) / rows, rows};
}

// Where the pieces of the tokens with more than one write: for piece slot s
// and local head h, out[(s * n_heads + h) * head_dim ...] holds
// sum_p exp(score_p - max) v_p, and max and sum[s * n_heads + h] the max of
// the piece's scores and sum_p exp(score_p - max).
struct PieceResults {
  float* out;
  float* max;
  double* sum;
};

// One token's heads [h0, h1), all reading group g, over positions [pb, pe):
// each key and value row is loaded once for the whole run of heads. With
// `piece` null, [pb, pe) is the whole context and out gets the attention;
// else the piece's sums go to slot `slot` of *piece. `wide`: the 16-lane
// kernels.
template <DType T>
void AttendGroup(const float* q, const KvLayer& kv, const AttentionBatch& batch, int64_t t, int h0,
                 int h1, int g, int n_heads, float scale, float* out, bool wide, int64_t pb,
                 int64_t pe, const PieceResults* piece, int64_t slot) {
  const int64_t hd = kv.head_dim, B = kv.block_size, G = kv.n_groups;
  const int64_t row_bytes = RowBytes(T, hd);
  const int64_t ctx = pe - pb;  // the positions this call reads
  const int32_t* table =
      batch.block_tables + static_cast<int64_t>(batch.token_seq[t]) * batch.max_blocks;
  const int nh = h1 - h0;
  // Per-thread scratch that only grows: no allocation once warm.
  thread_local std::vector<float> scores, tile;
  thread_local std::vector<const uint8_t*> krow, vrow;
  if (static_cast<int64_t>(scores.size()) < nh * ctx) scores.resize(nh * ctx);
  if (static_cast<int64_t>(krow.size()) < ctx) {
    krow.resize(ctx);
    vrow.resize(ctx);
  }
  if (static_cast<int64_t>(tile.size()) < hd) tile.resize(hd);
  // Where each position's rows live (krow[p - pb]): block table lookups once
  // per block.
  const auto* K = static_cast<const uint8_t*>(kv.k);
  const auto* V = static_cast<const uint8_t*>(kv.v);
  for (int64_t blk = pb / B; blk * B < pe; ++blk) {
    const int64_t base = (static_cast<int64_t>(table[blk]) * G + g) * B * row_bytes;
    for (int64_t p = std::max(pb, blk * B); p < std::min(pe, (blk + 1) * B); ++p) {
      krow[p - pb] = K + base + (p - blk * B) * row_bytes;
      vrow[p - pb] = V + base + (p - blk * B) * row_bytes;
    }
  }
  const float* qh[kMaxHeadsPerRun] = {};
  float* oh[kMaxHeadsPerRun] = {};
  for (int h = 0; h < nh; ++h) {
    qh[h] = q + (t * n_heads + h0 + h) * hd;
    oh[h] = piece == nullptr ? out + (t * n_heads + h0 + h) * hd
                             : piece->out + (slot * n_heads + h0 + h) * hd;
  }
  // Scores into weights: softmax over the whole context, or exp(s - max)
  // over a piece.
  auto weights = [&] {
    for (int h = 0; h < nh; ++h) {
      float* sh = scores.data() + h * ctx;
      if (piece == nullptr) {
        Softmax(sh, ctx);
      } else {
        const int64_t i = slot * n_heads + h0 + h;
        piece->sum[i] = ExpFromMax(sh, ctx, &piece->max[i]);
      }
    }
  };
  if (wide && hd % 16 == 0) {
    wide::Scores<T>(qh, nh, krow.data(), vrow.data(), ctx, hd, row_bytes, scale, scores.data());
    weights();
    wide::WeightedValues<T>(scores.data(), nh, vrow.data(), ctx, hd, oh);
    return;
  }
  if (hd % 8 == 0) {
    ScoresAvx2<T>(qh, nh, krow.data(), vrow.data(), ctx, hd, row_bytes, scale, scores.data());
    weights();
    WeightedValuesAvx2<T>(scores.data(), nh, vrow.data(), ctx, hd, oh);
    return;
  }
  // Head sizes that are not a multiple of 8 (f32, f16, bf16 only): one row
  // at a time, widened by DequantizeRow.
  const float* r = tile.data();
  for (int64_t p = 0; p < ctx; ++p) {
    if constexpr (T == DType::kF32) {
      r = reinterpret_cast<const float*>(krow[p]);
    } else {
      DequantizeRow(T, krow[p], tile.data(), hd);
    }
    for (int h = 0; h < nh; ++h) scores[h * ctx + p] = Dot(qh[h], r, hd) * scale;
  }
  weights();
  for (int h = 0; h < nh; ++h) std::fill(oh[h], oh[h] + hd, 0.0f);
  for (int64_t p = 0; p < ctx; ++p) {
    if constexpr (T == DType::kF32) {
      r = reinterpret_cast<const float*>(vrow[p]);
    } else {
      DequantizeRow(T, vrow[p], tile.data(), hd);
    }
    for (int h = 0; h < nh; ++h) {
      const float w = scores[h * ctx + p];
      for (int64_t d = 0; d < hd; ++d) oh[h][d] += w * r[d];
    }
  }
}

// out_h = the attention of one head from its n pieces at slots [s0, s0 + n):
// sum_c a_c o_c with a_c = exp(max_c - M) / sum_c' exp(max_c' - M) sum_c', M
// the largest max_c, over the pieces in order.
void Merge(const PieceResults& pr, int64_t s0, int64_t n, int n_heads, int h, int64_t hd,
           float* out_h) {
  float M = -INFINITY;
  for (int64_t c = 0; c < n; ++c) M = std::max(M, pr.max[(s0 + c) * n_heads + h]);
  double total = 0;
  for (int64_t c = 0; c < n; ++c) {
    const int64_t i = (s0 + c) * n_heads + h;
    total += std::exp(static_cast<double>(pr.max[i]) - M) * pr.sum[i];
  }
  std::fill(out_h, out_h + hd, 0.0f);
  for (int64_t c = 0; c < n; ++c) {
    const int64_t i = (s0 + c) * n_heads + h;
    const auto a = static_cast<float>(std::exp(static_cast<double>(pr.max[i]) - M) / total);
    const float* o = pr.out + i * hd;
    for (int64_t d = 0; d < hd; ++d) out_h[d] += a * o[d];
  }
}

template <DType T>
void Attend(const float* q, const KvLayer& kv, const AttentionBatch& batch,
            const int32_t* head_group, int n_heads, float scale, float* out, ThreadPool* pool,
            bool wide) {
  const int64_t n = batch.n_tokens, hd = kv.head_dim;
  // Work items are (token, piece, head), heads innermost, tokens in the order
  // 0, n-1, 1, n-2, ...: under a causal mask later tokens cost more, and
  // contiguous ranges of this order cost alike. A thread takes a range and
  // runs each stretch of heads that share a token, a piece and a group
  // together, so it reads that group's keys and values for the piece once; a
  // group is split between two threads only where their ranges meet (3
  // groups on 2 threads split 4.5 + 4.5 heads, not 2 + 1 groups). Each head's
  // arithmetic is the same however the heads are split.
  // Scratch of the calling thread, grown only (the work below runs on other
  // threads too, so it reads these through plain references, not by the
  // thread_local names).
  thread_local std::vector<int64_t> first_scratch, slot_scratch;
  thread_local std::vector<float> piece_out, piece_max;
  thread_local std::vector<double> piece_sum;
  std::vector<int64_t>& first = first_scratch;  // first[j - j0]: the first item of token j
  std::vector<int64_t>& slot_of = slot_scratch;
  first.resize(n + 1);
  slot_of.resize(n);
  auto token_at = [n](int64_t j) { return j % 2 == 0 ? j / 2 : n - 1 - j / 2; };
  // Tokens j0 .. j1 - 1 (in the order above) at a time, as many as keep their
  // pieces' partial sums within piece_floats (at least one token): a long
  // prompt's chunk would otherwise hold tokens x pieces x heads x head_dim.
  for (int64_t j0 = 0, j1 = 0; j0 < n; j0 = j1) {
    int64_t n_slots = 0;
    first[0] = 0;
    for (j1 = j0; j1 < n; ++j1) {
      const int64_t t = token_at(j1);
      const Pieces pc = SplitContext(batch.positions[t] + 1);
      const int64_t slots = pc.n > 1 ? pc.n : 0;
      if (j1 > j0 && (n_slots + slots) * n_heads * hd > piece_floats) break;
      slot_of[t] = pc.n > 1 ? n_slots : -1;
      n_slots += slots;
      first[j1 - j0 + 1] = first[j1 - j0] + pc.n * n_heads;
    }
    if (static_cast<int64_t>(piece_out.size()) < n_slots * n_heads * hd) {
      piece_out.resize(n_slots * n_heads * hd);
    }
    if (static_cast<int64_t>(piece_max.size()) < n_slots * n_heads) {
      piece_max.resize(n_slots * n_heads);
      piece_sum.resize(n_slots * n_heads);
    }
    const PieceResults pr{piece_out.data(), piece_max.data(), piece_sum.data()};
    const int64_t n_run = j1 - j0;
    auto work = [&](int64_t i0, int64_t i1, int) {
      int64_t j =
          std::upper_bound(first.begin(), first.begin() + n_run + 1, i0) - first.begin() - 1;
      int64_t i = i0;
      while (i < i1) {
        if (i == first[j + 1]) ++j;
        const int64_t t = token_at(j0 + j);
        const int64_t ctx = batch.positions[t] + 1;
        const int64_t local = i - first[j];
        const int64_t c = local / n_heads;
        const int h0 = static_cast<int>(local % n_heads);
        int h1 = h0 + 1;
        while (h1 < n_heads && h1 - h0 < kMaxHeadsPerRun && i + (h1 - h0) < i1 &&
               head_group[h1] == head_group[h0]) {
          ++h1;
        }
        if (slot_of[t] < 0) {
          AttendGroup<T>(q, kv, batch, t, h0, h1, head_group[h0], n_heads, scale, out, wide, 0,
                         ctx, nullptr, 0);
        } else {
          const int64_t rows = SplitContext(ctx).rows;
          AttendGroup<T>(q, kv, batch, t, h0, h1, head_group[h0], n_heads, scale, out, wide,
                         c * rows, std::min(ctx, (c + 1) * rows), &pr, slot_of[t] + c);
        }
        i += h1 - h0;
      }
    };
    const int64_t n_items = first[n_run];
    if (pool == nullptr || pool->size() == 1) {
      work(0, n_items, 0);
    } else {
      pool->Run(n_items, 1, work);
    }
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t t = token_at(j);
      if (slot_of[t] < 0) continue;
      const int64_t pieces = SplitContext(batch.positions[t] + 1).n;
      for (int h = 0; h < n_heads; ++h) {
        Merge(pr, slot_of[t], pieces, n_heads, h, hd, out + (t * n_heads + h) * hd);
      }
    }
  }
}

}  // namespace

int64_t SetAttentionPieceBudget(int64_t floats) {
  CHECK(floats > 0) << "a budget of " << floats << " floats";
  return std::exchange(piece_floats, floats);
}

void PagedAttention(const float* q, const KvLayer& kv, const AttentionBatch& batch,
                    const int32_t* head_group, int n_heads, float scale, float* out,
                    ThreadPool* pool, bool allow_wide) {
  const bool wide = allow_wide && cpu::CpuHasAvx512();
  switch (kv.dtype) {
    case DType::kF32:
      return Attend<DType::kF32>(q, kv, batch, head_group, n_heads, scale, out, pool, wide);
    case DType::kF16:
      return Attend<DType::kF16>(q, kv, batch, head_group, n_heads, scale, out, pool, wide);
    case DType::kBF16:
      return Attend<DType::kBF16>(q, kv, batch, head_group, n_heads, scale, out, pool, wide);
    case DType::kQ8_0:
      CHECK(kv.head_dim % 32 == 0)
          << "a Q8_0 KV cache needs head_dim a multiple of 32, not " << kv.head_dim;
      return Attend<DType::kQ8_0>(q, kv, batch, head_group, n_heads, scale, out, pool, wide);
    default:
      CHECK(false) << "no CPU attention over a " << DTypeName(kv.dtype) << " KV cache";
  }
}

}  // namespace gs::kernels
