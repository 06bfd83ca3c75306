// TextStream against the real tokenizer fixtures: the byte-level qwen2
// tokenizer (where single-byte tokens split characters) and a SentencePiece
// GGUF with byte-fallback tokens.
#include "core/text_stream.h"

#include <gtest/gtest.h>

#include "core/unicode.h"
#include "tests/test_util.h"

namespace gs {
namespace {

std::unique_ptr<Tokenizer> LoadOrDie(const std::string& path) {
  auto t = Tokenizer::Load(path);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

int32_t IdOf(const Tokenizer& tok, const std::string& piece) {
  auto id = tok.TokenId(piece);
  EXPECT_TRUE(id.has_value()) << piece;
  return id.value_or(-1);
}

// One byte-level token per byte of `text` (GPT-2 byte map).
std::vector<int32_t> ByteTokens(const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) {
    std::string mapped;
    AppendUtf8(ByteToUnicode(c), &mapped);
    ids.push_back(IdOf(tok, mapped));
  }
  return ids;
}

// What Push returns for each id, and whether each call reported a stop.
struct Pushed {
  std::vector<std::string> text;
  std::vector<bool> stopped;
};

Pushed PushAll(TextStream& stream, const std::vector<int32_t>& ids) {
  Pushed p;
  for (int32_t id : ids) {
    bool stopped = false;
    p.text.push_back(stream.Push(id, &stopped));
    p.stopped.push_back(stopped);
  }
  return p;
}

class TextStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = LoadOrDie(testing::DataPath("tokenizer/qwen2"));
    ASSERT_TRUE(tok_);
  }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(TextStreamTest, MultiByteCharacterSplitAcrossTokensIsHeldUntilComplete) {
  TextStream stream(*tok_, {});
  Pushed p = PushAll(stream, ByteTokens(*tok_, "a\xE6\x97\xA5"));  // "a日"
  EXPECT_EQ(p.text, (std::vector<std::string>{"a", "", "", "\xE6\x97\xA5"}));
  EXPECT_EQ(p.stopped, (std::vector<bool>{false, false, false, false}));
  bool stopped = true;
  EXPECT_EQ(stream.Flush(&stopped), "");
  EXPECT_FALSE(stopped);
}

TEST_F(TextStreamTest, ByteFallbackCharacterSplitAcrossTokensIsHeldUntilComplete) {
  auto spm = LoadOrDie(testing::DataPath("tokenizer/spm.gguf"));
  ASSERT_TRUE(spm);
  std::vector<int32_t> ids;
  for (const char* b : {"<0xF0>", "<0x9F>", "<0x98>", "<0x80>"}) ids.push_back(IdOf(*spm, b));
  TextStream stream(*spm, {"STOP"});
  Pushed p = PushAll(stream, ids);
  EXPECT_EQ(p.text, (std::vector<std::string>{"", "", "", "\xF0\x9F\x98\x80"}));
}

TEST_F(TextStreamTest, TruncatedCharacterIsFlushedAtTheEnd) {
  TextStream stream(*tok_, {});
  Pushed p = PushAll(stream, ByteTokens(*tok_, "a\xE6"));
  EXPECT_EQ(p.text, (std::vector<std::string>{"a", ""}));
  bool stopped = true;
  EXPECT_EQ(stream.Flush(&stopped), "\xE6");
  EXPECT_FALSE(stopped);
}

TEST_F(TextStreamTest, StopStringSplitAcrossTokensIsCutAndNotEmitted) {
  TextStream stream(*tok_, {"<|end"});
  // "x", "<|", "end", " the": the stop string spans two multi-byte tokens.
  Pushed p = PushAll(
      stream, {IdOf(*tok_, "x"), IdOf(*tok_, "<|"), IdOf(*tok_, "end"), IdOf(*tok_, "Ġthe")});
  EXPECT_EQ(p.text, (std::vector<std::string>{"x", "", "", ""}));
  EXPECT_EQ(p.stopped, (std::vector<bool>{false, false, true, true}));
  EXPECT_TRUE(stream.stopped());
  bool stopped = false;
  EXPECT_EQ(stream.Flush(&stopped), "");
  EXPECT_TRUE(stopped);
}

TEST_F(TextStreamTest, StopStringOneByteAtATimeKeepsTheTextBeforeIt) {
  TextStream stream(*tok_, {"</end>"});
  Pushed p = PushAll(stream, ByteTokens(*tok_, "ok </end> more"));
  std::string all;
  for (const std::string& s : p.text) all += s;
  EXPECT_EQ(all, "ok ");
  EXPECT_FALSE(p.stopped[7]);  // "ok </end" is still only a prefix
  EXPECT_TRUE(p.stopped[8]);   // ">" completes it
}

TEST_F(TextStreamTest, StopStringEndingInsideACharacter) {
  TextStream stream(*tok_, {"\xE6\x97\xA5"});  // "日"
  Pushed p = PushAll(stream, ByteTokens(*tok_, "a\xE6\x97\xA5z"));
  EXPECT_EQ(p.text, (std::vector<std::string>{"a", "", "", "", ""}));
  EXPECT_EQ(p.stopped, (std::vector<bool>{false, false, false, true, true}));
}

TEST_F(TextStreamTest, StopStringAtTheVeryStartEmitsNothing) {
  TextStream stream(*tok_, {"Hello"});
  Pushed p = PushAll(stream, {IdOf(*tok_, "Hello"), IdOf(*tok_, "Ġthe")});
  EXPECT_EQ(p.text, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(p.stopped, (std::vector<bool>{true, true}));
  bool stopped = false;
  EXPECT_EQ(stream.Flush(&stopped), "");
  EXPECT_TRUE(stopped);
}

TEST_F(TextStreamTest, PartialStopStringIsReleasedWhenItDoesNotComplete) {
  TextStream stream(*tok_, {"</end>"});
  Pushed p = PushAll(stream, ByteTokens(*tok_, "a</e"));
  EXPECT_EQ(p.text, (std::vector<std::string>{"a", "", "", ""}));
  bool stopped = true;
  EXPECT_EQ(stream.Flush(&stopped), "</e");
  EXPECT_FALSE(stopped);
}

TEST_F(TextStreamTest, NoStopStringsGivesTheDecodedText) {
  const std::string text =
      "Hello the quick brown fox, \xE6\x97\xA5 and caf\xC3\xA9 \xF0\x9F\x98\x80";
  const std::vector<int32_t> ids = tok_->Encode(text, /*add_special=*/false);
  ASSERT_GT(ids.size(), 3u);
  TextStream stream(*tok_, {"", ""});  // empty stop strings are ignored
  Pushed p = PushAll(stream, ids);
  std::string all;
  for (size_t i = 0; i < p.text.size(); ++i) {
    all += p.text[i];
    EXPECT_FALSE(p.stopped[i]) << i;
  }
  bool stopped = true;
  all += stream.Flush(&stopped);
  EXPECT_FALSE(stopped);
  EXPECT_EQ(all, text);
}

TEST_F(TextStreamTest, SpecialTokensAddNoText) {
  TextStream stream(*tok_, {});
  Pushed p = PushAll(stream, {IdOf(*tok_, "x"), IdOf(*tok_, "<|im_end|>"), IdOf(*tok_, "y")});
  EXPECT_EQ(p.text, (std::vector<std::string>{"x", "", "y"}));
}

}  // namespace
}  // namespace gs
