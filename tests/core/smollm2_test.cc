// The real model: SmolLM2-135M-Instruct Q4_1 (GGUF), against transformers run
// on the same dequantized weights (tests/data/models/smollm2.golden.json,
// made by scripts/make_smollm2_reference.py).
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/llama_model.h"
#include "parallel/communicator.h"
#include "tests/model_harness.h"
#include "tests/test_util.h"

namespace gs {
namespace {

TEST(SmolLM2Test, LogitsMatchTransformersOnDequantizedWeights) {
  const std::string path = gs::testing::SmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF unavailable (no cache, no PyPI): skipped";
  std::ifstream in(gs::testing::DataPath("models/smollm2.golden.json"));
  nlohmann::json g = nlohmann::json::parse(in);
  auto src = WeightSource::Open(path);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  LocalCommunicator comm;
  auto plan = ShardPlan::Make((*src)->config(), 1);
  auto model = LlamaModel::Load(**src, *plan, comm);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  (*model)->set_activations(kernels::Activations::kFp32);  // the exact product
  const auto ids = g["token_ids"].get<std::vector<int32_t>>();
  gs::testing::SequenceRunner run(**model, 64);
  auto logits = run.Feed(ids);
  // Top-64 logits at every position.
  for (size_t p = 0; p < ids.size(); ++p) {
    const auto top_ids = g["top_ids"][p].get<std::vector<int>>();
    const auto top = g["top_logits"][p].get<std::vector<float>>();
    std::vector<float> ours;
    for (int id : top_ids) ours.push_back(logits[p][id]);
    EXPECT_LT(gs::testing::MaxRelDiff(ours, top), 1e-3) << "position " << p;
  }
  // The whole vocabulary at the last position.
  const auto last = g["last_logits"].get<std::vector<float>>();
  const double rel = gs::testing::MaxRelDiff(logits.back(), last);
  EXPECT_LT(rel, 1e-3);
  std::printf("[smollm2] last-position max relative logit difference %.2e\n", rel);
  // Greedy continuation: the first 13 tokens (later ones have margins below
  // the reference's own rounding).
  const auto greedy = g["greedy_ids"].get<std::vector<int32_t>>();
  std::vector<int32_t> ours;
  auto cur = logits.back();
  for (int i = 0; i < 13; ++i) {
    const int32_t tok = static_cast<int32_t>(std::max_element(cur.begin(), cur.end()) - cur.begin());
    ours.push_back(tok);
    cur = run.Feed({tok})[0];
  }
  EXPECT_EQ(ours, std::vector<int32_t>(greedy.begin(), greedy.begin() + 13));
}

}  // namespace
}  // namespace gs
