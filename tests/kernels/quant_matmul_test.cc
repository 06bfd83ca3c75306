// MatMul on weights kept in their stored dtype, against the reference: the
// weights widened by DequantizeRow (GGUF block layouts) and an fp64 dot with
// the unquantized activations.
//
// Tolerance. Quantized weights are multiplied with activations rounded to
// 8 bits with a step per group of four (elements {4j, 4j+1, 4j+16, 4j+17}
// and {4j+2, 4j+3, 4j+18, 4j+19} of each block of 32, GroupOf below) that is
// at most amax(group)/127 plus
// the row's unit amax(row)/(127 * kGroupSteps) (see Q8ActPair), so each
// activation moves by at most half of that. The test asserts, per output,
//   |y - ref| <= sum over groups of (sum |w| in group) *
//                  (amax_x(group) + amax_x(row) / kGroupSteps) / 254
//                + 1e-5 * sum |w * x|
// (the second term covers fp32 accumulation). Float weights (fp32, bf16,
// f16) are exact up to fp32 rounding: |y - ref| <= 1e-5 * sum |w * x|.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/thread_pool.h"
#include "kernels/weight_matrix.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/matmul.h"

namespace gs {
namespace {

// The four elements of activation group g (0..7) of the block starting at
// element b, as the header of kernels/cpu/quant_dot.h defines the groups.
std::array<int64_t, 4> GroupOf(int64_t b, int g) {
  const int64_t e = 4 * (g / 2) + 2 * (g % 2);
  return {b + e, b + e + 1, b + e + 16, b + e + 17};
}
// The group (0..7) of element e (0..31) of its block.
int GroupIndex(int64_t e) { return static_cast<int>(e % 16 / 2); }

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
        for (int j = 0; j < 32; ++j) {
          *p++ = static_cast<uint8_t>(byte(rng));  // -128..127: the format allows -128
        }
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

// The matrix as the CPU products take it.
WeightMatrix Packed(WeightMatrix w) {
  kernels::PackForCpu(&w);
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
  kernels::MatMul(x.data(), s.tokens, Packed(w), y.data(), &pool,
                  int8 ? kernels::Activations::kInt8 : kernels::Activations::kFp32);

  // The fp32-activation path is exact up to fp32 rounding.
  const bool quant = BlockElems(t) > 1 && int8;
  std::vector<float> wrow(s.cols);
  const int64_t rb = RowBytes(t, s.cols);
  double worst = 0;
  for (int64_t o = 0; o < s.rows; ++o) {
    DequantizeRow(t, w.data.data() + o * rb, wrow.data(), s.cols);
    for (int64_t tk = 0; tk < s.tokens; ++tk) {
      const float* xr = x.data() + tk * s.cols;
      double row_amax = 0;
      for (int64_t i = 0; i < s.cols; ++i) row_amax = std::max(row_amax, std::fabs(double{xr[i]}));
      double ref = 0, mag = 0, bound = 0;
      for (int64_t i = 0; i < s.cols; ++i) {
        ref += static_cast<double>(wrow[i]) * xr[i];
        mag += std::fabs(static_cast<double>(wrow[i]) * xr[i]);
      }
      for (int64_t b = 0; quant && b < s.cols; b += 32) {
        for (int g = 0; g < 8; ++g) {
          double amax = 0, wabs = 0;
          for (const int64_t i : GroupOf(b, g)) {
            amax = std::max(amax, std::fabs(static_cast<double>(xr[i])));
            wabs += std::fabs(wrow[i]);
          }
          bound += wabs * (amax + row_amax / kernels::cpu::kGroupSteps) / 254.0;
        }
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
    for (const Shape& s : shapes) {
      CheckAgainstReference(t, s, seed, /*int8=*/true);
      CheckAgainstReference(t, s, seed++, /*int8=*/false);
    }
  }
}

TEST(QuantMatMulTest, FloatPathsTakeOddWidths) {
  // 45, 61 and 93 columns: one, three and two vectors of eight after the
  // last whole group of 32, then a scalar tail; 40: none of 32 at all.
  // One token (two rows at a time, an odd row count) and seven.
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (const int64_t cols : {45, 61, 93, 40}) {
      CheckAgainstReference(t, {19, cols, 7, 2}, 99);
      CheckAgainstReference(t, {19, cols, 1, 2}, 98);
      CheckAgainstReference(t, {19, cols, 1, 1}, 97);
    }
  }
}

// The fp32-activation products (float weights, and quantized weights with
// fp32 activations) give a token the same bits alone or in any batch, over
// any split of the rows between threads.
TEST(QuantMatMulTest, Fp32ActivationsBatchingDoesNotChangeResults) {
  std::mt19937 rng(5);
  for (DType t :
       {DType::kF32, DType::kBF16, DType::kF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    for (const int64_t cols : {64, 96, 576, 61}) {
      if (BlockElems(t) > 1 && cols % 32 != 0) continue;
      SCOPED_TRACE(std::string(DTypeName(t)) + ", " + std::to_string(cols) + " columns");
      const int64_t rows = 37, n = 8;
      const WeightMatrix w = Packed(RandomMatrix(t, rows, cols, rng));
      std::vector<float> x(n * cols);
      std::normal_distribution<float> gauss(0.0f, 1.0f);
      for (float& v : x) v = gauss(rng);
      ThreadPool three(3);
      std::vector<float> all(n * rows);
      kernels::MatMul(x.data(), n, w, all.data(), &three, kernels::Activations::kFp32);
      ThreadPool two(2);
      for (int64_t tk = 0; tk < n; ++tk) {
        // Alone on one thread, and alone on two (other row ranges).
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two}) {
          std::vector<float> one(rows);
          kernels::MatMul(&x[tk * cols], 1, w, one.data(), pool, kernels::Activations::kFp32);
          for (int64_t o = 0; o < rows; ++o) {
            ASSERT_EQ(one[o], all[tk * rows + o]) << "token " << tk << " row " << o;
          }
        }
      }
    }
  }
}

using kernels::cpu::PairsOf;

// Quantizes n rows of x (k wide) to activation pairs, PairsOf(k / 32) a row.
std::vector<kernels::cpu::Q8ActPair> QuantizeRows(const std::vector<float>& x, int64_t n,
                                                  int64_t k) {
  const int64_t np = PairsOf(k / 32);
  std::vector<kernels::cpu::Q8ActPair> xq(n * np);
  for (int64_t t = 0; t < n; ++t) kernels::cpu::QuantizeRowQ8(x.data() + t * k, k, &xq[t * np]);
  return xq;
}

// The activations as dtype t's kernels read them: Q4 kernels take whole
// groups transposed (TransposeQ4Groups), Q8_0 the pairs as they are.
std::vector<kernels::cpu::Q8ActPair> ForKernel(DType t,
                                               const std::vector<kernels::cpu::Q8ActPair>& xq,
                                               int64_t np) {
  if (!kernels::cpu::ReadsTransposedGroups(t)) return xq;
  std::vector<kernels::cpu::Q8ActPair> xt(xq.size());
  for (size_t r = 0; r < xq.size(); r += np) kernels::cpu::TransposeQ4Groups(&xq[r], np, &xt[r]);
  return xt;
}

// The AVX-512 VNNI kernels (when this CPU has them) compute the same integer
// sums as the AVX2 baseline.
TEST(QuantMatMulTest, WideKernelsMatchBaseline) {
  if (!kernels::cpu::CpuHasAvx512Vnni()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::mt19937 rng(7);
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    const WeightMatrix w = RandomMatrix(t, 9, 512, rng);
    std::vector<float> x(7 * 512);
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    for (float& v : x) v = gauss(rng);
    const auto xq = ForKernel(t, QuantizeRows(x, 7, 512), 8);
    const WeightMatrix p = Packed(w);
    const int64_t rb = kernels::cpu::PairedRowBytes(t, 512);
    for (int nt = 1; nt <= 7; ++nt) {
      std::vector<float> a(nt * 9), b(nt * 9);
      kernels::cpu::PickQuantRows(t, false)(p.data.data(), rb, xq.data(), 8, nt, 9, a.data(), 0, 9);
      kernels::cpu::PickQuantRows(t, true)(p.data.data(), rb, xq.data(), 8, nt, 9, b.data(), 0, 9);
      for (int i = 0; i < nt * 9; ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1 + std::fabs(a[i])));
    }
  }
}

// A token's outputs are bitwise the same computed alone or inside any batch,
// over any row range: serving relies on it (a request's tokens do not depend
// on what else is running).
TEST(QuantMatMulTest, BatchingDoesNotChangeResults) {
  std::mt19937 rng(11);
  // 7 blocks a row (three pairs and a padded one: one whole Q4 group), 5
  // blocks (an odd number of pairs, for the one-token Q8_0 kernel's last
  // pair; a Q4 group of three), 12 blocks (a group and one of two) and 18
  // (two groups and one of one pair).
  for (const int64_t cols : {224, 160, 384, 576})
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    SCOPED_TRACE(std::string(DTypeName(t)) + ", " + std::to_string(cols) + " columns");
    const int64_t rows = 23, np = PairsOf(cols / 32);
    const WeightMatrix w = Packed(RandomMatrix(t, rows, cols, rng));
    const int64_t n = 11;
    std::vector<float> x(n * cols);
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    for (float& v : x) v = gauss(rng);
    const auto xq = ForKernel(t, QuantizeRows(x, n, cols), np);
    const int64_t rb = kernels::cpu::PairedRowBytes(t, cols);
    const auto rows_fn = kernels::cpu::PickQuantRows(t);
    std::vector<float> all(n * rows);
    rows_fn(w.data.data(), rb, xq.data(), np, n, rows, all.data(), 0, rows);
    for (int64_t tk = 0; tk < n; ++tk) {
      std::vector<float> one(rows);
      // Alone, and in two row ranges that split the 4-row tiles unevenly.
      rows_fn(w.data.data(), rb, xq.data() + tk * np, np, 1, rows, one.data(), 0, 7);
      rows_fn(w.data.data(), rb, xq.data() + tk * np, np, 1, rows, one.data(), 7, rows);
      for (int64_t o = 0; o < rows; ++o) {
        ASSERT_EQ(one[o], all[tk * rows + o]) << "token " << tk << " row " << o;
      }
    }
  }
}

