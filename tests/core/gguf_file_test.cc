// The GGUF container parser: metadata and tensor directory round trips, and
// rejection of malformed files without over-allocating.
#include "core/gguf_file.h"

#include <gtest/gtest.h>

#include "tests/core/test_writers.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using testing::GgufWriter;

GgufWriter SmallFile() {
  GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddU32("llama.block_count", 7);
  w.AddI32("some.negative", -5);
  w.AddF32("llama.rope.freq_base", 500000.0f);
  w.AddU64("big", uint64_t{1} << 40);
  w.AddRaw("flag", 7, {1});
  w.AddStringArray("tokenizer.ggml.tokens", {"a", "bc", ""});
  w.AddI32Array("tokenizer.ggml.token_type", {1, 2, 3, -4});
  std::vector<float> v(64);
  for (int i = 0; i < 64; ++i) v[i] = static_cast<float>(i % 15 - 7) * 0.25f;
  w.AddTensor("a.weight", testing::kGgmlF32, {32, 2}, testing::EncodeExact(testing::kGgmlF32, v));
  w.AddTensor("b.weight", testing::kGgmlQ8_0, {64}, testing::EncodeExact(testing::kGgmlQ8_0, v));
  w.AddTensor("c.weight", testing::kGgmlQ4_1, {32, 2}, testing::EncodeExact(testing::kGgmlQ4_1, v));
  return w;
}

class GgufFileVersionTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufFileVersionTest, MetadataAndTensorsRoundTrip) {
  const std::string path = testing::TempDir() + "/small.gguf";
  SmallFile().Write(path, GetParam());
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->version(), GetParam());
  EXPECT_EQ((*f)->Get("general.architecture")->s, "llama");
  EXPECT_EQ((*f)->Get("llama.block_count")->i, 7);
  EXPECT_EQ((*f)->Get("some.negative")->i, -5);
  EXPECT_EQ((*f)->Get("llama.rope.freq_base")->type, GgufValue::Type::kFloat);
  EXPECT_EQ((*f)->Get("llama.rope.freq_base")->f, 500000.0);
  EXPECT_EQ((*f)->Get("big")->i, int64_t{1} << 40);
  EXPECT_EQ((*f)->Get("flag")->type, GgufValue::Type::kBool);
  EXPECT_TRUE((*f)->Get("flag")->b);
  const GgufValue* toks = (*f)->Get("tokenizer.ggml.tokens");
  ASSERT_NE(toks, nullptr);
  EXPECT_EQ(toks->type, GgufValue::Type::kArray);
  EXPECT_EQ(toks->elem_type, GgufValue::Type::kString);
  EXPECT_EQ(toks->strs, (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ((*f)->Get("tokenizer.ggml.token_type")->ints, (std::vector<int64_t>{1, 2, 3, -4}));
  EXPECT_EQ((*f)->Get("absent"), nullptr);

  ASSERT_EQ((*f)->tensors().size(), 3u);
  const GgufTensor* a = (*f)->FindTensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->ne, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(a->nbytes, 64 * 4);
  std::vector<float> got(64);
  DequantizeRow(DType::kF32, a->data, got.data(), 64);
  EXPECT_EQ(got[5], -0.5f);
  const GgufTensor* c = (*f)->FindTensor("c.weight");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::kQ4_1);
  EXPECT_EQ(c->nbytes, 2 * 20);
  EXPECT_EQ(c->offset % 32, 0u);
  DequantizeRow(DType::kQ4_1, c->data, got.data(), 64);
  EXPECT_EQ(got[5], -0.5f);
  EXPECT_EQ(got[63], static_cast<float>(63 % 15 - 7) * 0.25f);
  EXPECT_EQ((*f)->FindTensor("nope"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(GgufV2AndV3, GgufFileVersionTest, ::testing::Values(2u, 3u));

TEST(GgufFileTest, HonoursGeneralAlignment) {
  GgufWriter w = SmallFile();
  w.AddU32("general.alignment", 64);
  const std::string path = testing::TempDir() + "/aligned.gguf";
  testing::WriteBytes(path, w.Serialize(3, 64));
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::vector<float> got(64);
  DequantizeRow(DType::kQ4_1, (*f)->FindTensor("c.weight")->data, got.data(), 64);
  EXPECT_EQ(got[5], -0.5f);
}

TEST(GgufFileTest, UnsupportedGgmlTypeNamesTensorAndType) {
  GgufWriter w;
  w.AddTensor("blk.0.ffn_up.weight", 12 /* Q4_K */, {256}, std::vector<uint8_t>(144));
  const std::string path = testing::TempDir() + "/q4k.gguf";
  w.Write(path);
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("blk.0.ffn_up.weight"), std::string::npos);
  EXPECT_NE(f.status().message().find("12"), std::string::npos);
}

TEST(GgufFileTest, HugeStringLengthIsCorruptionNamingKey) {
  GgufWriter w;
  std::vector<uint8_t> payload;
  testing::Put<uint64_t>(&payload, uint64_t{1} << 60);
  payload.insert(payload.end(), {'a', 'b', 'c'});
  w.AddRaw("general.name", 8, payload);
  const std::string path = testing::TempDir() + "/bigstr.gguf";
  w.Write(path);
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kCorruption);
  EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("general.name"), std::string::npos);
}

TEST(GgufFileTest, HugeArrayCountIsCorruptionBeforeAllocating) {
  GgufWriter w;
  std::vector<uint8_t> payload;
  testing::Put<uint32_t>(&payload, 8);  // array of strings
  testing::Put<uint64_t>(&payload, uint64_t{1} << 61);
  w.AddRaw("tokenizer.ggml.tokens", 9, payload);
  const std::string path = testing::TempDir() + "/bigarr.gguf";
  w.Write(path);
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kCorruption);
  EXPECT_NE(f.status().message().find("tokenizer.ggml.tokens"), std::string::npos)
      << f.status().message();
}

TEST(GgufFileTest, HugeTensorDimensionIsCorruptionNamingTensor) {
  GgufWriter w;
  w.AddTensor("token_embd.weight", testing::kGgmlF32, {64, int64_t{1} << 50}, {});
  const std::string path = testing::TempDir() + "/bigdim.gguf";
  w.Write(path);
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kCorruption);
  EXPECT_NE(f.status().message().find("token_embd.weight"), std::string::npos)
      << f.status().message();
}

TEST(GgufFileTest, EveryTruncationIsRejected) {
  const std::vector<uint8_t> whole = SmallFile().Serialize();
  const std::string dir = testing::TempDir();
  // Cut inside the last tensor's data too (the final bytes of the file).
  for (size_t n = 0; n < whole.size(); n += (n < 400 ? 1 : 37)) {
    const std::string path = dir + "/cut.gguf";
    testing::WriteBytes(path, std::vector<uint8_t>(whole.begin(), whole.begin() + n));
    auto f = GgufFile::Open(path);
    ASSERT_FALSE(f.ok()) << "a file cut to " << n << " of " << whole.size() << " bytes opened";
    EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().message();
  }
  const std::string path = dir + "/cut.gguf";
  testing::WriteBytes(path, std::vector<uint8_t>(whole.begin(), whole.end() - 1));
  EXPECT_FALSE(GgufFile::Open(path).ok());
}

}  // namespace
}  // namespace gs
