// Sliding-window perplexity against transformers (tests/data/perplexity,
// scripts/make_perplexity_golden.py).
#include "core/perplexity.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "parallel/communicator.h"
#include "tests/test_util.h"

namespace gs {
namespace {

nlohmann::json LoadJson(const std::string& rel) {
  std::ifstream in(gs::testing::DataPath(rel));
  return nlohmann::json::parse(in);
}

struct Loaded {
  std::unique_ptr<WeightSource> src;
  std::unique_ptr<LlamaModel> model;
};

Loaded Load(const std::string& path) {
  Loaded l;
  auto src = WeightSource::Open(path);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  if (!src.ok()) return l;
  l.src = std::move(src).value();
  static LocalCommunicator comm;
  auto model = LlamaModel::Load(*l.src, *ShardPlan::Make(l.src->config(), 1), comm);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (model.ok()) {
    l.model = std::move(model).value();
    l.model->set_activations(kernels::Activations::kFp32);  // the exact product
  }
  return l;
}

TEST(PerplexityWindowsTest, EveryTokenIsScoredOnceExceptWindowStarts) {
  for (int n : {2, 3, 10, 37, 100}) {
    for (int ctx : {2, 4, 7, 16, 200}) {
      for (int stride = 1; stride <= ctx; ++stride) {
        std::vector<int> count(n, 0);
        for (const auto& w : PerplexityWindows(n, ctx, stride)) {
          ASSERT_LE(w.end - w.begin, ctx);
          ASSERT_GT(w.score_begin, w.begin);
          for (int64_t t = w.score_begin; t < w.end; ++t) ++count[t];
        }
        for (int t = 0; t < n; ++t) {
          // Overlapping windows score every token but the first; windows
          // that do not overlap cannot score their own first token.
          const bool unscored = t == 0 || (stride == ctx && t % ctx == 0);
          EXPECT_EQ(count[t], unscored ? 0 : 1) << n << " " << ctx << " " << stride << " t=" << t;
        }
      }
    }
  }
}

TEST(PerplexityWindowsTest, HandWorkedExample) {
  // 10 tokens, windows of 4 every 3: [0,4) scores 1-3, [3,7) 4-6, [6,10) 7-9.
  const auto w = PerplexityWindows(10, 4, 3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[1].begin, 3);
  EXPECT_EQ(w[1].score_begin, 4);
  EXPECT_EQ(w[2].end, 10);
  // A stride past the window leaves gaps, as the guide's loop does.
  const auto gap = PerplexityWindows(10, 3, 5);
  ASSERT_EQ(gap.size(), 2u);
  EXPECT_EQ(gap[1].begin, 5);
  EXPECT_EQ(gap[1].score_begin, 6);
  EXPECT_EQ(gap[1].end, 8);
}

TEST(PerplexityTest, MatchesTransformersOnTheGqaFixture) {
  const auto golden = LoadJson("perplexity/gqa.golden.json");
  Loaded l = Load(gs::testing::DataPath(golden["model"].get<std::string>()));
  ASSERT_TRUE(l.model);
  const auto ids = golden["token_ids"].get<std::vector<int32_t>>();
  for (const auto& c : golden["cases"]) {
    PerplexityOptions o{c["context"].get<int>(), c["stride"].get<int>()};
    int calls = 0;
    auto r = ComputePerplexity(*l.model, ids, o, [&](int done, int total, const PerplexityResult&) {
      EXPECT_EQ(done, ++calls);
      EXPECT_LE(done, total);
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const double want = c["perplexity"].get<double>();
    EXPECT_NEAR(r->perplexity(), want, 1e-3 * want)
        << "context " << o.context << " stride " << o.stride;
    EXPECT_EQ(r->n_scored, c["n_scored"].get<int64_t>());
    EXPECT_EQ(calls, r->n_windows);
  }
}

TEST(PerplexityTest, RejectsWhatCannotBeScored) {
  Loaded l = Load(gs::testing::DataPath("models/mha"));  // max_position 256
  ASSERT_TRUE(l.model);
  EXPECT_FALSE(ComputePerplexity(*l.model, {5}, {}).ok());
  auto too_long = ComputePerplexity(*l.model, {5, 6, 7}, {512, 0});
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("256"), std::string::npos);
  EXPECT_FALSE(ComputePerplexity(*l.model, {5, 6, 300}, {8, 0}).ok());
  auto ok = ComputePerplexity(*l.model, {5, 6, 7}, {8, 0});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->n_scored, 2);
  EXPECT_EQ(ok->n_windows, 1);
}

}  // namespace
}  // namespace gs