// The int8 path is exactly the fp32 product of the weights with the rounded
// activations (q * k * scale), up to fp32 summation: the only error is the rounding
// the tolerance above accounts for.
TEST(QuantMatMulTest, Int8PathIsTheProductWithRoundedActivations) {
  std::mt19937 rng(21);
  const int64_t rows = 37, cols = 608, n = 5, np = PairsOf(cols / 32);
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    SCOPED_TRACE(DTypeName(t));
    const WeightMatrix w = RandomMatrix(t, rows, cols, rng);
    std::vector<float> x(n * cols);
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    for (float& v : x) v = gauss(rng);
    x[40] = 30.0f;
    const auto xq = QuantizeRows(x, n, cols);
    std::vector<float> xr(n * cols);
    for (int64_t tk = 0; tk < n; ++tk) {
      for (int64_t i = 0; i < cols; ++i) {
        xr[tk * cols + i] = kernels::cpu::QuantizedActivation(&xq[tk * np], i);
      }
    }
    std::vector<float> y8(n * rows), y32(n * rows);
    const WeightMatrix p = Packed(w);
    kernels::MatMul(x.data(), n, p, y8.data(), nullptr, kernels::Activations::kInt8);
    kernels::MatMul(xr.data(), n, p, y32.data(), nullptr, kernels::Activations::kFp32);
    std::vector<float> wrow(cols);
    for (int64_t o = 0; o < rows; ++o) {
      DequantizeRow(t, w.data.data() + o * RowBytes(t, cols), wrow.data(), cols);
      for (int64_t tk = 0; tk < n; ++tk) {
        double mag = 0;
        for (int64_t i = 0; i < cols; ++i) mag += std::fabs(wrow[i] * xr[tk * cols + i]);
        ASSERT_NEAR(y8[tk * rows + o], y32[tk * rows + o], 2e-6 * mag)
            << "row " << o << " token " << tk;
      }
    }
  }
}

