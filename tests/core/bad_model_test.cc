// Broken checkpoints are refused with a message naming the file and the
// key or tensor at fault.
#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>

#include "core/weight_source.h"
#include "tests/core/test_writers.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using testing::TinyModel;

// Opens `path` and expects failure with `code` and a message naming `path` and `what`.
void ExpectOpenFails(const std::string& path, StatusCode code, const std::string& what,
                     const std::string& also = "") {
  auto src = WeightSource::Open(path);
  ASSERT_FALSE(src.ok()) << path << " opened";
  const std::string& msg = src.status().message();
  EXPECT_EQ(src.status().code(), code) << src.status().ToString();
  EXPECT_NE(msg.find(path), std::string::npos) << "file not named: " << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "\"" << what << "\" not named: " << msg;
  if (!also.empty()) {
    EXPECT_NE(msg.find(also), std::string::npos) << "no \"" << also << "\": " << msg;
  }
}

std::vector<uint8_t> TinyGgufBytes(const TinyModel& m = TinyModel()) {
  return testing::TinyGguf(m, "llama", testing::kGgmlQ8_0).Serialize();
}

std::string WriteTemp(const std::vector<uint8_t>& bytes, const std::string& name = "m.gguf") {
  const std::string path = testing::TempDir() + "/" + name;
  testing::WriteBytes(path, bytes);
  return path;
}

TEST(BadModelTest, GgufTruncatedInMetadataNamesTheKey) {
  std::vector<uint8_t> b = TinyGgufBytes();
  const std::string key = "tokenizer.ggml.tokens";
  auto at = std::search(b.begin(), b.end(), key.begin(), key.end());
  ASSERT_NE(at, b.end());
  // Past the key, its type and the array header, into the strings.
  b.resize((at - b.begin()) + key.size() + 4 + 12 + 20);
  ExpectOpenFails(WriteTemp(b), StatusCode::kCorruption, key, "truncated");
}

TEST(BadModelTest, GgufTruncatedInDataNamesTheTensor) {
  TinyModel m;
  std::vector<uint8_t> b = TinyGgufBytes(m);
  b.resize(b.size() - 10);
  // The writer lays tensor data out in name order; the last one is cut.
  const std::string last = testing::HfToGgufName(m.shapes.rbegin()->first);
  ExpectOpenFails(WriteTemp(b), StatusCode::kCorruption, last, "past the end");
}

TEST(BadModelTest, GgufWrongMagic) {
  std::vector<uint8_t> b = TinyGgufBytes();
  b[0] = 'X';
  ExpectOpenFails(WriteTemp(b), StatusCode::kCorruption, "magic");
}

TEST(BadModelTest, GgufUnknownVersion) {
  std::vector<uint8_t> b = TinyGgufBytes();
  b[4] = 99;
  ExpectOpenFails(WriteTemp(b), StatusCode::kUnimplemented, "version 99");
}

TEST(BadModelTest, GgufUnsupportedTensorType) {
  testing::GgufWriter w = testing::TinyGguf(TinyModel(), "llama", testing::kGgmlQ8_0);
  w.AddTensor("blk.0.ffn_extra.weight", 14 /* Q6_K */, {256}, std::vector<uint8_t>(210));
  ExpectOpenFails(WriteTemp(w.Serialize()), StatusCode::kUnimplemented, "blk.0.ffn_extra.weight",
                  "14");
}

TEST(BadModelTest, GgufUnsupportedArchitecture) {
  testing::GgufWriter w;
  w.AddString("general.architecture", "gpt2");
  ExpectOpenFails(WriteTemp(w.Serialize()), StatusCode::kUnimplemented, "gpt2");
}

TEST(BadModelTest, GgufMissingMetadataKey) {
  testing::GgufWriter w;
  w.AddString("general.architecture", "llama");
  w.AddU32("llama.embedding_length", 64);
  ExpectOpenFails(WriteTemp(w.Serialize()), StatusCode::kNotFound, "llama.feed_forward_length");
}

TEST(BadModelTest, GgufTensorMissing) {
  TinyModel m;
  m.shapes.erase("model.layers.1.mlp.down_proj.weight");
  ExpectOpenFails(WriteTemp(TinyGgufBytes(m)), StatusCode::kNotFound,
                  "model.layers.1.mlp.down_proj.weight", "[64, 96]");
}

