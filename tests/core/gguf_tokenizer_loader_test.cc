// GGUF tokenizer metadata that crashed the loader (found by fuzzing) is
// refused with an error naming the file and the token.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/gguf_file.h"
#include "core/tokenizer.h"
#include "tests/core/test_writers.h"
#include "tests/test_util.h"

namespace gs {
namespace {

// A SentencePiece-style vocabulary whose token 1 is a byte token spelled `byte`.
std::string WriteSpm(const std::string& byte) {
  testing::GgufWriter w;
  w.AddString("tokenizer.ggml.model", "llama");
  w.AddStringArray("tokenizer.ggml.tokens", {"<unk>", byte, "a", "\xE2\x96\x81" "a"});
  w.AddI32Array("tokenizer.ggml.token_type", {2, 6, 1, 1});
  std::vector<uint8_t> scores;
  testing::Put<uint32_t>(&scores, 6);  // float32 elements
  testing::Put<uint64_t>(&scores, 4);
  for (float s : {0.0f, 0.0f, -1.0f, -2.0f}) testing::Put<float>(&scores, s);
  w.AddRaw("tokenizer.ggml.scores", 9, std::move(scores));
  const std::string path = testing::TempDir() + "/spm.gguf";
  w.Write(path);
  return path;
}

StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path) {
  auto f = GgufFile::Open(path);
  if (!f.ok()) return f.status();
  return Tokenizer::FromGguf(**f);
}

TEST(GgufTokenizerLoaderTest, AWellFormedByteTokenLoads) {
  auto t = Load(WriteSpm("<0x41>"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Decode({1}), "A");
}

TEST(GgufTokenizerLoaderTest, ByteTokensThatAreNotTwoHexDigitsAreRefused) {
  // "<0xZZ>" threw std::invalid_argument from std::stoi; "<0x-9>" parsed to
  // -9 and wrote byte_ids_[-9].
  for (const char* bad : {"<0xZZ>", "<0x-9>", "<0x+1>", "<0x 1>", "<0x4G>"}) {
    const std::string path = WriteSpm(bad);
    auto t = Load(path);
    ASSERT_FALSE(t.ok()) << bad;
    const std::string& msg = t.status().message();
    EXPECT_EQ(t.status().code(), StatusCode::kCorruption) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte token 1"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace gs