// The quantized value and group step of element i, read from the layout the
// header documents (not through the library's own accessor).
struct Rounded {
  int q;
  int k;  // the group's multiplier
  float step;
};
Rounded At(const std::vector<kernels::cpu::Q8ActPair>& row, int64_t i) {
  const auto& p = row[i / 64];
  const int64_t half = (i % 64) / 32, elem = i % 32, v = 16 * half + elem % 16;
  const int k = p.k[8 * half + GroupIndex(elem)];
  return {elem < 16 ? p.lo[v] : p.hi[v], k, k * p.scale};
}

TEST(QuantMatMulTest, QuantizeRowRoundTrips) {
  // Three blocks: one pair and one padded pair.
  std::vector<float> x(96);
  for (int i = 0; i < 96; ++i) x[i] = std::sin(0.37f * i) * (i < 32 ? 1.0f : 100.0f);
  x[5] = 0.0f;
  x[9] = 40.0f;  // an outlier coarsens its own group only
  for (const int64_t i : GroupOf(0, 6)) x[i] = 0.0f;  // an all-zero group
  x[2] = 1e-4f;  // a group (2, 3, 18, 19) far below the row's largest value
  x[3] = x[18] = x[19] = -3e-5f;
  const auto q = QuantizeRows(x, 1, 96);
  ASSERT_EQ(q.size(), 2u);
  float row_amax = 0;
  for (float v : x) row_amax = std::max(row_amax, std::fabs(v));
  const float unit = row_amax / (127.0f * kernels::cpu::kGroupSteps);
  for (int i = 0; i < 96; ++i) {
    EXPECT_FLOAT_EQ(q[i / 64].scale, unit) << i;
    const Rounded r = At(q, i);
    EXPECT_GE(r.step, unit * (1 - 1e-6f)) << i;  // k >= 1
    float amax = 0;
    for (const int64_t j : GroupOf(i / 32 * 32, GroupIndex(i % 32))) {
      amax = std::max(amax, std::fabs(x[j]));
    }
    // The group's step holds its largest value in 127 steps, and is no
    // coarser than that needs.
    EXPECT_GE(r.step * 127.0f, amax * (1 - 1e-6f)) << i;
    EXPECT_LE(r.step, amax / 127.0f + unit * 1.0001f) << i;
    EXPECT_LE(std::abs(r.q), 127) << i;
    EXPECT_NEAR(r.q * r.step, x[i], r.step * 0.5f * 1.0001f + 1e-12f) << i;
    EXPECT_EQ(kernels::cpu::QuantizedActivation(q.data(), i), r.q * r.step) << i;
  }
  // The padding block is zero and its sums too. The sums of q * k per block
  // sit in the group's first pair, b0 of its pairs first, then b1.
  for (int i = 96; i < 128; ++i) EXPECT_EQ(At(q, i).q, 0) << i;
  for (int pair = 0; pair < 2; ++pair) {
    for (int half = 0; half < 2; ++half) {
      int64_t sum = 0;
      for (int e = 0; e < 32; ++e) {
        const Rounded r = At(q, pair * 64 + half * 32 + e);
        sum += static_cast<int64_t>(r.q) * r.k;
      }
      EXPECT_EQ(q[0].group_sums[kernels::cpu::kGroupPairs * half + pair], sum) << pair;
    }
  }
  for (int i = 2; i < kernels::cpu::kGroupPairs; ++i) {
    EXPECT_EQ(q[0].group_sums[i], 0) << i;  // pairs past the row's end
    EXPECT_EQ(q[0].group_sums[kernels::cpu::kGroupPairs + i], 0) << i;
  }
}

