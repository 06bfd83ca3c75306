// Every CUDA kernel against its CPU twin (kernels/cpu/*.cc) on random inputs.
// Tolerances: fp32 paths agree to float rounding (1e-4 or tighter); a BF16
// output or BF16 cache keeps 8 significant bits, so those compare within
// 1e-2 of values of order one. Tests skip when no GPU is usable.
#ifdef GS_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"
#include "tests/kernels/cuda_test_util.h"

namespace gs::kernels::cuda {
namespace {

using gs::testing::cuda::Bf16Round;
using gs::testing::cuda::Download;
using gs::testing::cuda::DownloadBf16;
using gs::testing::cuda::ExpectNear;
using gs::testing::cuda::RandomVector;
using gs::testing::cuda::ToDevice;
using gs::testing::cuda::ToDeviceBf16;

TEST(CudaKernelsHostTest, AttentionTilesFollowSequencesAndTileSize) {
  // No GPU needed: the tile plan is host logic.
  const std::vector<int32_t> seq = {0, 0, 0, 0, 0, 1, 2, 2, 2};
  EXPECT_EQ(MakeAttentionTiles(seq.data(), 9, 2),
            (std::vector<int32_t>{0, 2, 2, 2, 4, 1, 5, 1, 6, 2, 8, 1}));
  EXPECT_EQ(MakeAttentionTiles(seq.data(), 9, 16), (std::vector<int32_t>{0, 5, 5, 1, 6, 3}));
  EXPECT_TRUE(MakeAttentionTiles(seq.data(), 0, 16).empty());
}

TEST(CudaKernelsHostTest, DeviceCountDoesNotAbortWithoutGpu) { EXPECT_GE(DeviceCount(), 0); }

// What the attention kernels take is known before a model loads (they would
// stop the process at their first call otherwise).
TEST(CudaKernelsHostTest, AttentionShapeNamesWhatTheKernelsTake) {
  EXPECT_TRUE(CudaAttentionShape(64, 3).ok());  // SmolLM2
  EXPECT_TRUE(CudaAttentionShape(128, 4).ok());  // Llama 3 8B
  EXPECT_TRUE(CudaAttentionShape(128, kMaxHeadsPerGroup).ok());
  for (int hd : {8, 32, 80, 96, 256}) {
    const Status st = CudaAttentionShape(hd, 3);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << hd;
    EXPECT_NE(st.message().find("head_dim 64 or 128; this model's is " + std::to_string(hd)),
              std::string::npos)
        << st.message();
  }
  const Status st = CudaAttentionShape(64, kMaxHeadsPerGroup + 1);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("query heads per KV group"), std::string::npos) << st.message();
}

TEST(CudaKernelsTest, EmbeddingCopiesOwnedRowsAndZeroesOthers) {
  GS_REQUIRE_GPU();
  const int64_t rows = 50, H = 96, begin = 10;
  auto table = Bf16Round(RandomVector(rows * H, 1));
  const std::vector<int32_t> tokens = {10, 59, 9, 60, 33};
  auto d_table = ToDeviceBf16(table);
  auto d_tok = ToDevice(tokens);
  DeviceBuffer out(tokens.size() * H * sizeof(float));
  Embedding(d_table.get<bf16>(), begin, rows, H, d_tok.get<int32_t>(), 5, out.get<float>(), 0);
  auto got = Download<float>(out, tokens.size() * H);
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int64_t r = tokens[t] - begin;
    for (int64_t i = 0; i < H; ++i) {
      const float want = (r >= 0 && r < rows) ? table[r * H + i] : 0.0f;
      ASSERT_EQ(got[t * H + i], want) << "token " << t << " dim " << i;
    }
  }
}

TEST(CudaKernelsTest, RmsNormMatchesCpu) {
  GS_REQUIRE_GPU();
  const int64_t n = 7, dim = 1000;
  auto x = RandomVector(n * dim, 2, 3.0f);
  auto w = RandomVector(dim, 3);
  std::vector<float> want(n * dim);
  kernels::RmsNorm(x.data(), w.data(), n, dim, 1e-5f, want.data());
  auto dx = ToDevice(x), dw = ToDevice(w);
  DeviceBuffer y(n * dim * sizeof(float)), yb(n * dim * sizeof(bf16));
  RmsNorm(dx.get<float>(), dw.get<float>(), n, dim, 1e-5f, y.get<float>(), 0);
  RmsNorm(dx.get<float>(), dw.get<float>(), n, dim, 1e-5f, yb.get<bf16>(), 0);
  ExpectNear(Download<float>(y, n * dim), want, 1e-5, "fp32 out");
  ExpectNear(DownloadBf16(yb, n * dim), want, 1e-2, "bf16 out");
}

TEST(CudaKernelsTest, RopeMatchesCpu) {
  GS_REQUIRE_GPU();
  const int head_dim = 128;
  std::vector<float> inv(head_dim / 2);  // theta 500000, no scaling
  for (int i = 0; i < head_dim / 2; ++i) {
    inv[i] = 1.0f / std::pow(500000.0f, static_cast<float>(2 * i) / head_dim);
  }
  const int64_t n = 6;
  const int heads = 5;
  auto x = RandomVector(n * heads * head_dim, 4);
  const std::vector<int32_t> pos = {0, 1, 17, 300, 4095, 8191};
  std::vector<float> want = x;
  kernels::RopeApply(want.data(), n, heads, head_dim, pos.data(), inv.data());
  auto dx = ToDevice(x), dpos = ToDevice(pos), dinv = ToDevice(inv);
  RopeApply(dx.get<float>(), n, heads, head_dim, dpos.get<int32_t>(), dinv.get<float>(), 0);
  // Angles reach ~8000 rad; both sides use full-precision sin/cos of the same fp32 angle.
  ExpectNear(Download<float>(dx, x.size()), want, 1e-4, "rope");
}

