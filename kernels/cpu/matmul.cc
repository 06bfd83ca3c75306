#include "kernels/matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/check.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/cpu/vec_math.h"

namespace gs::kernels {

namespace {

using cpu::HSum;

// Eight weights widened to fp32 from the resident dtype.
template <DType D>
inline __m256 Load8(const uint8_t* row, int64_t i) {
  if constexpr (D == DType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (D == DType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <DType D>
inline float Load1(const uint8_t* row, int64_t i) {
  if constexpr (D == DType::kF32) {
    return reinterpret_cast<const float*>(row)[i];
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    return D == DType::kF16 ? HalfToFloat(h) : BFloat16ToFloat(h);
  }
}

// NT token rows (stride k, NT <= kMaxFloatTokens) against NR weight rows
// (w[0..NR)), each row read once. Vectors of eight go to four accumulators
// in turn (four multiply-add chains a row in flight: with one, a row ran at
// one vector per multiply-add latency, below memory speed); the four are
// added pairwise, then the scalar tail. Every (row, token) sums in this
// order whatever NR and NT are, so a token's result does not depend on its
// batch or on how the rows are split.
constexpr int kMaxFloatTokens = 3;  // 4 x NT accumulators stay in registers

template <DType D, int NR, int NT>
void DotRows(const uint8_t* const* w, const float* x, int64_t k, float* const* out) {
  static_assert(NT >= 1 && NT <= kMaxFloatTokens && NR * NT <= kMaxFloatTokens);
  // The weights stream from memory once; asking for the lines ahead keeps
  // the loads from waiting (as in the quantized kernels).
  constexpr int64_t kElemBytes = D == DType::kF32 ? 4 : 2;
  __m256 acc[NR][NT][4];
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      for (int j = 0; j < 4; ++j) acc[r][t][j] = _mm256_setzero_ps();
    }
  }
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    for (int r = 0; r < NR; ++r) {
      cpu::PrefetchStream<D != DType::kF32>(w[r] + i * kElemBytes, 32 * kElemBytes);
    }
    for (int j = 0; j < 4; ++j) {
      for (int r = 0; r < NR; ++r) {
        const __m256 wv = Load8<D>(w[r], i + 8 * j);
        for (int t = 0; t < NT; ++t) {
          acc[r][t][j] =
              _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * k + i + 8 * j), acc[r][t][j]);
        }
      }
    }
  }
  for (int j = 0; j < 3 && i + 8 <= k; ++j, i += 8) {
    for (int r = 0; r < NR; ++r) {
      const __m256 wv = Load8<D>(w[r], i);
      for (int t = 0; t < NT; ++t) {
        acc[r][t][j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * k + i), acc[r][t][j]);
      }
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) {
      float s = HSum(_mm256_add_ps(_mm256_add_ps(acc[r][t][0], acc[r][t][1]),
                                   _mm256_add_ps(acc[r][t][2], acc[r][t][3])));
      for (int64_t j = i; j < k; ++j) s += Load1<D>(w[r], j) * x[t * k + j];
      out[r][t] = s;
    }
  }
}

constexpr bool IsQuantized(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1;
}

// One 32-element block of a Q8_0/Q4_0/Q4_1 row widened to fp32 (four
// vectors of eight), exactly the values DequantizeRow gives.
template <DType D>
inline void WidenBlock(const uint8_t* blk, __m256 out[4]) {
  uint16_t d16;
  std::memcpy(&d16, blk, 2);
  const __m256 d = _mm256_set1_ps(_cvtsh_ss(d16));
  if constexpr (D == DType::kQ8_0) {
    const int8_t* qs = reinterpret_cast<const int8_t*>(blk + 2);
    for (int j = 0; j < 4; ++j) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8 * j));
      out[j] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
    }
  } else {
    const uint8_t* qs = blk + (D == DType::kQ4_1 ? 4 : 2);
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i mask = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(raw, mask);                     // elements 0..15
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);  // elements 16..31
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    __m256 bias;
    if constexpr (D == DType::kQ4_1) {
      uint16_t m16;
      std::memcpy(&m16, blk + 2, 2);
      bias = _mm256_set1_ps(_cvtsh_ss(m16));
    }
    for (int j = 0; j < 4; ++j) {
      const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[j]));
      if constexpr (D == DType::kQ4_1) {
        out[j] = _mm256_fmadd_ps(q, d, bias);
      } else {
        out[j] = _mm256_mul_ps(_mm256_sub_ps(q, _mm256_set1_ps(8.0f)), d);
      }
    }
  }
}

