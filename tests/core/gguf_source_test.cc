// The GGUF weight source: config from metadata, Hugging Face names and
// shapes, q/k un-permutation, slices, and the real SmolLM2 file.
#include "core/gguf_source.h"

#include <gtest/gtest.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/core/test_writers.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using testing::ReadAll;
using testing::TinyModel;

std::unique_ptr<WeightSource> OpenTiny(const TinyModel& m, const std::string& arch, uint32_t type) {
  const std::string path = testing::TempDir() + "/tiny.gguf";
  testing::TinyGguf(m, arch, type).Write(path);
  auto src = WeightSource::Open(path);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  return src.ok() ? std::move(src).value() : nullptr;
}

TEST(GgufSourceTest, ConfigComesFromMetadata) {
  auto src = OpenTiny(TinyModel(), "llama", testing::kGgmlQ8_0);
  ASSERT_NE(src, nullptr);
  const ModelConfig& c = src->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.hidden_size, TinyModel::kH);
  EXPECT_EQ(c.intermediate_size, TinyModel::kI);
  EXPECT_EQ(c.n_layers, TinyModel::kL);
  EXPECT_EQ(c.n_heads, TinyModel::kN);
  EXPECT_EQ(c.n_kv_heads, TinyModel::kG);
  EXPECT_EQ(c.head_dim, TinyModel::kHd);
  EXPECT_EQ(c.vocab_size, TinyModel::kV);  // from tokenizer.ggml.tokens
  EXPECT_EQ(c.max_position, 256);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_ids, std::vector<int>{2});
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attn_bias);
  const TensorInfo* q = src->Find("model.layers.1.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{TinyModel::kN * TinyModel::kHd, TinyModel::kH}));
  EXPECT_EQ(q->dtype, DType::kQ8_0);
  EXPECT_EQ(src->Find("blk.1.attn_q.weight"), nullptr);  // only HF names are exposed
}

TEST(GgufSourceTest, TiedEmbeddingsWhenOutputIsAbsent) {
  auto src = OpenTiny(TinyModel(/*tied_embeddings=*/true), "llama", testing::kGgmlF16);
  ASSERT_NE(src, nullptr);
  EXPECT_TRUE(src->config().tie_word_embeddings);
  EXPECT_EQ(src->Find("lm_head.weight"), nullptr);
}

class GgufSourceTypeTest : public ::testing::TestWithParam<uint32_t> {};

// Every tensor reads back in Hugging Face order, although q/k rows were
// stored permuted the way llama.cpp's converter permutes them.
TEST_P(GgufSourceTypeTest, LlamaTensorsReadBackInHfOrder) {
  TinyModel m(/*tied_embeddings=*/false, /*with_bias=*/true);
  auto src = OpenTiny(m, "llama", GetParam());
  ASSERT_NE(src, nullptr);
  EXPECT_TRUE(src->config().attn_bias);  // blk.0.attn_q.bias is present
  EXPECT_EQ(src->TensorNames().size(), m.shapes.size());
  for (const auto& [name, shape] : m.shapes) {
    SCOPED_TRACE(name);
    ASSERT_NE(src->Find(name), nullptr);
    EXPECT_EQ(src->Find(name)->shape, shape);
    EXPECT_EQ(ReadAll(*src, name), m.Values(name));
  }
}

INSTANTIATE_TEST_SUITE_P(GgufTypes, GgufSourceTypeTest,
                         ::testing::Values(testing::kGgmlF32, testing::kGgmlF16, testing::kGgmlBF16,
                                           testing::kGgmlQ8_0, testing::kGgmlQ4_0,
                                           testing::kGgmlQ4_1));

TEST(GgufSourceTest, Qwen2IsNotPermutedAndHasBiases) {
  TinyModel m(/*tied_embeddings=*/true, /*with_bias=*/true);
  auto src = OpenTiny(m, "qwen2", testing::kGgmlQ4_0);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->config().arch, "qwen2");
  EXPECT_TRUE(src->config().attn_bias);
  for (const char* name :
       {"model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.bias",
        "model.layers.1.self_attn.k_proj.weight"}) {
    EXPECT_EQ(ReadAll(*src, name), m.Values(name)) << name;
  }
}

