// The CPU KV cache's rows in each stored dtype (kernels/cpu/kv_rows.h): what
// KvAppend writes from fp32 and what attention widens back.
//   f16, bf16: written bit for bit as FloatToHalf / FloatToBFloat16 round
//     them (round to nearest even; and as numpy / gguf-py do, from
//     tests/data/dtype_golden.json), widened exactly (HalfToFloat /
//     BFloat16ToFloat). Relative error at most 2^-11 (f16, normal range;
//     below 2^-14 at most 2^-25 absolute) and 2^-8 (bf16).
//   q8_0: the bytes gguf-py's quantizer writes, widened bit for bit as
//     DequantizeRow reads them. Per block of 32 with d = amax / 127 and d̂ its
//     fp16: |x - q·d̂| <= d/2 + 127·|d - d̂| <= (1/2 + 127·2^-11)·d < 0.5625·d.
#include "kernels/cpu/kv_rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/dtype.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using kernels::cpu::StoreKvRow;

// dst [0, n) = the fp32 values of a stored row of n elements (a multiple of
// 8), eight at a time as attention widens them.
template <DType T>
void WidenRow(const uint8_t* row, int64_t n, float* dst) {
  for (int64_t d = 0; d < n; d += 8) _mm256_storeu_ps(dst + d, kernels::cpu::Widen8<T>(row, d));
}

nlohmann::json LoadGolden() {
  std::ifstream in(testing::DataPath("dtype_golden.json"));
  return nlohmann::json::parse(in);
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
uint16_t U16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// The golden specials (zeros, infinities, 65504/65519/65520, subnormal
// halves, ties) and random floats over twelve decades, plus random normals:
// 67 elements, so the vector loop and its scalar tail both run.
std::vector<float> TestFloats() {
  std::vector<float> x;
  const nlohmann::json golden = LoadGolden();
  for (const auto& b : golden["float_bits"]) x.push_back(FromBits(b.get<uint32_t>()));
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 3.0f);
  while (x.size() < 67 + 64) x.push_back(g(rng));
  return x;
}

TEST(KvRowsTest, F16IsFloatToHalfAndNumpyBitForBitAndWidensExactly) {
  const std::vector<float> x = TestFloats();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> row(RowBytes(DType::kF16, n));
  StoreKvRow(DType::kF16, x.data(), n, row.data());
  const auto numpy = LoadGolden()["f16_bits"];
  for (int64_t i = 0; i < n; ++i) {
    SCOPED_TRACE("element " + std::to_string(i) + " = " + std::to_string(x[i]));
    const uint16_t h = U16(row.data() + 2 * i);
    EXPECT_EQ(h, FloatToHalf(x[i]));
    if (i < static_cast<int64_t>(numpy.size())) {
      EXPECT_EQ(h, numpy[i].get<uint16_t>());
    }
  }
  // Widening: eight at a time, as attention reads them.
  const int64_t n8 = n / 8 * 8;
  std::vector<float> back(n8);
  WidenRow<DType::kF16>(row.data(), n8, back.data());
  for (int64_t i = 0; i < n8; ++i) {
    EXPECT_EQ(Bits(back[i]), Bits(HalfToFloat(U16(row.data() + 2 * i)))) << "element " << i;
    const float a = std::fabs(x[i]);
    if (std::isfinite(back[i]) && a <= 65504.0f) {
      const float bound = a >= 0x1p-14f ? a * 0x1p-11f : 0x1p-25f;
      EXPECT_LE(std::fabs(back[i] - x[i]), bound) << "element " << i;
    }
  }
}

TEST(KvRowsTest, Bf16IsFloatToBFloat16AndGgufPyBitForBitAndWidensExactly) {
  const std::vector<float> x = TestFloats();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> row(RowBytes(DType::kBF16, n));
  StoreKvRow(DType::kBF16, x.data(), n, row.data());
  const auto gguf = LoadGolden()["bf16_bits"];
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t b = U16(row.data() + 2 * i);
    EXPECT_EQ(b, FloatToBFloat16(x[i])) << "element " << i;
    if (i < static_cast<int64_t>(gguf.size())) {
      EXPECT_EQ(b, gguf[i].get<uint16_t>()) << i;
    }
  }
  const int64_t n8 = n / 8 * 8;
  std::vector<float> back(n8);
  WidenRow<DType::kBF16>(row.data(), n8, back.data());
  for (int64_t i = 0; i < n8; ++i) {
    EXPECT_EQ(Bits(back[i]), Bits(BFloat16ToFloat(U16(row.data() + 2 * i)))) << "element " << i;
    if (std::isfinite(x[i]) && std::isfinite(back[i])) {
      EXPECT_LE(std::fabs(back[i] - x[i]), std::fabs(x[i]) * 0x1p-8f) << "element " << i;
    }
  }
}

TEST(KvRowsTest, Q8_0IsWhatGgufPyWrites) {
  const auto golden = LoadGolden();
  const auto rows = golden["rows"];
  for (size_t r = 0; r < rows.size(); ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    const auto x = rows[r].get<std::vector<float>>();
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint8_t> row(RowBytes(DType::kQ8_0, n));
    StoreKvRow(DType::kQ8_0, x.data(), n, row.data());
    std::string hex;
    char buf[3];
    for (uint8_t b : row) {
      std::snprintf(buf, sizeof(buf), "%02x", b);
      hex += buf;
    }
    EXPECT_EQ(hex, golden["Q8_0"]["bytes"][r].get<std::string>());
  }
}

TEST(KvRowsTest, Q8_0WidensAsDequantizeRowWithinHalfAStep) {
  std::mt19937 rng(17);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (float scale : {1e-3f, 1.0f, 50.0f}) {
    const int64_t n = 128;
    std::vector<float> x(n);
    for (float& v : x) v = g(rng) * scale;
    x[37] = 8.0f * scale;                      // an outlier sets its block's step
    std::fill(x.begin() + 96, x.end(), 0.0f);  // an all-zero block: d = 0, q = 0
    std::vector<uint8_t> row(RowBytes(DType::kQ8_0, n));
    StoreKvRow(DType::kQ8_0, x.data(), n, row.data());
    std::vector<float> widened(n), deq(n);
    WidenRow<DType::kQ8_0>(row.data(), n, widened.data());
    DequantizeRow(DType::kQ8_0, row.data(), deq.data(), n);
    for (int64_t b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
      const float d = amax / 127;
      const uint8_t* blk = row.data() + b * 34;
      EXPECT_EQ(U16(blk), FloatToHalf(d)) << "block " << b;
      int qmax = 0;
      for (int j = 0; j < 32; ++j) {
        const int64_t i = b * 32 + j;
        qmax = std::max(qmax, std::abs(static_cast<int>(static_cast<int8_t>(blk[2 + j]))));
        EXPECT_EQ(Bits(widened[i]), Bits(deq[i])) << "element " << i;
        EXPECT_LE(std::fabs(deq[i] - x[i]), 0.5625f * d) << "element " << i << " scale " << scale;
      }
      EXPECT_EQ(qmax, amax > 0 ? 127 : 0) << "block " << b;
    }
  }
}

}  // namespace
}  // namespace gs
