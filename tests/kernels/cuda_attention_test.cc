// KV append, decode attention and prefill attention on the GPU against
// kernels::KvAppend / kernels::PagedAttention on the CPU, for fp32 and BF16
// caches, head_dim 64 and 128, several heads per group, scattered blocks.
#ifdef GS_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cuda/cuda_kernels.h"
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

struct Shape {
  int head_dim;
  int n_groups;
  int heads_per_group;
  bool bf16_cache;
};
void PrintTo(const Shape& s, std::ostream* os) {
  *os << "hd " << s.head_dim << ", " << s.n_groups << " groups x " << s.heads_per_group
      << " heads, " << (s.bf16_cache ? "bf16" : "fp32") << " cache";
}

// A step: sequences with `past` cached tokens each get `new_tokens` more.
struct Step {
  std::vector<int> past, new_tokens;
};

void RunCase(const Shape& sh, const Step& step, bool prefill_kernel) {
  const int B = 16, hd = sh.head_dim, G = sh.n_groups, nh = G * sh.heads_per_group;
  const int n_seqs = static_cast<int>(step.past.size());
  int max_blocks = 0;
  for (int s = 0; s < n_seqs; ++s) {
    max_blocks = std::max(max_blocks, (step.past[s] + step.new_tokens[s] + B - 1) / B);
  }
  const int n_blocks = n_seqs * max_blocks + 3;
  // Scattered block ids: a shuffled permutation.
  std::vector<int32_t> ids(n_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(11));
  std::vector<int32_t> tables(n_seqs * max_blocks);
  for (size_t i = 0; i < tables.size(); ++i) tables[i] = ids[i];

  const int64_t cache_elems = int64_t{n_blocks} * G * B * hd;
  std::vector<float> kc = RandomVector(cache_elems, 12), vc = RandomVector(cache_elems, 13);
  if (sh.bf16_cache) {
    kc = Bf16Round(kc);
    vc = Bf16Round(vc);
  }
  std::vector<int32_t> positions, token_seq, slots;
  for (int s = 0; s < n_seqs; ++s) {
    for (int j = 0; j < step.new_tokens[s]; ++j) {
      const int p = step.past[s] + j;
      positions.push_back(p);
      token_seq.push_back(s);
      slots.push_back(tables[s * max_blocks + p / B] * B + p % B);
    }
  }
  const int64_t n = static_cast<int64_t>(positions.size());
  auto q = RandomVector(n * nh * hd, 14, 2.0f);
  auto k = RandomVector(n * G * hd, 15), v = RandomVector(n * G * hd, 16);
  if (sh.bf16_cache) {
    k = Bf16Round(k);
    v = Bf16Round(v);
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  // CPU reference.
  std::vector<float> kc_cpu = kc, vc_cpu = vc;
  KvLayer cpu_kv{kc_cpu.data(), vc_cpu.data(), DType::kF32, G, B, hd};
  kernels::KvAppend(k.data(), v.data(), n, slots.data(), cpu_kv);
  std::vector<int32_t> head_group(nh);
  for (int j = 0; j < nh; ++j) head_group[j] = j / sh.heads_per_group;
  AttentionBatch cpu_batch{n, positions.data(), token_seq.data(), tables.data(), max_blocks};
  std::vector<float> want(n * nh * hd);
  kernels::PagedAttention(q.data(), cpu_kv, cpu_batch, head_group.data(), nh, scale, want.data());

  // GPU.
  DeviceBuffer dk = sh.bf16_cache ? ToDeviceBf16(kc) : ToDevice(kc);
  DeviceBuffer dv = sh.bf16_cache ? ToDeviceBf16(vc) : ToDevice(vc);
  KvLayer kv{dk.get(), dv.get(), sh.bf16_cache ? DType::kBF16 : DType::kF32, G, B, hd};
  auto d_k = ToDevice(k), d_v = ToDevice(v), d_q = ToDevice(q), d_pos = ToDevice(positions),
       d_seq = ToDevice(token_seq), d_slots = ToDevice(slots), d_tab = ToDevice(tables);
  KvAppend(d_k.get<float>(), d_v.get<float>(), n, d_slots.get<int32_t>(), kv, 0);
  AttentionBatchDevice batch;
  batch.n_tokens = n;
  batch.positions = d_pos.get<int32_t>();
  batch.token_seq = d_seq.get<int32_t>();
  batch.block_tables = d_tab.get<int32_t>();
  batch.max_blocks = max_blocks;
  batch.max_context = *std::max_element(positions.begin(), positions.end()) + 1;
  DeviceBuffer out(n * nh * hd * sizeof(float)), outb(n * nh * hd * sizeof(bf16));
  if (prefill_kernel) {
    const std::vector<int32_t> tiles = MakeAttentionTiles(token_seq.data(), n);
    auto d_tiles = ToDevice(tiles);
    const int n_tiles = static_cast<int>(tiles.size() / 2);
    PrefillAttention(d_q.get<float>(), kv, batch, d_tiles.get<int32_t>(), n_tiles, nh, scale,
                     out.get<float>(), 0);
    PrefillAttention(d_q.get<float>(), kv, batch, d_tiles.get<int32_t>(), n_tiles, nh, scale,
                     outb.get<bf16>(), 0);
    ExpectNear(Download<float>(out, n * nh * hd), want, 1e-4, "prefill fp32 out");
  } else {
    DeviceBuffer ws(DecodeAttentionWorkspaceBytes(n, nh, G, hd, batch.max_context));
    DecodeAttention(d_q.get<float>(), kv, batch, nh, scale, ws.get(), out.get<float>(), 0);
    DecodeAttention(d_q.get<float>(), kv, batch, nh, scale, ws.get(), outb.get<bf16>(), 0);
    ExpectNear(Download<float>(out, n * nh * hd), want, 1e-4, "decode fp32 out");
  }
  ExpectNear(DownloadBf16(outb, n * nh * hd), want, 1e-2, "bf16 out");
  // The cache now holds the appended rows exactly (already BF16-rounded for BF16).
  if (!sh.bf16_cache) {
    ExpectNear(Download<float>(dk, cache_elems), kc_cpu, 0.0, "K cache");
    ExpectNear(Download<float>(dv, cache_elems), vc_cpu, 0.0, "V cache");
  } else {
    ExpectNear(DownloadBf16(dk, cache_elems), kc_cpu, 0.0, "K cache");
    ExpectNear(DownloadBf16(dv, cache_elems), vc_cpu, 0.0, "V cache");
  }
}

class CudaAttentionTest : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaAttentionTest, DecodeMatchesCpu) {
  GS_REQUIRE_GPU();
  // One new token per sequence; contexts from 1 to several chunks.
  RunCase(GetParam(), Step{{0, 36, 299, 1500}, {1, 1, 1, 1}}, /*prefill_kernel=*/false);
}

