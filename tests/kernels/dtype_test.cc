// Dequantization and float conversions against gguf-py and numpy
// (tests/data/dtype_golden.json, written by scripts/make_dtype_golden.py).
#include "kernels/dtype.h"

#include <gtest/gtest.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace gs {
namespace {

nlohmann::json LoadGolden() {
  std::ifstream in(testing::DataPath("dtype_golden.json"));
  return nlohmann::json::parse(in);
}

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(DtypeTest, BlockSizesMatchGgufPy) {
  const auto golden = LoadGolden()["block_sizes"];
  for (DType t :
       {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    SCOPED_TRACE(DTypeName(t));
    const auto& g = golden.at(DTypeName(t));
    EXPECT_EQ(BlockElems(t), g[0].get<int64_t>());
    EXPECT_EQ(BlockBytes(t), g[1].get<int64_t>());
  }
  EXPECT_EQ(RowBytes(DType::kQ4_1, 96), 3 * 20);
}

TEST(DtypeTest, DequantizeMatchesGgufPy) {
  const auto golden = LoadGolden();
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    const auto& g = golden.at(DTypeName(t));
    for (size_t r = 0; r < g["bytes"].size(); ++r) {
      SCOPED_TRACE(std::string(DTypeName(t)) + " row " + std::to_string(r));
      const std::vector<uint8_t> bytes = FromHex(g["bytes"][r].get<std::string>());
      const auto want = g["dequant"][r].get<std::vector<float>>();
      ASSERT_EQ(static_cast<int64_t>(bytes.size()), RowBytes(t, want.size()));
      std::vector<float> got(want.size());
      DequantizeRow(t, bytes.data(), got.data(), static_cast<int64_t>(got.size()));
      for (size_t i = 0; i < want.size(); ++i) {
        // Q4_1's q*d+m may be fused into one rounding: allow a few ulps there.
        if (t == DType::kQ4_1) {
          EXPECT_FLOAT_EQ(got[i], want[i]) << "element " << i;
        } else {
          EXPECT_EQ(got[i], want[i]) << "element " << i;
        }
      }
      // The quantized values approximate the originals (sanity of the golden itself).
      const auto orig = golden["rows"][r].get<std::vector<float>>();
      float amax = 0;
      for (float x : orig) amax = std::max(amax, std::fabs(x));
      for (size_t i = 0; i < orig.size(); ++i) EXPECT_NEAR(got[i], orig[i], 0.15f * amax);
    }
  }
}

TEST(DtypeTest, DequantizeSliceOfRowEqualsPartOfWholeRow) {
  const auto g = LoadGolden().at("Q4_1");
  const std::vector<uint8_t> bytes = FromHex(g["bytes"][0].get<std::string>());
  std::vector<float> whole(96), part(32);
  DequantizeRow(DType::kQ4_1, bytes.data(), whole.data(), 96);
  DequantizeRow(DType::kQ4_1, bytes.data() + RowBytes(DType::kQ4_1, 64), part.data(), 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(part[i], whole[64 + i]);
}

TEST(DtypeTest, HalfAndBFloat16MatchNumpyRounding) {
  const auto golden = LoadGolden();
  const auto bits = golden["float_bits"].get<std::vector<uint32_t>>();
  const auto f16 = golden["f16_bits"].get<std::vector<uint16_t>>();
  const auto bf16 = golden["bf16_bits"].get<std::vector<uint16_t>>();
  const auto f16_wide = golden["f16_widened_bits"].get<std::vector<uint32_t>>();
  ASSERT_EQ(bits.size(), f16.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    const float f = FromBits(bits[i]);
    SCOPED_TRACE("value " + std::to_string(f));
    EXPECT_EQ(FloatToHalf(f), f16[i]);
    EXPECT_EQ(FloatToBFloat16(f), bf16[i]);
    EXPECT_EQ(std::bit_cast<uint32_t>(HalfToFloat(f16[i])), f16_wide[i]);
    EXPECT_EQ(std::bit_cast<uint32_t>(BFloat16ToFloat(bf16[i])), static_cast<uint32_t>(bf16[i])
                                                                     << 16);
  }
}

TEST(DtypeTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_EQ(h & 0x7c00u, 0x7c00u);
      continue;
    }
    ASSERT_EQ(FloatToHalf(f), h) << "half bits " << h << " -> " << f;
  }
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(std::nanf("")))));
}

}  // namespace
}  // namespace gs