TEST(BadModelTest, SafetensorsTensorMissing) {
  TinyModel m;
  m.shapes.erase("lm_head.weight");  // config says untied
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir);
  ExpectOpenFails(dir, StatusCode::kNotFound, "lm_head.weight");
}

TEST(BadModelTest, ShapeDisagreesWithConfig) {
  TinyModel m;
  m.shapes["model.layers.0.self_attn.k_proj.weight"] = {64, 64};  // config: G*hd = 32 rows
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir);
  auto src = WeightSource::Open(dir);
  ASSERT_FALSE(src.ok());
  const std::string& msg = src.status().message();
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 64]"), std::string::npos) << msg;  // found
  EXPECT_NE(msg.find("[32, 64]"), std::string::npos) << msg;  // expected
}

TEST(BadModelTest, SafetensorsUnsupportedDtype) {
  TinyModel m;
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir);
  testing::SafetensorsWriter w;
  w.AddTensor("model.embed_tokens.weight", "I8", {40, 64}, std::vector<uint8_t>(40 * 64));
  w.Write(dir + "/model.safetensors");
  ExpectOpenFails(dir + "/model.safetensors", StatusCode::kInvalidArgument, "not a model");
  auto src = WeightSource::Open(dir);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(src.status().message().find(dir + "/model.safetensors"), std::string::npos);
  EXPECT_NE(src.status().message().find("model.embed_tokens.weight"), std::string::npos);
  EXPECT_NE(src.status().message().find("I8"), std::string::npos) << src.status().message();
}

TEST(BadModelTest, SafetensorsHeaderLengthPastEndOfFile) {
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(TinyModel(), dir);
  const std::string file = dir + "/model.safetensors";
  std::vector<uint8_t> b = testing::ReadBytes(file);
  const uint64_t len = b.size();  // header length alone exceeds what follows it
  std::memcpy(b.data(), &len, 8);
  testing::WriteBytes(file, b);
  auto src = WeightSource::Open(dir);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kCorruption);
  EXPECT_NE(src.status().message().find(file), std::string::npos) << src.status().message();
  EXPECT_NE(src.status().message().find("header length"), std::string::npos);
}

TEST(BadModelTest, SafetensorsOffsetsPastEndAndWrongSpan) {
  for (int variant = 0; variant < 2; ++variant) {
    const std::string dir = testing::TempDir();
    testing::WriteTinyHfDir(TinyModel(), dir);
    testing::SafetensorsWriter w;
    w.AddTensor("model.norm.weight", "F32", {64}, std::vector<uint8_t>(64 * 4));
    if (variant == 0) {
      w.header()["model.norm.weight"]["data_offsets"] = {0, 1 << 20};
    } else {
      w.header()["model.norm.weight"]["shape"] = {65};
    }
    w.Write(dir + "/model.safetensors");
    auto src = WeightSource::Open(dir);
    ASSERT_FALSE(src.ok());
    EXPECT_EQ(src.status().code(), StatusCode::kCorruption);
    EXPECT_NE(src.status().message().find("model.norm.weight"), std::string::npos)
        << src.status().message();
    EXPECT_NE(src.status().message().find(dir + "/model.safetensors"), std::string::npos);
  }
}

TEST(BadModelTest, ConfigJsonNotJson) {
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(TinyModel(), dir);
  std::ofstream(dir + "/config.json") << "{\"hidden_size\": 64, oops";
  auto src = WeightSource::Open(dir);
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().code(), StatusCode::kCorruption);
  EXPECT_NE(src.status().message().find(dir + "/config.json"), std::string::npos)
      << src.status().message();
}

TEST(BadModelTest, NotAModel) {
  const std::string dir = testing::TempDir();
  ExpectOpenFails(dir + "/nothing.gguf", StatusCode::kNotFound, "no such file");
  ExpectOpenFails(dir, StatusCode::kNotFound, "config.json");
  std::ofstream(dir + "/weights.bin") << "hello";
  ExpectOpenFails(dir + "/weights.bin", StatusCode::kInvalidArgument, "not a model");
}

}  // namespace
}  // namespace gs
