// Token ids against references we did not write: Hugging Face tokenizers
// (byte-level BPE) and sentencepiece, via scripts/make_tokenizer_goldens.py.
#include "core/tokenizer.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/unicode.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using Json = nlohmann::json;

const Json& Goldens() {
  static const Json j = [] {
    std::ifstream in(testing::DataPath("tokenizer/goldens.json"));
    return Json::parse(in);
  }();
  return j;
}

std::string Printable(const std::string& s) { return Json(s).dump(); }

bool ValidUtf8(const std::string& s) {
  for (size_t pos = 0; pos < s.size();) {
    int len;
    DecodeUtf8(s, pos, &len);
    if (len == 1 && static_cast<uint8_t>(s[pos]) >= 0x80) return false;
    pos += len;
  }
  return true;
}

std::unique_ptr<Tokenizer> LoadOrDie(const std::string& path) {
  auto t = Tokenizer::Load(path);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

// Encode matches the reference ids, Decode gives the text back, and streaming
// the ids one at a time gives the same text without splitting a character.
void CheckAgainstGoldens(const Tokenizer& tok, const Json& ids) {
  const Json& strings = Goldens()["strings"];
  ASSERT_EQ(strings.size(), ids.size());
  ASSERT_GE(strings.size(), 30u);
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string s = strings[i].get<std::string>();
    const std::vector<int32_t> want = ids[i].get<std::vector<int32_t>>();
    std::vector<int32_t> got = tok.Encode(s, /*add_special=*/false);
    EXPECT_EQ(got, want) << "string " << i << ": " << Printable(s);
    EXPECT_EQ(tok.Decode(want), s) << "string " << i;
    StreamDecoder stream(tok);
    std::string streamed;
    for (int32_t id : want) {
      std::string piece = stream.Push(id);
      EXPECT_TRUE(ValidUtf8(piece)) << "string " << i << " piece " << Printable(piece);
      streamed += piece;
    }
    streamed += stream.Flush();
    EXPECT_EQ(streamed, tok.Decode(want)) << "string " << i;
  }
}

TEST(TokenizerTest, Llama3RegexTokenizerJsonMatchesHfTokenizers) {
  const Json& g = Goldens()["llama3"];
  auto tok = LoadOrDie(testing::DataPath("tokenizer/llama3"));
  ASSERT_TRUE(tok);
  CheckAgainstGoldens(*tok, g["ids"]);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->Encode("Hello world", true), g["with_bos"].get<std::vector<int32_t>>());
  EXPECT_EQ(tok->bos_id(), *tok->TokenId("<|begin_of_text|>"));
  EXPECT_TRUE(tok->IsSpecial(*tok->TokenId("<|eot_id|>")));
  EXPECT_FALSE(tok->IsSpecial(*tok->TokenId("Ġ")));
}

TEST(TokenizerTest, Qwen2RegexTokenizerJsonMatchesHfTokenizers) {
  const Json& g = Goldens()["qwen2"];
  auto tok = LoadOrDie(testing::DataPath("tokenizer/qwen2"));
  ASSERT_TRUE(tok);
  CheckAgainstGoldens(*tok, g["ids"]);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->Encode("Hello world", true), g["with_bos"].get<std::vector<int32_t>>());
  const auto& eos = tok->eos_ids();
  EXPECT_NE(std::find(eos.begin(), eos.end(), *tok->TokenId("<|im_end|>")), eos.end());
}

TEST(TokenizerTest, SentencePieceGgufMatchesSentencepiece) {
  const Json& g = Goldens()["spm"];
  auto tok = LoadOrDie(testing::DataPath("tokenizer/spm.gguf"));
  ASSERT_TRUE(tok);
  CheckAgainstGoldens(*tok, g["ids"]);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->bos_id(), g["bos_id"].get<int32_t>());
  ASSERT_FALSE(tok->eos_ids().empty());
  EXPECT_EQ(tok->eos_ids()[0], g["eos_id"].get<int32_t>());
  std::vector<int32_t> with_bos = tok->Encode("Hello", true);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos[0], tok->bos_id());
  EXPECT_EQ(tok->TokenBytes(*tok->TokenId("<0x41>")), "A");
}

TEST(TokenizerTest, SmolLM2GgufMatchesHfTokenizers) {
  std::string path = testing::SmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf not available";
  if (!Goldens().contains("smollm2")) GTEST_SKIP() << "goldens.json has no smollm2 section";
  auto tok = LoadOrDie(path);
  ASSERT_TRUE(tok);
  CheckAgainstGoldens(*tok, Goldens()["smollm2"]["ids"]);
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->TokenId("<|im_end|>"), std::optional<int32_t>(2));
  const auto& eos = tok->eos_ids();
  EXPECT_NE(std::find(eos.begin(), eos.end(), 2), eos.end());
  EXPECT_TRUE(tok->IsSpecial(1));
  EXPECT_EQ(tok->Decode({1, 2}, /*skip_special=*/true), "");
  EXPECT_EQ(tok->TokenBytes(*tok->TokenId("Ġt")), " t");
}

