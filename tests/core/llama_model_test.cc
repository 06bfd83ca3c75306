// The single-rank forward pass against golden logits from Hugging Face
// transformers (tests/data/models, made by scripts/make_fixtures.py).
#include "core/llama_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <string>

#include "kernels/cpu/cpu_ops.h"
#include "parallel/communicator.h"
#include "tests/model_harness.h"
#include "tests/test_util.h"

namespace gs {
namespace {

struct Case {
  std::string model;   // path under tests/data/models
  std::string golden;  // golden file under tests/data/models
  double tol;
};
// How ctest names the case (the default prints the bytes, pointers included).
void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " vs " << c.golden; }

class GoldenLogitsTest : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenLogitsTest, PrefillAndDecodeMatchTransformers) {
  const Case& c = GetParam();
  auto src = WeightSource::Open(gs::testing::DataPath("models/" + c.model));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto plan = ShardPlan::Make((*src)->config(), 1);
  ASSERT_TRUE(plan.ok());
  LocalCommunicator comm;
  auto model = LlamaModel::Load(**src, *plan, comm);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  (*model)->set_activations(kernels::Activations::kFp32);  // the exact product
  auto g = gs::testing::LoadGolden(gs::testing::DataPath("models/" + c.golden));
  gs::testing::SequenceRunner run(**model, 64);
  auto logits = run.Feed(g.token_ids);  // prefill, logits at every position
  ASSERT_EQ(logits.size(), g.logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_LT(gs::testing::MaxRelDiff(logits[i], g.logits[i]), c.tol) << "prefill position " << i;
  }
  for (size_t i = 0; i < g.greedy_ids.size() && i < g.greedy_logits.size(); ++i) {
    auto step = run.Feed({g.greedy_ids[i]});  // decode, one token
    EXPECT_LT(gs::testing::MaxRelDiff(step[0], g.greedy_logits[i]), c.tol) << "decode step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, GoldenLogitsTest,
    ::testing::Values(Case{"mha", "mha.golden.json", 1e-4}, Case{"mha.gguf", "mha.golden.json", 1e-4},
                      Case{"mqa", "mqa.golden.json", 1e-4}, Case{"mqa.gguf", "mqa.golden.json", 1e-4},
                      Case{"gqa", "gqa.golden.json", 1e-4}, Case{"gqa.gguf", "gqa.golden.json", 1e-4},
                      Case{"gqa_sharded", "gqa_sharded.golden.json", 1e-4},
                      Case{"qwen2", "qwen2.golden.json", 1e-4},
                      Case{"qwen2.gguf", "qwen2.golden.json", 1e-4},
                      Case{"g9x3", "g9x3.golden.json", 1e-4},
                      Case{"g9x3.gguf", "g9x3.golden.json", 1e-4},
                      Case{"gqa_hd64", "gqa_hd64.golden.json", 1e-4},
                      Case{"gqa_hd64.gguf", "gqa_hd64.golden.json", 1e-4},
                      Case{"gqa_hd64.q8_0.gguf", "gqa_hd64.q8_0.golden.json", 1e-4},
                      Case{"gqa_hd64.q4_0.gguf", "gqa_hd64.q4_0.golden.json", 1e-4},
                      Case{"gqa_hd64.q4_1.gguf", "gqa_hd64.q4_1.golden.json", 1e-4},
                      Case{"mha_bf16", "mha_bf16.golden.json", 1e-4},
                      Case{"mha_bf16.gguf", "mha_bf16.golden.json", 1e-4},
                      Case{"g9x3.q8_0.gguf", "g9x3.q8_0.golden.json", 1e-4},
                      Case{"g9x3.q4_0.gguf", "g9x3.q4_0.golden.json", 1e-4},
                      Case{"g9x3.q4_1.gguf", "g9x3.q4_1.golden.json", 1e-4}),
    [](const auto& info) {
      std::string n = info.param.model;
      for (char& ch : n) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return n;
    });

}  // namespace
}  // namespace gs

namespace gs {
namespace {

// A device whose attention kernels do not take the model's shape refuses the
// model at load, with its reason (CUDA's take head_dim 64 or 128:
// CudaKernelsHostTest.AttentionShapeNamesWhatTheKernelsTake).
class NarrowAttentionOps : public kernels::CpuOps {
 public:
  Status SupportsAttention(int head_dim, int heads_per_group) const override {
    return Status::InvalidArgument("no kernel for head_dim " + std::to_string(head_dim) + " with " +
                                   std::to_string(heads_per_group) + " heads a group");
  }
};

TEST(LoadDeviceTest, AttentionShapeTheDeviceRefusesFailsTheLoad) {
  auto src = WeightSource::Open(gs::testing::DataPath("models/g9x3.gguf"));  // 9 heads, 3 groups
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto plan = ShardPlan::Make((*src)->config(), 1);
  ASSERT_TRUE(plan.ok());
  LocalCommunicator comm;
  auto model = LlamaModel::Load(**src, *plan, comm, std::make_unique<NarrowAttentionOps>());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(model.status().message(), "no kernel for head_dim 32 with 3 heads a group");
  // The CPU's own kernels take the shape.
  auto cpu = LlamaModel::Load(**src, *plan, comm, std::make_unique<kernels::CpuOps>());
  EXPECT_TRUE(cpu.ok()) << cpu.status().ToString();
}

// Random weights (the GPU benchmark's model) through the same tensor list
// and layer loop: a fixed seed gives the same logits, another seed others,
// and they are finite.
TEST(RandomModelTest, SeededWeightsGiveFiniteRepeatableLogits) {
  ModelConfig c;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.vocab_size = 50;
  ASSERT_TRUE(c.Validate().ok());
  auto plan = ShardPlan::Make(c, 1);
  ASSERT_TRUE(plan.ok());
  LocalCommunicator comm;
  auto logits_of = [&](uint64_t seed) {
    auto model = LlamaModel::Random(c, *plan, comm, nullptr, seed);
    gs::testing::SequenceRunner run(*model, 16);
    return run.Feed({1, 7, 3, 49});
  };
  const auto a = logits_of(7), b = logits_of(7), other = logits_of(8);
  ASSERT_EQ(a.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), 50u);
    EXPECT_EQ(a[i], b[i]) << "position " << i;
    EXPECT_NE(a[i], other[i]) << "position " << i;
    for (float v : a[i]) ASSERT_TRUE(std::isfinite(v));
  }
}

}  // namespace
}  // namespace gs