TEST(GgufSourceTest, PermutedRowSlicesMatchTheHfTensor) {
  TinyModel m(/*tied_embeddings=*/false, /*with_bias=*/true);
  auto src = OpenTiny(m, "llama", testing::kGgmlQ4_1);
  ASSERT_NE(src, nullptr);
  const std::string name = "model.layers.0.self_attn.q_proj.weight";  // [64, 64]
  const std::vector<float> whole = m.Values(name);
  // Rows cross a half-head and a head boundary; cols are whole blocks.
  const Range rows{5, 27}, cols{32, 64};
  std::vector<float> part(rows.size() * cols.size());
  ASSERT_TRUE(src->ReadF32(name, rows, cols, part.data()).ok());
  for (int64_t r = 0; r < rows.size(); ++r)
    for (int64_t c = 0; c < cols.size(); ++c)
      ASSERT_EQ(part[r * cols.size() + c], whole[(rows.begin + r) * 64 + cols.begin + c])
          << r << "," << c;

  // Raw bytes of HF rows are the stored blocks of the matching GGUF rows.
  std::vector<uint8_t> raw;
  ASSERT_TRUE(src->ReadRaw(name, rows, cols, &raw).ok());
  ASSERT_EQ(static_cast<int64_t>(raw.size()), rows.size() * RowBytes(DType::kQ4_1, 32));
  std::vector<float> from_raw(part.size());
  for (int64_t r = 0; r < rows.size(); ++r) {
    DequantizeRow(DType::kQ4_1, raw.data() + r * RowBytes(DType::kQ4_1, 32),
                  from_raw.data() + r * 32, 32);
  }
  EXPECT_EQ(from_raw, part);

  // A slice of a permuted bias.
  const std::string bias = "model.layers.1.self_attn.k_proj.bias";  // [32]
  std::vector<float> b(12);
  ASSERT_TRUE(src->ReadF32(bias, {0, 1}, {6, 18}, b.data()).ok());
  const std::vector<float> want = m.Values(bias);
  EXPECT_EQ(b, std::vector<float>(want.begin() + 6, want.begin() + 18));
  std::vector<uint8_t> braw;
  ASSERT_TRUE(src->ReadRaw(bias, {0, 1}, {6, 18}, &braw).ok());
  ASSERT_EQ(braw.size(), 12u * 4);
  for (int i = 0; i < 12; ++i) {
    float f;
    std::memcpy(&f, braw.data() + 4 * i, 4);
    EXPECT_EQ(f, want[6 + i]);
  }
}

TEST(GgufSourceTest, QuantizedColumnsMustFallOnBlocks) {
  auto src = OpenTiny(TinyModel(), "llama", testing::kGgmlQ8_0);
  ASSERT_NE(src, nullptr);
  std::vector<float> buf(64);
  Status s = src->ReadF32("model.layers.0.mlp.up_proj.weight", {0, 1}, {16, 48}, buf.data());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("model.layers.0.mlp.up_proj.weight"), std::string::npos);
  std::vector<uint8_t> raw;
  EXPECT_EQ(src->ReadRaw("model.layers.0.mlp.up_proj.weight", {0, 1}, {0, 40}, &raw).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(src->ReadF32("model.layers.0.mlp.up_proj.weight", {0, 1}, {32, 64}, buf.data()).ok());
}

TEST(GgufSourceTest, SameModelReadsTheSameFromBothFormats) {
  TinyModel m;
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir, testing::kGgmlBF16);
  auto hf = WeightSource::Open(dir);
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  auto gg = OpenTiny(m, "llama", testing::kGgmlQ4_0);
  ASSERT_NE(gg, nullptr);
  EXPECT_EQ((*hf)->TensorNames(), gg->TensorNames());
  for (const std::string& name : gg->TensorNames()) {
    EXPECT_EQ(ReadAll(**hf, name), ReadAll(*gg, name)) << name;
  }
}

