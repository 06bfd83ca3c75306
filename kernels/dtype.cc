#include "kernels/dtype.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "kernels/check.h"

namespace gs {

namespace {

constexpr int64_t kQuantBlock = 32;

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xff);
  p[1] = static_cast<uint8_t>(v >> 8);
}

}  // namespace

int64_t BlockElems(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
      return 1;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
      return kQuantBlock;
  }
  CHECK(false) << "bad DType " << static_cast<int>(t);
  return 0;
}

int64_t BlockBytes(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF16:
      return 2;
    case DType::kBF16:
      return 2;
    case DType::kQ8_0:
      return 2 + kQuantBlock;  // fp16 d, 32 x int8
    case DType::kQ4_0:
      return 2 + kQuantBlock / 2;  // fp16 d, 32 x 4 bits
    case DType::kQ4_1:
      return 2 + 2 + kQuantBlock / 2;  // fp16 d, fp16 m, 32 x 4 bits
  }
  CHECK(false) << "bad DType " << static_cast<int>(t);
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kQ8_0:
      return "Q8_0";
    case DType::kQ4_0:
      return "Q4_0";
    case DType::kQ4_1:
      return "Q4_1";
  }
  return "?";
}

const char* DTypeLowerName(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kQ8_0:
      return "q8_0";
    case DType::kQ4_0:
      return "q4_0";
    case DType::kQ4_1:
      return "q4_1";
  }
  return "?";
}

bool DTypeFromLowerName(const std::string& name, DType* t) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (DType d :
       {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    if (lower == DTypeLowerName(d)) {
      *t = d;
      return true;
    }
  }
  return false;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t man = h & 0x3ff;
  if (exp == 0) {
    // Zero or subnormal: man * 2^-24, exact in fp32.
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return BitsFloat(sign | 0x7f800000u | (man << 13));
  return BitsFloat(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t FloatToHalf(float f) {
  const uint32_t x = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) {  // inf or NaN (NaN stays quiet NaN, keeps high payload bits)
    return sign | 0x7c00 | (a > 0x7f800000u ? (0x200 | ((a >> 13) & 0x3ff)) : 0);
  }
  if (a >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity
  if (a < 0x38800000u) {                       // below the smallest normal half (2^-14)
    if (a <= 0x33000000u) return sign;         // <= 2^-25 rounds (to even) to zero
    const uint32_t e = a >> 23;
    const uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // value / 2^-24 = m >> shift
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t h = (((a >> 23) - 112) << 10) | ((a & 0x7fffffu) >> 13);
  const uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
    ++h;  // a carry bumps the exponent, as it should
  return sign | static_cast<uint16_t>(h);
}

float BFloat16ToFloat(uint16_t b) { return BitsFloat(static_cast<uint32_t>(b) << 16); }

uint16_t FloatToBFloat16(float f) {
  const uint32_t x = FloatBits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1)) >> 16);  // round to nearest even
}

void DequantizeRow(DType t, const void* src, float* dst, int64_t n) {
  CHECK(n % BlockElems(t) == 0) << DTypeName(t) << " row of " << n << " elements";
  const auto* p = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, p, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = HalfToFloat(LoadU16(p + 2 * i));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = BFloat16ToFloat(LoadU16(p + 2 * i));
      return;
    case DType::kQ8_0:
      for (int64_t b = 0; b < n / kQuantBlock; ++b, p += BlockBytes(t), dst += kQuantBlock) {
        const float d = HalfToFloat(LoadU16(p));
        const auto* qs = reinterpret_cast<const int8_t*>(p + 2);
        for (int j = 0; j < kQuantBlock; ++j) dst[j] = static_cast<float>(qs[j]) * d;
      }
      return;
    case DType::kQ4_0:
      for (int64_t b = 0; b < n / kQuantBlock; ++b, p += BlockBytes(t), dst += kQuantBlock) {
        const float d = HalfToFloat(LoadU16(p));
        const uint8_t* qs = p + 2;
        // Low nibbles hold elements 0..15, high nibbles 16..31.
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          dst[j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
          dst[j + kQuantBlock / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
        }
      }
      return;
    case DType::kQ4_1:
      for (int64_t b = 0; b < n / kQuantBlock; ++b, p += BlockBytes(t), dst += kQuantBlock) {
        const float d = HalfToFloat(LoadU16(p));
        const float m = HalfToFloat(LoadU16(p + 2));
        const uint8_t* qs = p + 4;
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          dst[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
          dst[j + kQuantBlock / 2] = static_cast<float>(qs[j] >> 4) * d + m;
        }
      }
      return;
  }
  CHECK(false) << "bad DType " << static_cast<int>(t);
}

void QuantizeRow(DType t, const float* src, void* dst, int64_t n) {
  CHECK(n % BlockElems(t) == 0) << DTypeName(t) << " row of " << n << " elements";
  auto* p = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::kF32:
      std::memcpy(p, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) StoreU16(p + 2 * i, FloatToHalf(src[i]));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) StoreU16(p + 2 * i, FloatToBFloat16(src[i]));
      return;
    case DType::kQ8_0:
      for (int64_t b = 0; b < n / kQuantBlock; ++b, p += BlockBytes(t), src += kQuantBlock) {
        float amax = 0.0f;
        for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(src[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        StoreU16(p, FloatToHalf(d));
        for (int j = 0; j < kQuantBlock; ++j) {
          p[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(src[j] * id)));
        }
      }
      return;
    default:
      CHECK(false) << "no quantizer for " << DTypeName(t);
  }
}

}  // namespace gs
