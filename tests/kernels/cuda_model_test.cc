// The CUDA model runner against logits from Hugging Face transformers for
// SmolLM2-135M (tests/data/models/smollm2.golden.json), prefill then decode.
// BF16 weights and activations: logits agree to a few percent of their range
// and the greedy token is the same.
#ifdef GS_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/model_input.h"
#include "kernels/cuda/cuda_bench.h"
#include "kernels/cuda/cuda_model.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/model_harness.h"
#include "tests/test_util.h"

namespace gs::kernels::cuda {
namespace {

constexpr double kBf16LogitTol = 0.05;  // MaxRelDiff: max |diff| / max |golden|

// Feeds tokens to one sequence (blocks 0, 1, 2, ... in order); returns the
// logits of every new position.
std::vector<std::vector<float>> Feed(CudaLlamaModel& m, int block_size, int& pos,
                                     const std::vector<int32_t>& tokens, int max_blocks) {
  ModelInput in;
  in.max_blocks = max_blocks;
  for (int b = 0; b < max_blocks; ++b) in.block_tables.push_back(b);
  for (int32_t t : tokens) {
    in.logit_rows.push_back(static_cast<int32_t>(in.tokens.size()));
    in.tokens.push_back(t);
    in.positions.push_back(pos);
    in.slots.push_back(pos);  // block b holds positions [b * B, (b + 1) * B)
    in.token_seq.push_back(0);
    ++pos;
  }
  const int64_t V = m.config().vocab_size;
  std::vector<float> flat(tokens.size() * V);
  m.Forward(in, flat.data());
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    out.emplace_back(flat.begin() + i * V, flat.begin() + (i + 1) * V);
  }
  return out;
}

TEST(CudaModelTest, SmolLM2MatchesTransformers) {
  GS_REQUIRE_GPU();
  const std::string path = gs::testing::SmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf not available";
  auto src = WeightSource::Open(path);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto plan = ShardPlan::Make((*src)->config(), 1);
  ASSERT_TRUE(plan.ok());
  LocalCommunicator comm;
  auto model = CudaLlamaModel::Load(**src, *plan, comm, /*stream=*/nullptr);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const int block_size = 16, max_blocks = 8;
  (*model)->AllocateKvCache(max_blocks, block_size);
  auto g = gs::testing::LoadGolden(gs::testing::DataPath("models/smollm2.golden.json"));
  int pos = 0;
  auto logits = Feed(**model, block_size, pos, g.token_ids, max_blocks);
  ASSERT_EQ(logits.size(), g.logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_LT(gs::testing::MaxRelDiff(logits[i], g.logits[i]), kBf16LogitTol) << "prefill " << i;
  }
  auto argmax = [](const std::vector<float>& v) {
    return std::max_element(v.begin(), v.end()) - v.begin();
  };
  EXPECT_EQ(argmax(logits.back()), argmax(g.logits.back()));
  for (size_t i = 0; i < g.greedy_ids.size() && i < g.greedy_logits.size(); ++i) {
    auto step = Feed(**model, block_size, pos, {g.greedy_ids[i]}, max_blocks);  // decode kernel
    EXPECT_LT(gs::testing::MaxRelDiff(step[0], g.greedy_logits[i]), kBf16LogitTol)
        << "decode " << i;
  }
}

// The benchmark of scripts/gpu-check; skipped unless GS_CUDA_BENCH=1.
TEST(CudaBench, Llama3_8BShapeRandomWeights) {
  GS_REQUIRE_GPU();
  if (std::getenv("GS_CUDA_BENCH") == nullptr) GTEST_SKIP() << "set GS_CUDA_BENCH=1 to run";
  BenchOptions opt;
  const auto rows = RunBench(opt);
  std::printf("%s", FormatBench(rows, opt).c_str());
  for (const BenchRow& r : rows) EXPECT_GT(r.tokens_per_s, 0.0) << r.phase << " " << r.batch;
}

}  // namespace
}  // namespace gs::kernels::cuda

#endif  // GS_HAVE_CUDA