TEST_P(CudaAttentionTest, DecodeKernelHandlesMixedSteps) {
  GS_REQUIRE_GPU();
  RunCase(GetParam(), Step{{0, 40}, {23, 3}}, /*prefill_kernel=*/false);
}

TEST_P(CudaAttentionTest, PrefillMatchesCpu) {
  GS_REQUIRE_GPU();
  // Fresh prompts, a chunked prefill continuing a cached prefix, and a decode token.
  RunCase(GetParam(), Step{{0, 0, 50, 77}, {40, 23, 20, 1}}, /*prefill_kernel=*/true);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaAttentionTest,
                         ::testing::Values(Shape{128, 2, 4, false}, Shape{128, 2, 4, true},
                                           Shape{64, 3, 3, true}, Shape{64, 1, 8, false},
                                           Shape{128, 1, 32, true}),
                         [](const ::testing::TestParamInfo<Shape>& i) {
                           return "hd" + std::to_string(i.param.head_dim) + "_groups" +
                                  std::to_string(i.param.n_groups) + "_x" +
                                  std::to_string(i.param.heads_per_group) +
                                  (i.param.bf16_cache ? "_bf16" : "_fp32");
                         });

}  // namespace
}  // namespace gs::kernels::cuda

#endif  // GS_HAVE_CUDA
