// Keys per query head after RoPE, checked against transformers' key states
// (tests/data/inspect, scripts/make_inspect_golden.py), their similarity
// matrix, and the pictures drawn from them.
#include "core/key_inspector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/key_images.h"
#include "core/tokenizer.h"
#include "parallel/communicator.h"
#include "tests/test_util.h"

namespace gs {
namespace {

std::unique_ptr<LlamaModel> LoadModel(const std::string& path,
                                      std::unique_ptr<WeightSource>* keep) {
  auto src = WeightSource::Open(path);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  if (!src.ok()) return nullptr;
  auto plan = ShardPlan::Make((*src)->config(), 1);
  static LocalCommunicator comm;
  auto model = LlamaModel::Load(**src, *plan, comm);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  *keep = std::move(src).value();
  if (!model.ok()) return nullptr;
  (*model)->set_activations(kernels::Activations::kFp32);  // the exact product
  return std::move(model).value();
}

class KeysGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KeysGoldenTest, KeysAfterRopeMatchTransformers) {
  std::ifstream in(gs::testing::DataPath("inspect/" + GetParam() + ".keys.json"));
  const auto golden = nlohmann::json::parse(in);
  std::unique_ptr<WeightSource> src;
  auto model = LoadModel(gs::testing::DataPath("models/" + GetParam()), &src);
  ASSERT_TRUE(model);
  const auto tokens = golden["token_ids"].get<std::vector<int32_t>>();
  for (int il = 0; il < model->config().n_layers; ++il) {
    auto keys = CaptureLayerKeys(*model, tokens, il);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    const auto& want = golden["keys"][il];  // [n_tokens][n_kv_heads][head_dim]
    double max_err = 0, max_ref = 0;
    for (int t = 0; t < keys->n_tokens; ++t) {
      for (int g = 0; g < keys->n_kv_heads; ++g) {
        for (int d = 0; d < keys->head_dim; ++d) {
          const double ref = want[t][g][d].get<double>();
          const double got =
              keys->k[(static_cast<size_t>(t) * keys->n_kv_heads + g) * keys->head_dim + d];
          max_err = std::max(max_err, std::fabs(got - ref));
          max_ref = std::max(max_ref, std::fabs(ref));
        }
      }
    }
    EXPECT_LT(max_err / max_ref, 1e-5) << "layer " << il;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KeysGoldenTest, ::testing::Values("gqa", "mha"));

TEST(KeyInspectorTest, GqaSimilarityHasExactBlocksOfOnes) {
  std::unique_ptr<WeightSource> src;
  auto model = LoadModel(gs::testing::DataPath("models/gqa"), &src);
  ASSERT_TRUE(model);
  auto keys = CaptureLayerKeys(*model, {1, 17, 99, 3, 250, 42, 7, 128, 5, 60}, 1);
  ASSERT_TRUE(keys.ok());
  const auto sim = KeySimilarity(*keys);
  ASSERT_EQ(sim.size(), 64u);
  // 8 heads in 2 groups: heads 0-3 read group 0, heads 4-7 group 1 (the
  // Hugging Face repeat_kv layout).
  for (int a = 0; a < 8; ++a) {
    for (int b = 0; b < 8; ++b) {
      if (a / 4 == b / 4) {
        EXPECT_EQ(sim[a * 8 + b], 1.0) << a << "," << b;
      } else {
        EXPECT_LT(std::fabs(sim[a * 8 + b]), 0.9) << a << "," << b;
      }
      EXPECT_EQ(sim[a * 8 + b], sim[b * 8 + a]);
    }
  }
  const auto j = InspectJson(*keys, sim);
  EXPECT_EQ(j["head_group"], nlohmann::json({0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(j["similarity"].size(), 8u);
  EXPECT_EQ(j["similarity"][0][3].get<double>(), 1.0);
}

TEST(KeyInspectorTest, MhaHeadsAreAllDifferent) {
  std::unique_ptr<WeightSource> src;
  auto model = LoadModel(gs::testing::DataPath("models/mha"), &src);
  ASSERT_TRUE(model);
  auto keys = CaptureLayerKeys(*model, {1, 17, 99, 3, 250, 42}, 0);
  ASSERT_TRUE(keys.ok());
  const auto sim = KeySimilarity(*keys);
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      if (a == b) {
        EXPECT_EQ(sim[a * 4 + b], 1.0);
      } else {
        EXPECT_LT(sim[a * 4 + b], 0.99);
      }
    }
  }
}

TEST(KeyInspectorTest, RejectsBadLayerAndEmptyPrompt) {
  std::unique_ptr<WeightSource> src;
  auto model = LoadModel(gs::testing::DataPath("models/gqa"), &src);
  ASSERT_TRUE(model);
  auto bad = CaptureLayerKeys(*model, {1, 2}, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("2 layers"), std::string::npos);
  EXPECT_FALSE(CaptureLayerKeys(*model, {}, 0).ok());
}

TEST(KeyImagesTest, PanelsShowEachHeadsGroupKeys) {
  std::unique_ptr<WeightSource> src;
  auto model = LoadModel(gs::testing::DataPath("models/gqa"), &src);
  ASSERT_TRUE(model);
  auto keys = CaptureLayerKeys(*model, {1, 17, 99, 3, 250, 42}, 0);
  ASSERT_TRUE(keys.ok());
  const RgbImage img = RenderKeyGrid(*keys, "TEST");
  const float scale = keys->MaxAbs();
  auto cell = [&](int h, int t, int d) {
    const PanelGeometry p = KeyPanelGeometry(*keys, h);
    return img.Get(p.x + d * p.cell_w + p.cell_w / 2, p.y + t * p.cell_h + p.cell_h / 2);
  };
  int differ = 0;
  for (int t = 0; t < keys->n_tokens; ++t) {
    for (int d = 0; d < keys->head_dim; ++d) {
      const float v = keys->k[(static_cast<size_t>(t) * 2 + 1) * keys->head_dim + d];  // group 1
      EXPECT_EQ(cell(5, t, d), DivergingColor(v / scale));
      EXPECT_EQ(cell(4, t, d), cell(7, t, d));
      differ += !(cell(0, t, d) == cell(4, t, d));
    }
  }
  EXPECT_GT(differ, keys->n_tokens * keys->head_dim / 2);

  const RgbImage sim = RenderSimilarity(*keys, KeySimilarity(*keys), "TEST");
  const std::string dir = gs::testing::TempDir();
  ASSERT_TRUE(img.WritePng(dir + "/k.png").ok());
  ASSERT_TRUE(sim.WritePng(dir + "/s.png").ok());
  auto back = RgbImage::ReadPng(dir + "/k.png");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data(), img.data());
}

TEST(KeyInspectorTest, SmolLM2HasNineHeadsInThreeGroups) {
  const std::string path = gs::testing::SmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF unavailable: skipped";
  std::unique_ptr<WeightSource> src;
  auto model = LoadModel(path, &src);
  ASSERT_TRUE(model);
  auto tok = Tokenizer::Load(path);
  ASSERT_TRUE(tok.ok());
  auto keys = CaptureLayerKeys(*model, (*tok)->Encode("The capital city of France is", true), 10);
  ASSERT_TRUE(keys.ok());
  const auto sim = KeySimilarity(*keys);
  ASSERT_EQ(sim.size(), 81u);
  for (int a = 0; a < 9; ++a) {
    for (int b = 0; b < 9; ++b) {
      if (a / 3 == b / 3) {
        EXPECT_EQ(sim[a * 9 + b], 1.0) << a << "," << b;
      } else {
        EXPECT_LT(sim[a * 9 + b], 0.999) << a << "," << b;
      }
    }
  }
}

}  // namespace
}  // namespace gs
