// The safetensors weight source: round trips in F32/F16/BF16, sharded
// checkpoints, and row/column slices.
#include "core/safetensors_source.h"

#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>

#include "tests/core/test_writers.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using testing::ReadAll;
using testing::TinyModel;

class SafetensorsDTypeTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(SafetensorsDTypeTest, EveryTensorRoundTrips) {
  TinyModel m;
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir, GetParam());
  auto src = SafetensorsSource::Open(dir);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->path(), dir);
  EXPECT_EQ((*src)->config().hidden_size, TinyModel::kH);
  EXPECT_EQ((*src)->TensorNames().size(), m.shapes.size());
  EXPECT_TRUE(CheckModelTensors(**src).ok());
  for (const auto& [name, shape] : m.shapes) {
    SCOPED_TRACE(name);
    const TensorInfo* t = (*src)->Find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->shape, shape);
    EXPECT_STREQ(DTypeName(t->dtype), testing::DTypeNameForSafetensors(GetParam()).c_str());
    EXPECT_EQ(ReadAll(**src, name), m.Values(name));
  }
  EXPECT_EQ((*src)->Find("model.layers.9.mlp.up_proj.weight"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(SafetensorsDTypes, SafetensorsDTypeTest,
                         ::testing::Values(testing::kGgmlF32, testing::kGgmlF16,
                                           testing::kGgmlBF16));

TEST(SafetensorsSourceTest, SlicesEqualPartsOfTheWholeTensor) {
  TinyModel m;
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir, testing::kGgmlBF16);
  auto src = SafetensorsSource::Open(dir);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  const std::string name = "model.layers.1.mlp.down_proj.weight";  // [64, 96]
  const std::vector<float> whole = m.Values(name);
  const Range rows{5, 23}, cols{17, 80};
  std::vector<float> part(rows.size() * cols.size());
  ASSERT_TRUE((*src)->ReadF32(name, rows, cols, part.data()).ok());
  for (int64_t r = 0; r < rows.size(); ++r)
    for (int64_t c = 0; c < cols.size(); ++c)
      ASSERT_EQ(part[r * cols.size() + c], whole[(rows.begin + r) * 96 + cols.begin + c]);

  // Raw bytes: two bytes per BF16 element of the slice, appended.
  std::vector<uint8_t> raw = {0xAB};
  ASSERT_TRUE((*src)->ReadRaw(name, rows, cols, &raw).ok());
  ASSERT_EQ(raw.size(), 1 + 2 * part.size());
  EXPECT_EQ(raw[0], 0xAB);
  for (size_t i = 0; i < part.size(); ++i) {
    EXPECT_EQ(BFloat16ToFloat(static_cast<uint16_t>(raw[1 + 2 * i] | (raw[2 + 2 * i] << 8))),
              part[i]);
  }

  // A 1-D tensor takes rows {0, 1}.
  std::vector<float> norm(10);
  ASSERT_TRUE((*src)->ReadF32("model.norm.weight", {0, 1}, {30, 40}, norm.data()).ok());
  EXPECT_EQ(norm[3], m.Values("model.norm.weight")[33]);
}

TEST(SafetensorsSourceTest, OutOfRangeSlicesAndUnknownTensorsAreErrors) {
  TinyModel m;
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir);
  auto src = SafetensorsSource::Open(dir);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  std::vector<float> buf(64 * 96);
  const std::string name = "model.layers.0.mlp.gate_proj.weight";  // [96, 64]
  EXPECT_EQ((*src)->ReadF32(name, {0, 97}, {0, 64}, buf.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*src)->ReadF32(name, {0, 1}, {10, 65}, buf.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*src)->ReadF32(name, {3, 2}, {0, 1}, buf.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*src)->ReadF32("model.norm.weight", {0, 2}, {0, 1}, buf.data()).code(),
            StatusCode::kInvalidArgument);
  Status s = (*src)->ReadF32("no.such.weight", {0, 1}, {0, 1}, buf.data());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("no.such.weight"), std::string::npos);
}

TEST(SafetensorsSourceTest, ShardedCheckpointFollowsTheIndex) {
  TinyModel m(/*tied_embeddings=*/true);
  const std::string dir = testing::TempDir();
  std::ofstream(dir + "/config.json") << m.HfConfig().dump();
  testing::SafetensorsWriter a, b;
  nlohmann::json weight_map;
  int i = 0;
  for (const auto& [name, shape] : m.shapes) {
    testing::SafetensorsWriter& w = (i++ % 2) ? a : b;
    const std::string file =
        (&w == &a) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    w.AddTensor(name, "F16", shape, testing::EncodeExact(testing::kGgmlF16, m.Values(name)));
    weight_map[name] = file;
  }
  a.Write(dir + "/model-00001-of-00002.safetensors");
  b.Write(dir + "/model-00002-of-00002.safetensors");
  std::ofstream(dir + "/model.safetensors.index.json")
      << nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump();

  auto src = WeightSource::Open(dir);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_TRUE((*src)->config().tie_word_embeddings);
  EXPECT_EQ((*src)->TensorNames().size(), m.shapes.size());
  for (const auto& [name, shape] : m.shapes)
    EXPECT_EQ(ReadAll(**src, name), m.Values(name)) << name;
}

TEST(SafetensorsSourceTest, IndexNamingATensorMissingFromItsShardIsAnError) {
  TinyModel m;
  const std::string dir = testing::TempDir();
  testing::WriteTinyHfDir(m, dir);
  std::filesystem::rename(dir + "/model.safetensors", dir + "/shard.safetensors");
  nlohmann::json weight_map;
  for (const auto& [name, shape] : m.shapes) weight_map[name] = "shard.safetensors";
  weight_map["model.layers.7.mlp.up_proj.weight"] = "shard.safetensors";
  std::ofstream(dir + "/model.safetensors.index.json")
      << nlohmann::json{{"weight_map", weight_map}}.dump();
  auto src = SafetensorsSource::Open(dir);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("model.layers.7.mlp.up_proj.weight"), std::string::npos)
      << src.status().message();
  EXPECT_NE(src.status().message().find("model.safetensors.index.json"), std::string::npos);
}

}  // namespace
}  // namespace gs