// NT fp32 token rows against one quantized weight row (packed layout), block
// by block: the weights are widened once and used by every token;
// activations stay fp32.
template <DType D, int NT>
void QuantDotRowF32(const uint8_t* w, const float* x, int64_t k, float* out) {
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const int64_t nb = k / 32;
  uint8_t block[34];
  __m256 wv[4];
  for (int64_t b = 0; b < nb; ++b) {
    cpu::UnpackBlock(D, w, k, b, block);
    WidenBlock<D>(block, wv);
    for (int t = 0; t < NT; ++t) {
      const float* xt = x + t * k + b * 32;
      for (int j = 0; j < 4; ++j) acc[t] = _mm256_fmadd_ps(wv[j], _mm256_loadu_ps(xt + 8 * j), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = HSum(acc[t]);
}

// NT token rows against one weight row with fp32 activations, whatever the
// weight dtype.
template <DType D, int NT>
void RowDot(const uint8_t* w, const float* x, int64_t k, float* out) {
  if constexpr (IsQuantized(D)) {
    QuantDotRowF32<D, NT>(w, x, k, out);
  } else {
    float* outs[1] = {out};
    DotRows<D, 1, NT>(&w, x, k, outs);
  }
}

// Rows [r0, r1) of a weight matrix for every token, activations in fp32.
template <DType D>
void Fp32Rows(const float* x, int64_t n, const WeightMatrix& w, float* y, int64_t r0,
               int64_t r1) {
  const int64_t k = w.cols, N = w.rows;
  const int64_t rb = IsQuantized(D) ? cpu::PairedRowBytes(D, k) : RowBytes(D, k);
  if constexpr (!IsQuantized(D)) {
    if (n == 1) {
      // Decode: row o of the first half with row o + half, two sequential
      // streams, as the quantized kernels read them (one row at a time read
      // 10-35% slower from memory, and neighbouring rows slower still).
      const int64_t half = (r1 - r0) / 2;
      const uint8_t* base = w.data.data();
      for (int64_t o = r0; o < r0 + half; ++o) {
        const uint8_t* rows[2] = {base + o * rb, base + (o + half) * rb};
        float* outs[2] = {y + o, y + o + half};
        DotRows<D, 2, 1>(rows, x, k, outs);
      }
      if (r0 + 2 * half < r1) {
        const uint8_t* row = base + (r1 - 1) * rb;
        float* outs[1] = {y + r1 - 1};
        DotRows<D, 1, 1>(&row, x, k, outs);
      }
      return;
    }
  }
  // A tile of weight rows stays in cache while every token passes over it,
  // four tokens at a time (float weights: kMaxFloatTokens).
  constexpr int64_t kRowTile = 16;
  constexpr int kTokens = IsQuantized(D) ? 4 : kMaxFloatTokens;
  for (int64_t o0 = r0; o0 < r1; o0 += kRowTile) {
    const int64_t o1 = std::min(r1, o0 + kRowTile);
    for (int64_t t = 0; t < n; t += kTokens) {
      const int nt = static_cast<int>(std::min<int64_t>(kTokens, n - t));
      for (int64_t o = o0; o < o1; ++o) {
        float out[kTokens];
        const uint8_t* row = w.data.data() + o * rb;
        const float* xt = x + t * k;
        switch (nt) {
          case 1: RowDot<D, 1>(row, xt, k, out); break;
          case 2: RowDot<D, 2>(row, xt, k, out); break;
          case 3: RowDot<D, 3>(row, xt, k, out); break;
          default:
            if constexpr (kTokens == 4) RowDot<D, 4>(row, xt, k, out);
            break;
        }
        for (int j = 0; j < nt; ++j) y[(t + j) * N + o] = out[j];
      }
    }
  }
}

// Splits the output rows over the pool (or runs them here).
template <class Fn>
void ForRows(ThreadPool* pool, int64_t rows, Fn&& fn) {
  if (pool == nullptr || pool->size() == 1) {
    fn(int64_t{0}, rows, 0);
  } else {
    pool->Run(rows, 16, fn);
  }
}

// The whole product with fp32 activations, any resident dtype.
template <DType D>
void Fp32Product(const float* x, int64_t n, const WeightMatrix& w, float* y, ThreadPool* pool) {
  ForRows(pool, w.rows, [&](int64_t r0, int64_t r1, int) { Fp32Rows<D>(x, n, w, y, r0, r1); });
}

}  // namespace

float Dot(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float sum = HSum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

const char* ActivationsName(Activations a) {
  return a == Activations::kInt8 ? "int8" : "fp32";
}

void PackForCpu(WeightMatrix* w, std::span<const uint8_t> gguf, WeightArena* arena) {
  CHECK_EQ(static_cast<int64_t>(gguf.size()), w->rows * RowBytes(w->dtype, w->cols));
  const bool quantized = IsQuantized(w->dtype);
  CHECK(!quantized || w->cols % cpu::kQBlock == 0)
      << DTypeName(w->dtype) << " matrix with " << w->cols << " columns";
  const size_t bytes = quantized ? static_cast<size_t>(
                                       w->rows * cpu::PairedRowBytes(w->dtype, w->cols))
                                 : gguf.size();
  if (arena != nullptr) {
    w->data.Allocate(*arena, bytes);
  } else {
    w->data.resize(bytes);
  }
  if (!quantized) {
    if (bytes > 0) std::memcpy(w->data.data(), gguf.data(), bytes);
    return;
  }
  cpu::PackPairedRows(w->dtype, gguf.data(), w->rows, w->cols, w->data.data());
  w->paired = true;
}

void PackForCpu(WeightMatrix* w) {
  if (!IsQuantized(w->dtype) || w->paired) return;
  const WeightData gguf = std::move(w->data);
  PackForCpu(w, {gguf.data(), gguf.size()});
}

void MatMul(const float* x, int64_t n_tokens, const WeightMatrix& w, float* y, ThreadPool* pool,
            Activations act) {
  if (n_tokens == 0) return;
  const bool quantized = IsQuantized(w.dtype);
  CHECK(!quantized || w.paired) << DTypeName(w.dtype) << " matrix not packed (PackForCpu)";
  if (quantized && act == Activations::kInt8) {
    const MatMulPart part{&w, y};
    return MatMulShared(x, n_tokens, {&part, 1}, pool, act);
  }
  switch (w.dtype) {
    case DType::kF32: return Fp32Product<DType::kF32>(x, n_tokens, w, y, pool);
    case DType::kF16: return Fp32Product<DType::kF16>(x, n_tokens, w, y, pool);
    case DType::kBF16: return Fp32Product<DType::kBF16>(x, n_tokens, w, y, pool);
    case DType::kQ8_0: return Fp32Product<DType::kQ8_0>(x, n_tokens, w, y, pool);
    case DType::kQ4_0: return Fp32Product<DType::kQ4_0>(x, n_tokens, w, y, pool);
    case DType::kQ4_1: return Fp32Product<DType::kQ4_1>(x, n_tokens, w, y, pool);
  }
  CHECK(false) << "MatMul: no CPU kernel for " << DTypeName(w.dtype);
}

void MatMulShared(const float* x, int64_t n_tokens, std::span<const MatMulPart> parts,
                  ThreadPool* pool, Activations act) {
  constexpr size_t kMaxParts = 4;
  CHECK(!parts.empty() && parts.size() <= kMaxParts) << parts.size() << " parts";
  const int64_t cols = parts[0].w->cols;
  bool fused = act == Activations::kInt8 && n_tokens > 0 && cols % cpu::kQBlock == 0;
  for (const MatMulPart& p : parts) fused = fused && IsQuantized(p.w->dtype) && p.w->cols == cols;
  if (!fused) {
    for (const MatMulPart& p : parts) MatMul(x, n_tokens, *p.w, p.y, pool, act);
    return;
  }
  // Quantized once, read by every worker; Q4 parts read the whole groups
  // transposed (cpu::TransposeQ4Groups), also made once.
  const int64_t n_pairs = cpu::PairsOf(cols / cpu::kQBlock);
  bool transposed = false;
  for (const MatMulPart& p : parts) {
    transposed = transposed || cpu::ReadsTransposedGroups(p.w->dtype);
  }
  thread_local std::vector<cpu::Q8ActPair> xq, xt;
  if (static_cast<int64_t>(xq.size()) < n_tokens * n_pairs) xq.resize(n_tokens * n_pairs);
  if (transposed && static_cast<int64_t>(xt.size()) < n_tokens * n_pairs) {
    xt.resize(n_tokens * n_pairs);
  }
  // Several tokens are quantized by the whole pool (through pointers: xq and
  // xt themselves name each thread's own scratch).
  cpu::Q8ActPair* xq_out = xq.data();
  cpu::Q8ActPair* xt_out = xt.data();
  auto quantize = [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      cpu::QuantizeRowQ8(x + t * cols, cols, xq_out + t * n_pairs);
      if (transposed) cpu::TransposeQ4Groups(xq_out + t * n_pairs, n_pairs, xt_out + t * n_pairs);
    }
  };
  if (pool != nullptr && pool->size() > 1 && n_tokens > 1) {
    pool->Run(n_tokens, 1, quantize);
  } else {
    quantize(0, n_tokens, 0);
  }
  // The parts' rows laid end to end; each thread takes a range of them.
  const size_t np = parts.size();
  int64_t first_row[kMaxParts + 1] = {0};
  cpu::QuantRowsFn fns[kMaxParts];
  for (size_t i = 0; i < np; ++i) {
    CHECK(parts[i].w->paired) << DTypeName(parts[i].w->dtype)
                              << " matrix not packed (PackForCpu)";
    first_row[i + 1] = first_row[i] + parts[i].w->rows;
    fns[i] = cpu::PickQuantRows(parts[i].w->dtype);
  }
  ForRows(pool, first_row[np], [&](int64_t r0, int64_t r1, int) {
    for (size_t i = 0; i < np; ++i) {
      const int64_t b = std::max(r0, first_row[i]), e = std::min(r1, first_row[i + 1]);
      if (b >= e) continue;
      const WeightMatrix& w = *parts[i].w;
      const cpu::Q8ActPair* xp = cpu::ReadsTransposedGroups(w.dtype) ? xt_out : xq_out;
      fns[i](w.data.data(), cpu::PairedRowBytes(w.dtype, cols), xp, n_pairs, n_tokens, w.rows,
             parts[i].y, b - first_row[i], e - first_row[i]);
    }
  });
}

}  // namespace gs::kernels