TEST(CudaKernelsTest, SiluMulAndAddsMatchCpu) {
  GS_REQUIRE_GPU();
  const int64_t n = 3000;
  auto g = RandomVector(n, 5, 6.0f), u = RandomVector(n, 6);
  std::vector<float> want(n);
  kernels::SiluMul(g.data(), u.data(), n, want.data());
  auto dg = ToDevice(g), du = ToDevice(u);
  DeviceBuffer out(n * sizeof(float)), outb(n * sizeof(bf16));
  SiluMul(dg.get<float>(), du.get<float>(), n, out.get<float>(), 0);
  SiluMul(dg.get<float>(), du.get<float>(), n, outb.get<bf16>(), 0);
  ExpectNear(Download<float>(out, n), want, 1e-5, "fp32 out");
  ExpectNear(DownloadBf16(outb, n), want, 1e-2, "bf16 out");

  AddInPlace(dg.get<float>(), du.get<float>(), n, 0);
  std::vector<float> sum(n);
  for (int64_t i = 0; i < n; ++i) sum[i] = g[i] + u[i];
  ExpectNear(Download<float>(dg, n), sum, 0.0, "add");
  auto bias = RandomVector(100, 7);
  auto db = ToDevice(bias);
  AddBias(dg.get<float>(), db.get<float>(), n / 100, 100, 0);
  for (int64_t i = 0; i < n; ++i) sum[i] += bias[i % 100];
  ExpectNear(Download<float>(dg, n), sum, 1e-6, "bias");
}

TEST(CudaKernelsTest, ArgmaxAndTopKMatchSort) {
  GS_REQUIRE_GPU();
  const int64_t rows = 3, vocab = 128256;
  const int k = 50;
  auto logits = RandomVector(rows * vocab, 8, 10.0f);
  auto dl = ToDevice(logits);
  DeviceBuffer am(rows * sizeof(int32_t)), vals(rows * k * sizeof(float)),
      idx(rows * k * sizeof(int32_t)), ws(TopKWorkspaceBytes(rows, vocab, k));
  Argmax(dl.get<float>(), rows, vocab, am.get<int32_t>(), 0);
  TopK(dl.get<float>(), rows, vocab, k, ws.get(), vals.get<float>(), idx.get<int32_t>(), 0);
  auto got_am = Download<int32_t>(am, rows);
  auto got_v = Download<float>(vals, rows * k);
  auto got_i = Download<int32_t>(idx, rows * k);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits.data() + r * vocab;
    std::vector<int32_t> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    EXPECT_EQ(got_am[r], order[0]) << "row " << r;
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(got_i[r * k + j], order[j]) << "row " << r << " rank " << j;
      EXPECT_EQ(got_v[r * k + j], row[order[j]]);
    }
  }
}

TEST(CudaKernelsTest, GemmMatchesCpuWithinBf16Rounding) {
  GS_REQUIRE_GPU();
  const int64_t n = 5, rows = 70, cols = 1096;  // 1096 / 8 = 137 vectors: unrolled loop + tail
  auto x = Bf16Round(RandomVector(n * cols, 9));
  auto w = Bf16Round(RandomVector(rows * cols, 10));
  std::vector<float> want(n * rows, 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t o = 0; o < rows; ++o) {
      double s = 0;
      for (int64_t i = 0; i < cols; ++i) s += double{x[t * cols + i]} * w[o * cols + i];
      want[t * rows + o] = static_cast<float>(s);
    }
  }
  auto dx = ToDeviceBf16(x), dw = ToDeviceBf16(w);
  DeviceBuffer y(n * rows * sizeof(float)), yb(n * rows * sizeof(bf16));
  Gemm gemm(nullptr);
  const DeviceMatrix m{dw.get<bf16>(), rows, cols};
  std::vector<float> twice = want;
  for (float& v : twice) v *= 2.0f;
  // n = 5 takes the Gemv kernel by default; cuBLAS when it is switched off.
  for (bool gemv : {true, false}) {
    SCOPED_TRACE(gemv ? "gemv kernel" : "cublas");
    gemm.set_use_gemv(gemv);
    gemm.MatMul(dx.get<bf16>(), n, m, y.get<float>());
    // Inputs are exactly representable; only fp32 accumulation order differs.
    ExpectNear(Download<float>(y, n * rows), want, 1e-4, "fp32 out");
    gemm.MatMul(dx.get<bf16>(), n, m, y.get<float>(), /*beta=*/1.0f);
    ExpectNear(Download<float>(y, n * rows), twice, 1e-4, "beta = 1 accumulates");
  }
  gemm.MatMul(dx.get<bf16>(), n, m, yb.get<bf16>());
  ExpectNear(DownloadBf16(yb, n * rows), want, 2e-2, "bf16 out");
}

}  // namespace
}  // namespace gs::kernels::cuda

#endif  // GS_HAVE_CUDA
