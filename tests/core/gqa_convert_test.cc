// MHA -> GQA conversion by mean-pooling KV heads: the identity case, the
// pooled models against transformers (tests/data/convert,
// scripts/make_convert_golden.py), and loading under every shard plan.
#include "core/gqa_convert.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/safetensors_source.h"
#include "parallel/communicator.h"
#include "tests/model_harness.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using gs::testing::DataPath;

// A rank of a P-rank group whose collectives do nothing: enough to load that
// rank's slices and check their shapes (running needs the real group).
class LoadOnlyCommunicator : public LocalCommunicator {
 public:
  LoadOnlyCommunicator(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }

 private:
  int rank_, size_;
};

std::vector<std::vector<float>> Logits(const std::string& path, const std::vector<int32_t>& ids) {
  auto src = WeightSource::Open(path);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  if (!src.ok()) return {};
  LocalCommunicator comm;
  auto model = LlamaModel::Load(**src, *ShardPlan::Make((*src)->config(), 1), comm);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return {};
  (*model)->set_activations(kernels::Activations::kFp32);  // the exact product
  gs::testing::SequenceRunner run(**model, 64);
  return run.Feed(ids);
}

TEST(MeanPoolHeadsTest, AveragesConsecutiveHeads) {
  // 4 heads of head_dim 1, 2 columns: rows are heads.
  const std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(MeanPoolHeads(w, 4, 1, 2, 2), (std::vector<float>{2, 3, 6, 7}));
  EXPECT_EQ(MeanPoolHeads(w, 4, 1, 2, 4), (std::vector<float>{4, 5}));
  EXPECT_EQ(MeanPoolHeads(w, 4, 1, 2, 1), w);
  // head_dim 2: two heads of 2 rows x 2 columns.
  EXPECT_EQ(MeanPoolHeads(w, 2, 2, 2, 2), (std::vector<float>{3, 4, 5, 6}));
}

TEST(GqaConvertTest, SameGroupsIsTheIdentity) {
  const std::string out = gs::testing::TempDir() + "/gqa2";
  auto r = ConvertToGqa(DataPath("models/gqa"), 2, out);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->reduction_vs_input(), 1.0);
  EXPECT_EQ(r->reduction_vs_mha(), 4.0);
  auto a = SafetensorsSource::Open(DataPath("models/gqa"));
  auto b = SafetensorsSource::Open(out);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ((*a)->TensorNames(), (*b)->TensorNames());
  for (const auto& name : (*a)->TensorNames()) {
    const TensorInfo& ia = *(*a)->Find(name);
    EXPECT_EQ(ia.shape, (*b)->Find(name)->shape) << name;
    std::vector<uint8_t> ra, rb;
    ASSERT_TRUE((*a)->ReadRaw(name, {0, ia.rows()}, {0, ia.cols()}, &ra).ok());
    ASSERT_TRUE((*b)->ReadRaw(name, {0, ia.rows()}, {0, ia.cols()}, &rb).ok());
    EXPECT_EQ(ra, rb) << name;
  }
  const std::vector<int32_t> ids = {1, 17, 99, 3, 250, 42, 7, 128};
  const auto la = Logits(DataPath("models/gqa"), ids), lb = Logits(out, ids);
  ASSERT_EQ(la.size(), ids.size());
  EXPECT_EQ(la, lb);  // exactly
}

class MhaToGqaTest : public ::testing::TestWithParam<int> {};

TEST_P(MhaToGqaTest, MatchesTransformersAndLoadsUnderEveryPlan) {
  const int G = GetParam();
  const std::string out = gs::testing::TempDir() + "/mha_g" + std::to_string(G);
  auto r = ConvertToGqa(DataPath("models/mha"), G, out);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pooled_tensors, 4);  // k and v of 2 layers
  EXPECT_EQ(r->reduction_vs_mha(), 4.0 / G);

  std::ifstream cin(out + "/config.json");
  const auto cfg = nlohmann::json::parse(cin);
  EXPECT_EQ(cfg["num_key_value_heads"], G);
  EXPECT_EQ(cfg["num_attention_heads"], 4);
  EXPECT_EQ(cfg["rope_theta"], 10000.0);

  const auto golden =
      gs::testing::LoadGolden(DataPath("convert/mha_g" + std::to_string(G) + ".golden.json"));
  const auto logits = Logits(out, golden.token_ids);
  ASSERT_EQ(logits.size(), golden.logits.size());
  const auto original = gs::testing::LoadGolden(DataPath("models/mha.golden.json"));
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_LT(gs::testing::MaxRelDiff(logits[i], golden.logits[i]), 1e-4) << "position " << i;
  }
  // Pooling changed the model (position 0 attends only to itself, so only
  // later positions can differ).
  EXPECT_GT(gs::testing::MaxRelDiff(logits.back(), original.logits.back()), 1e-3);

  auto src = WeightSource::Open(out);
  ASSERT_TRUE(src.ok());
  const auto sizes = ShardPlan::ValidTpSizes((*src)->config());
  ASSERT_FALSE(sizes.empty());
  for (int P : sizes) {
    auto plan = ShardPlan::Make((*src)->config(), P);
    ASSERT_TRUE(plan.ok()) << "P=" << P << ": " << plan.status().ToString();
    for (int rank = 0; rank < P; ++rank) {
      LoadOnlyCommunicator comm(rank, P);
      auto model = LlamaModel::Load(**src, *plan, comm);
      EXPECT_TRUE(model.ok()) << "P=" << P << " rank " << rank << ": " << model.status().ToString();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Groups, MhaToGqaTest, ::testing::Values(2, 1));

TEST(GqaConvertTest, KeepsBf16AndCopiesTokenizerFiles) {
  const std::string in = gs::testing::TempDir() + "/in";
  std::filesystem::copy(DataPath("models/mha_bf16"), in);
  std::ofstream(in + "/tokenizer.json") << "{}";
  std::ofstream(in + "/generation_config.json") << "{}";
  const std::string out = gs::testing::TempDir() + "/out";
  auto r = ConvertToGqa(in, 1, out);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->copied_files,
            (std::vector<std::string>{"tokenizer.json", "generation_config.json"}));
  EXPECT_TRUE(std::filesystem::exists(out + "/tokenizer.json"));
  auto src = SafetensorsSource::Open(out);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  const TensorInfo* k = (*src)->Find("model.layers.0.self_attn.k_proj.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->dtype, DType::kBF16);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{16, 64}));
  EXPECT_EQ((*src)->config().n_kv_heads, 1);
}

TEST(GqaConvertTest, RefusesImpossibleRequests) {
  const std::string out = gs::testing::TempDir() + "/x";
  auto three = ConvertToGqa(DataPath("models/mha"), 3, out);
  ASSERT_FALSE(three.ok());
  EXPECT_EQ(three.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(three.status().message().find("possible: 1, 2, 4"), std::string::npos)
      << three.status().message();
  EXPECT_FALSE(ConvertToGqa(DataPath("models/gqa"), 4, out).ok());  // cannot add groups
  EXPECT_FALSE(ConvertToGqa(DataPath("models/mha.gguf"), 2, out).ok());
  EXPECT_FALSE(ConvertToGqa(DataPath("models/mha"), 2, DataPath("models/mha")).ok());
}

}  // namespace
}  // namespace gs
