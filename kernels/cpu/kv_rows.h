// Rows of the CPU KV cache in their stored dtype: written from fp32 by
// KvAppend, widened back to fp32 eight values at a time by attention, in
// registers. One row is head_dim
// elements: fp32, f16 (F16C), bf16 (the high half of an fp32), or GGUF Q8_0
// blocks of 32 (fp16 scale d, then 32 int8 q; x ≈ q · d).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/dtype.h"

namespace gs::kernels::cpu {

// fp32 → the stored dtype, n elements (a multiple of 32 for Q8_0). F16 and
// BF16 round to nearest even, bit for bit FloatToHalf / FloatToBFloat16;
// Q8_0 as GGUF quantizes (QuantizeRow).
inline void StoreKvRow(DType t, const float* x, int64_t n, uint8_t* row) {
  if (t == DType::kF32) {
    std::memcpy(row, x, sizeof(float) * n);
  } else if (t == DType::kF16) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(row + 2 * i), h);
    }
    for (; i < n; ++i) {
      const uint16_t h = FloatToHalf(x[i]);
      std::memcpy(row + 2 * i, &h, 2);
    }
  } else {
    QuantizeRow(t, x, row, n);
  }
}

// The fp32 values of one Q8_0 row's block of 32, eight at a time: the block
// holding element d is found and its scale converted once. |q| <= 128 times
// an 11-bit fp16 mantissa is exact in fp32, so this equals DequantizeRow bit
// for bit.
struct Q8RowBlock {
  const uint8_t* q;  // the block's 32 int8 values
  int64_t d0;        // the element q[0] holds
  __m256 scale;
  Q8RowBlock(const uint8_t* row, int64_t d) : q(row + d / 32 * 34 + 2), d0(d / 32 * 32) {
    uint16_t dh;
    std::memcpy(&dh, q - 2, 2);
    scale = _mm256_set1_ps(_cvtsh_ss(dh));
  }
  // Elements [d, d + 8), inside [d0, d0 + 32).
  __m256 operator()(int64_t d) const {
    const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + (d - d0)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), scale);
  }
};

// The fp32 values of row elements [d, d + 8). For Q8_0, d must not cross a
// block: [d, d + 8) lies inside one block of 32.
template <DType T>
inline __m256 Widen8(const uint8_t* row, int64_t d) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
  } else if constexpr (T == DType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * d)));
  } else if constexpr (T == DType::kBF16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * d));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
  } else {
    static_assert(T == DType::kQ8_0, "KV rows are F32, F16, BF16 or Q8_0");
    return Q8RowBlock(row, d)(d);
  }
}

}  // namespace gs::kernels::cpu