TEST(GgufSourceTest, PermutedQkRowFollowsTheConverter) {
  // hd = 8: HF rows 0..3 are the first halves (pair members 0), 4..7 the second.
  const int64_t want[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (int r = 0; r < 8; ++r) EXPECT_EQ(PermutedQkRow(r, 8), want[r]);
  EXPECT_EQ(PermutedQkRow(8 + 5, 8), 8 + 3);
}

// The fixtures under tests/data/models (written by transformers and gguf-py,
// q/k permuted as llama.cpp's converter does): each GGUF copy presents the
// same config and tensors as its safetensors original.
TEST(GgufSourceTest, FixtureGgufsMatchTheirSafetensors) {
  const std::pair<const char*, const char*> kPairs[] = {
      {"mha.gguf", "mha"},        {"mqa.gguf", "mqa"},   {"gqa.gguf", "gqa"},
      {"qwen2.gguf", "qwen2"},    {"g9x3.gguf", "g9x3"}, {"mha_bf16.gguf", "mha_bf16"},
      {"gqa.gguf", "gqa_sharded"}};
  for (const auto& [gguf_name, dir_name] : kPairs) {
    SCOPED_TRACE(gguf_name);
    const std::string gguf_path = testing::DataPath(std::string("models/") + gguf_name);
    if (!std::filesystem::exists(gguf_path)) GTEST_SKIP() << "fixtures not generated";
    auto gg = WeightSource::Open(gguf_path);
    ASSERT_TRUE(gg.ok()) << gg.status().ToString();
    auto hf = WeightSource::Open(testing::DataPath(std::string("models/") + dir_name));
    ASSERT_TRUE(hf.ok()) << hf.status().ToString();
    const ModelConfig &a = (*gg)->config(), &b = (*hf)->config();
    EXPECT_EQ(a.hidden_size, b.hidden_size);
    EXPECT_EQ(a.intermediate_size, b.intermediate_size);
    EXPECT_EQ(a.n_layers, b.n_layers);
    EXPECT_EQ(a.n_heads, b.n_heads);
    EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
    EXPECT_EQ(a.head_dim, b.head_dim);
    EXPECT_EQ(a.vocab_size, b.vocab_size);
    EXPECT_EQ(a.max_position, b.max_position);
    EXPECT_FLOAT_EQ(a.rms_norm_eps, b.rms_norm_eps);
    EXPECT_EQ(a.rope_theta, b.rope_theta);
    EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
    EXPECT_EQ(a.attn_bias, b.attn_bias);
    EXPECT_EQ(a.bos_id, b.bos_id);
    EXPECT_EQ(a.eos_ids, b.eos_ids);
    std::vector<std::string> names = (*gg)->TensorNames();
    if (std::string(dir_name).starts_with("gqa")) {
      // The llama3 scaling travels as a tensor in GGUF, as config in HF.
      std::vector<float> f(b.head_dim / 2);
      ASSERT_TRUE((*gg)->ReadF32("rope_freqs.weight", {0, 1}, {0, b.head_dim / 2}, f.data()).ok());
      EXPECT_EQ(f[0], 1.0f);
      EXPECT_EQ(f.back(), b.rope_scaling.factor);
      names.erase(std::find(names.begin(), names.end(), "rope_freqs.weight"));
    }
    EXPECT_EQ(names, (*hf)->TensorNames());
    for (const std::string& name : names) {
      EXPECT_EQ(ReadAll(**gg, name), ReadAll(**hf, name)) << name;
    }
  }
}

// gguf-py's Q8_0/Q4_0/Q4_1 quantizations of g9x3 read back close to the
// original weights, q/k rows in the original order.
TEST(GgufSourceTest, QuantizedFixturesApproximateTheirOriginal) {
  const std::string dir = testing::DataPath("models/g9x3");
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fixtures not generated";
  auto hf = WeightSource::Open(dir);
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  for (const char* q : {"q8_0", "q4_0", "q4_1"}) {
    SCOPED_TRACE(q);
    auto gg = WeightSource::Open(testing::DataPath(std::string("models/g9x3.") + q + ".gguf"));
    ASSERT_TRUE(gg.ok()) << gg.status().ToString();
    EXPECT_EQ((*gg)->TensorNames(), (*hf)->TensorNames());
    for (const std::string& name : (*hf)->TensorNames()) {
      const std::vector<float> want = ReadAll(**hf, name), got = ReadAll(**gg, name);
      ASSERT_EQ(got.size(), want.size()) << name;
      float amax = 0;
      for (float x : want) amax = std::max(amax, std::fabs(x));
      // Q4_0 can miss by d = amax/8 on the side opposite its largest value; rows that a
      // wrong permutation would swap differ far more.
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 0.13f * amax) << name << " element " << i;
      }
    }
  }
}