TEST(TokenizerTest, StreamDecoderHoldsByteFallbackCharacterUntilComplete) {
  auto tok = LoadOrDie(testing::DataPath("tokenizer/spm.gguf"));
  ASSERT_TRUE(tok);
  // U+1F600 is F0 9F 98 80: four byte-fallback tokens.
  const char* bytes[] = {"<0xF0>", "<0x9F>", "<0x98>", "<0x80>"};
  std::vector<int32_t> ids;
  for (const char* b : bytes) {
    auto id = tok->TokenId(b);
    ASSERT_TRUE(id.has_value()) << b;
    ids.push_back(*id);
  }
  StreamDecoder stream(*tok);
  EXPECT_EQ(stream.Push(ids[0]), "");
  EXPECT_EQ(stream.Push(ids[1]), "");
  EXPECT_EQ(stream.Push(ids[2]), "");
  EXPECT_EQ(stream.Push(ids[3]), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.Flush(), "");
  EXPECT_EQ(tok->Decode(ids), "\xF0\x9F\x98\x80");
}

TEST(TokenizerTest, StreamDecoderHoldsByteLevelCharacterUntilComplete) {
  auto tok = LoadOrDie(testing::DataPath("tokenizer/qwen2"));
  ASSERT_TRUE(tok);
  // Bytes as single-byte tokens (GPT-2 map: 0xE6 -> 'æ', 0x97 -> 'Ĺ', 0xA5 -> '¥').
  const std::string text = "a\xE6\x97\xA5";  // "a日"
  std::vector<int32_t> ids;
  std::string chunks;
  StreamDecoder stream(*tok);
  std::vector<std::string> outs;
  for (unsigned char c : text) {
    std::string mapped;
    AppendUtf8(ByteToUnicode(c), &mapped);
    auto id = tok->TokenId(mapped);
    ASSERT_TRUE(id.has_value());
    ids.push_back(*id);
    outs.push_back(stream.Push(*id));
  }
  EXPECT_EQ(outs, (std::vector<std::string>{"a", "", "", "\xE6\x97\xA5"}));
  EXPECT_EQ(tok->Decode(ids), text);
  // A truncated character is still flushed at the end.
  StreamDecoder cut(*tok);
  EXPECT_EQ(cut.Push(ids[1]), "");
  EXPECT_EQ(cut.Flush(), "\xE6");
}

TEST(TokenizerTest, LoadErrorsNameThePath) {
  auto missing = Tokenizer::Load("/nonexistent/model.gguf");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/model.gguf"), std::string::npos);
  std::string dir = testing::TempDir();
  auto no_json = Tokenizer::Load(dir);
  EXPECT_FALSE(no_json.ok());
  EXPECT_NE(no_json.status().message().find("tokenizer.json"), std::string::npos);
}

// Strings not in NFC through Qwen2's tokenizer.json, which declares an NFC
// normalizer: the ids Hugging Face tokenizers gives
// (tests/data/tokenizer/nfc_goldens.json, scripts/make_nfc_goldens.py).
TEST(TokenizerTest, NfcNormalizerMatchesHfTokenizers) {
  std::ifstream in(testing::DataPath("tokenizer/nfc_goldens.json"));
  const Json g = Json::parse(in);
  auto tok = LoadOrDie(testing::DataPath("tokenizer/qwen2"));
  ASSERT_NE(tok, nullptr);
  int not_nfc = 0;
  for (const Json& c : g["cases"]) {
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(ToNfc(text), c["nfc"].get<std::string>()) << Printable(text);
    EXPECT_EQ(tok->Encode(text, false), c["ids"].get<std::vector<int32_t>>()) << Printable(text);
    not_nfc += text != c["nfc"].get<std::string>();
  }
  EXPECT_GE(not_nfc, 6);
}

TEST(UnicodeTest, CategoriesFromUtf8proc) {
  EXPECT_TRUE(IsLetter(U'\u00e9'));   // é
  EXPECT_TRUE(IsLetter(U'\u4e2d'));   // 中
  EXPECT_FALSE(IsLetter(U'\u0301'));  // a combining mark is M, not L
  EXPECT_TRUE(IsNumber(U'\u0663'));   // ARABIC-INDIC DIGIT THREE
  EXPECT_TRUE(IsNumber(U'\u2167'));   // ROMAN NUMERAL EIGHT (Nl)
  EXPECT_FALSE(IsNumber(U'x'));
  EXPECT_FALSE(IsLetter(0x110000));
  EXPECT_TRUE(IsWhitespace(0x3000));
}

}  // namespace
}  // namespace gs