// Packing keeps every weight: the packed rows dequantize to exactly the GGUF
// rows, odd block counts and every length of a row's last Q4 group included.
// TransposeQ4Groups moves lo, hi and k of pair p's 4-byte word (h, v) to
// word (h, p) of pair v within each whole group of four pairs (the header's
// words), and leaves a shorter last group, the group sums and the scales.
TEST(QuantMatMulTest, Q4GroupsTransposeAsTheHeaderSays) {
  std::mt19937 rng(31);
  const int64_t np = 10;  // two whole groups and one of two pairs
  std::vector<kernels::cpu::Q8ActPair> x(np), out(np);
  for (auto& p : x) {
    auto* bytes = reinterpret_cast<uint8_t*>(&p);
    for (size_t i = 0; i < sizeof(p); ++i) bytes[i] = static_cast<uint8_t>(rng());
  }
  kernels::cpu::TransposeQ4Groups(x.data(), np, out.data());
  auto word = [](const void* field, int64_t h, int64_t v) {
    uint32_t w;
    std::memcpy(&w, static_cast<const uint8_t*>(field) + 16 * h + 4 * v, 4);
    return w;
  };
  for (int64_t g = 0; g < 8; g += 4) {
    for (int64_t p = 0; p < 4; ++p) {
      for (int64_t h = 0; h < 2; ++h) {
        for (int64_t v = 0; v < 4; ++v) {
          SCOPED_TRACE("group " + std::to_string(g) + " pair " + std::to_string(p));
          EXPECT_EQ(word(out[g + v].lo, h, p), word(x[g + p].lo, h, v));
          EXPECT_EQ(word(out[g + v].hi, h, p), word(x[g + p].hi, h, v));
          EXPECT_EQ(word(out[g + v].k, h, p), word(x[g + p].k, h, v));
        }
      }
      EXPECT_EQ(std::memcmp(out[g + p].group_sums, x[g + p].group_sums, 32), 0);
      EXPECT_EQ(out[g + p].scale, x[g + p].scale);
    }
  }
  for (int64_t j = 8; j < np; ++j) {
    EXPECT_EQ(std::memcmp(out[j].lo, x[j].lo, 32), 0) << j;
    EXPECT_EQ(std::memcmp(out[j].hi, x[j].hi, 32), 0) << j;
    EXPECT_EQ(std::memcmp(out[j].k, x[j].k, 32), 0) << j;
    EXPECT_EQ(std::memcmp(out[j].group_sums, x[j].group_sums, 32), 0) << j;
    EXPECT_EQ(out[j].scale, x[j].scale) << j;
  }
}

