// MatMul on weights kept in their stored dtype, against the reference: the
// weights widened by DequantizeRow (GGUF block layouts) and an fp64 dot with
// the unquantized activations.
//
// Tolerance. Quantized weights are multiplied with activations rounded to
// 8-bit blocks (scale d = amax/127 per 32 values), so each activation moves
// by at most d/2 = amax/254. The test asserts, per output,
//   |y - ref| <= sum over blocks of (sum |w| in block) * amax_x(block) / 254
//                + 1e-5 * sum |w * x|
// (the second term covers fp32 accumulation). Float weights (fp32, bf16,
// f16) are exact up to fp32 rounding: |y - ref| <= 1e-5 * sum |w * x|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "core/weight_matrix.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/matmul.h"

namespace gs {
namespace {

// Random rows x cols in `t`'s stored layout, with realistic block scales.
WeightMatrix RandomMatrix(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  WeightMatrix w;
  w.dtype = t;
  w.rows = rows;
  w.cols = cols;
  w.data.resize(rows * RowBytes(t, cols));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.02f), val(-1.0f, 1.0f);
  uint8_t* p = w.data.data();
  auto put16 = [&](uint16_t v) {
    std::memcpy(p, &v, 2);
    p += 2;
  };
  const int64_t n_blocks = rows * cols / BlockElems(t);
  for (int64_t b = 0; b < n_blocks; ++b) {
    switch (t) {
      case DType::kF32: {
        const float f = val(rng);
        std::memcpy(p, &f, 4);
        p += 4;
        break;
      }
      case DType::kF16:
        put16(FloatToHalf(val(rng)));
        break;
      case DType::kBF16:
        put16(FloatToBFloat16(val(rng)));
        break;
      case DType::kQ8_0:
        put16(FloatToHalf(scale(rng)));
        for (int j = 0; j < 32; ++j) *p++ = static_cast<uint8_t>(byte(rng) % 255 + 1);  // -127..127
        break;
      case DType::kQ4_0:
        put16(FloatToHalf(scale(rng)));
        for (int j = 0; j < 16; ++j) *p++ = static_cast<uint8_t>(byte(rng));
        break;
      case DType::kQ4_1:
        put16(FloatToHalf(scale(rng)));
        put16(FloatToHalf(-8.0f * scale(rng)));
        for (int j = 0; j < 16; ++j) *p++ = static_cast<uint8_t>(byte(rng));
        break;
    }
  }
  return w;
}

struct Shape {
  int64_t rows, cols, tokens;
  int threads;
};

void CheckAgainstReference(DType t, const Shape& s, uint32_t seed, bool int8 = true) {
  SCOPED_TRACE(std::string(DTypeName(t)) + " " + std::to_string(s.rows) + "x" +
               std::to_string(s.cols) + " tokens " + std::to_string(s.tokens) + " threads " +
               std::to_string(s.threads) + (int8 ? " int8" : " fp32"));
  std::mt19937 rng(seed);
  const WeightMatrix w = RandomMatrix(t, s.rows, s.cols, rng);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> x(s.tokens * s.cols);
  for (float& v : x) v = gauss(rng);
  x[3] = 25.0f;  // an outlier, as real activations have
  ThreadPool pool(s.threads);
  std::vector<float> y(s.tokens * s.rows, NAN);
  kernels::MatMul(x.data(), s.tokens, w, y.data(), &pool, int8);

  // The fp32-activation path is exact up to fp32 rounding.
  const bool quant = BlockElems(t) > 1 && int8;
  std::vector<float> wrow(s.cols);
  const int64_t rb = RowBytes(t, s.cols);
  double worst = 0;
  for (int64_t o = 0; o < s.rows; ++o) {
    DequantizeRow(t, w.data.data() + o * rb, wrow.data(), s.cols);
    for (int64_t tk = 0; tk < s.tokens; ++tk) {
      const float* xr = x.data() + tk * s.cols;
      double ref = 0, mag = 0, bound = 0;
      for (int64_t b = 0; b < s.cols; b += 32) {
        double amax = 0, wabs = 0;
        for (int64_t i = b; i < std::min(s.cols, b + 32); ++i) {
          ref += static_cast<double>(wrow[i]) * xr[i];
          mag += std::fabs(static_cast<double>(wrow[i]) * xr[i]);
          amax = std::max(amax, std::fabs(static_cast<double>(xr[i])));
          wabs += std::fabs(wrow[i]);
        }
        if (quant) bound += wabs * amax / 254.0;
      }
      bound += 1e-5 * mag;
      const double err = std::fabs(y[tk * s.rows + o] - ref);
      worst = std::max(worst, err / bound);
      ASSERT_LE(err, bound) << "row " << o << " token " << tk << " y " << y[tk * s.rows + o]
                            << " ref " << ref;
    }
  }
  // The bound is not vacuous: quantized paths use a good part of it.
  if (quant) {
    EXPECT_GT(worst, 0.02);
  }
}

TEST(QuantMatMulTest, AgreesWithDequantizedFp32) {
  const Shape shapes[] = {{37, 64, 1, 1},   {64, 576, 1, 2},   {50, 96, 3, 2},
                          {33, 1536, 5, 3}, {128, 256, 16, 2}, {17, 32, 7, 1}};
  uint32_t seed = 1;
  for (DType t :
       {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kF32, DType::kBF16, DType::kF16}) {
    for (const Shape& s : shapes) CheckAgainstReference(t, s, seed++);
  }
}

TEST(QuantMatMulTest, FloatPathsTakeOddWidths) {
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    CheckAgainstReference(t, {19, 45, 6, 2}, 99);
  }
}

// The AVX-512 VNNI kernels (when this CPU has them) compute the same integer
// sums as the AVX2 baseline.
TEST(QuantMatMulTest, WideKernelsMatchBaseline) {
  if (!kernels::cpu::CpuHasAvx512Vnni()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::mt19937 rng(7);
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    const WeightMatrix w = RandomMatrix(t, 1, 512, rng);
    std::vector<float> x(4 * 512);
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    for (float& v : x) v = gauss(rng);
    std::vector<kernels::cpu::Q8Act> xq(4 * 16);
    for (int tk = 0; tk < 4; ++tk)
      kernels::cpu::QuantizeRowQ8(x.data() + tk * 512, 512, &xq[tk * 16]);
    for (int nt = 1; nt <= 4; ++nt) {
      float a[4], b[4];
      kernels::cpu::PickQuantDot(t, false)(w.data.data(), xq.data(), 16, nt, a);
      kernels::cpu::PickQuantDot(t, true)(w.data.data(), xq.data(), 16, nt, b);
      for (int i = 0; i < nt; ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1 + std::fabs(a[i])));
    }
  }
}

TEST(QuantMatMulTest, QuantizeRowRoundTrips) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = std::sin(0.37f * i) * (i < 32 ? 1.0f : 100.0f);
  std::vector<kernels::cpu::Q8Act> q(2);
  kernels::cpu::QuantizeRowQ8(x.data(), 64, q.data());
  for (int i = 0; i < 64; ++i) {
    const auto& b = q[i / 32];
    EXPECT_NEAR(b.q[i % 32] * b.d, x[i], b.d * 0.5f + 1e-6f) << i;
  }
  float s0 = 0;
  for (int i = 0; i < 32; ++i) s0 += q[0].q[i];
  EXPECT_FLOAT_EQ(q[0].s, q[0].d * s0);
}

}  // namespace
}  // namespace gs