// The real SmolLM2 file against transformers' loading of it
// (tests/data/smollm2_golden.json, from scripts/make_smollm2_golden.py).
TEST(GgufSourceTest, SmolLM2MatchesTransformers) {
  const std::string path = testing::SmolLM2Path();
  if (path.empty())
    GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf unavailable (scripts/fetch-model)";
  auto src = WeightSource::Open(path);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  const ModelConfig& c = (*src)->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.n_layers, 30);
  EXPECT_EQ(c.n_heads, 9);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attn_bias);
  EXPECT_EQ(c.rope_theta, 100000.0f);
  EXPECT_EQ(c.max_position, 8192);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_ids, std::vector<int>{2});
  EXPECT_TRUE(CheckModelTensors(**src).ok());
  EXPECT_EQ((*src)->Find("model.embed_tokens.weight")->dtype, DType::kQ8_0);
  EXPECT_EQ((*src)->Find("model.layers.0.self_attn.q_proj.weight")->dtype, DType::kQ4_1);

  std::ifstream in(testing::DataPath("smollm2_golden.json"));
  ASSERT_TRUE(in) << "missing tests/data/smollm2_golden.json";
  const auto golden = nlohmann::json::parse(in);
  for (const auto& s : golden["slices"]) {
    const std::string name = s["name"];
    const Range rows{s["rows"][0], s["rows"][1]}, cols{s["cols"][0], s["cols"][1]};
    SCOPED_TRACE(name + " rows " + std::to_string(rows.begin) + " cols " +
                 std::to_string(cols.begin));
    EXPECT_EQ((*src)->Find(name)->shape, s["shape"].get<std::vector<int64_t>>());
    const auto want = s["values"].get<std::vector<float>>();
    std::vector<float> got(rows.size() * cols.size());
    ASSERT_TRUE((*src)->ReadF32(name, rows, cols, got.data()).ok());
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_FLOAT_EQ(got[i], want[i]) << "element " << i;
  }
}

}  // namespace
}  // namespace gs

namespace gs {
namespace {

TEST(GgufToHfNameTest, MapsLayerTensorsWithoutARegex) {
  EXPECT_EQ(GgufToHfName("blk.12.attn_q.weight"), "model.layers.12.self_attn.q_proj.weight");
  EXPECT_EQ(GgufToHfName("blk.0.attn_k.bias"), "model.layers.0.self_attn.k_proj.bias");
  EXPECT_EQ(GgufToHfName("blk.3.ffn_down.weight"), "model.layers.3.mlp.down_proj.weight");
  EXPECT_EQ(GgufToHfName("token_embd.weight"), "model.embed_tokens.weight");
  for (const char* bad : {"blk..attn_q.weight", "blk.x.attn_q.weight", "blk.1.attn_q.scale",
                          "blk.1.attn_q", "blk.1.attn.q.weight", "blk.1", "blk.", "blk.1.weight"}) {
    EXPECT_EQ(GgufToHfName(bad), "") << bad;
  }
  // A name of a megabyte overflowed the stack of std::regex's recursive match.
  EXPECT_EQ(GgufToHfName("blk." + std::string(1 << 20, '7') + ".attn_q.weight"), "");
  EXPECT_EQ(GgufToHfName("blk.1." + std::string(1 << 20, 'q') + ".weight"), "");
}

}  // namespace
}  // namespace gs