TEST(QuantMatMulTest, PackedRowsHoldTheSameWeights) {
  std::mt19937 rng(9);
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    for (int64_t cols : {32, 64, 96, 256, 320, 448, 576}) {
      const WeightMatrix w = RandomMatrix(t, 3, cols, rng);
      const WeightMatrix p = Packed(w);
      EXPECT_TRUE(p.paired);
      EXPECT_EQ(p.bytes(), 3 * kernels::cpu::PairedRowBytes(t, cols));
      std::vector<float> a(cols), b(cols);
      for (int64_t r = 0; r < 3; ++r) {
        DequantizeRow(t, w.data.data() + r * RowBytes(t, cols), a.data(), cols);
        kernels::cpu::DequantizePairedRow(
            t, p.data.data() + r * kernels::cpu::PairedRowBytes(t, cols), cols, b.data());
        EXPECT_EQ(a, b) << DTypeName(t) << " cols " << cols << " row " << r;
      }
    }
  }
}

// A row of zeros quantizes to zeros and multiplies to zeros.
TEST(QuantMatMulTest, ZeroActivationsGiveZero) {
  std::mt19937 rng(5);
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1}) {
    const WeightMatrix w = RandomMatrix(t, 8, 64, rng);
    std::vector<float> x(64, 0.0f), y(8, NAN);
    kernels::MatMul(x.data(), 1, Packed(w), y.data(), nullptr, kernels::Activations::kInt8);
    for (float v : y) EXPECT_EQ(v, 0.0f) << DTypeName(t);
  }
}

}  // namespace
}  // namespace gs
