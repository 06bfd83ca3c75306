// Element types of weights on disk and in memory, and their storage sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gs {

enum class DType { kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_1 };

// Elements per quantization block (1 for plain floats).
int64_t BlockElems(DType t);
// Bytes per block (bytes per element for plain floats).
int64_t BlockBytes(DType t);
// Bytes of a row of `n` elements; n must be a multiple of BlockElems.
inline int64_t RowBytes(DType t, int64_t n) { return n / BlockElems(t) * BlockBytes(t); }
const char* DTypeName(DType t);
// The lowercase spelling of flags and reports: "f32", "f16", "bf16", "q8_0",
// "q4_0", "q4_1".
const char* DTypeLowerName(DType t);
// The inverse of DTypeLowerName (case-insensitive); false for other names.
bool DTypeFromLowerName(const std::string& name, DType* t);

float HalfToFloat(uint16_t h);
float BFloat16ToFloat(uint16_t b);
uint16_t FloatToHalf(float f);
uint16_t FloatToBFloat16(float f);

// Converts `n` elements of type `t` starting at `src` (a whole number of
// blocks) into fp32 at `dst`. Follows the GGUF block layouts for Q8_0/Q4_0/Q4_1.
void DequantizeRow(DType t, const void* src, float* dst, int64_t n);
// The reverse for F32, F16, BF16 (round to nearest even) and Q8_0 (as GGUF
// quantizes: per block of 32, d = amax / 127 stored as fp16, q = round(x / d)
// half away from zero, computed as x · (1 / d)).
void QuantizeRow(DType t, const float* src, void* dst, int64_t n);

}  // namespace gs
