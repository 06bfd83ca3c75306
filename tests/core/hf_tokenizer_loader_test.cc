// tokenizer.json files that crashed the loader (found by fuzzing) are
// refused with an error naming the file and the key: each case starts from
// the real Qwen2 tokenizer.json and breaks one thing.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tokenizer.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using Json = nlohmann::json;

Json Qwen2Json() {
  std::ifstream in(testing::DataPath("tokenizer/qwen2/tokenizer.json"));
  return Json::parse(in);
}

// Writes `text` as tokenizer.json in a fresh directory and loads it.
StatusOr<std::unique_ptr<Tokenizer>> LoadText(const std::string& text, std::string* dir) {
  *dir = testing::TempDir();
  std::ofstream(*dir + "/tokenizer.json") << text;
  return Tokenizer::Load(*dir);
}

void ExpectRefused(const std::string& text, const std::string& what) {
  std::string dir;
  auto t = LoadText(text, &dir);
  ASSERT_FALSE(t.ok()) << "loaded: " << what;
  const std::string& msg = t.status().message();
  EXPECT_NE(msg.find(dir + "/tokenizer.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "\"" << what << "\" not named: " << msg;
}

void ExpectRefused(const std::function<void(Json&)>& edit, const std::string& what) {
  Json j = Qwen2Json();
  edit(j);
  ExpectRefused(j.dump(), what);
}

TEST(HfTokenizerLoaderTest, TheUnbrokenFileLoads) {
  std::string dir;
  EXPECT_TRUE(LoadText(Qwen2Json().dump(), &dir).ok());
}

TEST(HfTokenizerLoaderTest, ATopLevelThatIsNotAnObjectIsRefused) {
  ExpectRefused("42", "top level");  // was an uncaught JSON type error
  ExpectRefused("[]", "top level");
}

TEST(HfTokenizerLoaderTest, VocabularyIdsAreCheckedIntegersInRange) {
  // A negative id wrote tokens_[-5].
  ExpectRefused([](Json& j) { j["model"]["vocab"]["!"] = -5; }, "model.vocab[\"!\"]");
  // Three billion allocated 3e9 strings.
  ExpectRefused([](Json& j) { j["model"]["vocab"]["!"] = 3000000000LL; }, "model.vocab[\"!\"]");
  // A float overflowed the conversion and overwrote token 0.
  ExpectRefused([](Json& j) { j["model"]["vocab"]["!"] = 1.2e89; }, "an integer token id");
  ExpectRefused([](Json& j) { j["model"]["vocab"]["!"] = "seven"; }, "model.vocab[\"!\"]");
  ExpectRefused([](Json& j) { j["model"]["vocab"] = Json::array(); }, "model.vocab");
}

TEST(HfTokenizerLoaderTest, AddedTokensNeedAnIdAndContent) {
  // Without `content`, a const operator[] read a missing key.
  ExpectRefused([](Json& j) { j["added_tokens"][0].erase("content"); },
                "added_tokens[0].content");
  ExpectRefused([](Json& j) { j["added_tokens"][0]["id"] = -1; }, "added_tokens[0].id");
  ExpectRefused([](Json& j) { j["added_tokens"][0]["special"] = "yes"; },
                "added_tokens[0].special");
  ExpectRefused([](Json& j) { j["added_tokens"] = 5; }, "added_tokens");
}

TEST(HfTokenizerLoaderTest, MergesArePairs) {
  // An empty array read m[0] of nothing.
  ExpectRefused([](Json& j) { j["model"]["merges"][0] = Json::array(); }, "model.merges[0]");
  ExpectRefused([](Json& j) { j["model"]["merges"][0] = Json::array({1, 2}); },
                "model.merges[0]");
  ExpectRefused([](Json& j) { j["model"]["merges"] = "a b"; }, "model.merges");
}

TEST(HfTokenizerLoaderTest, WrongTypesElsewhereAreNamed) {
  ExpectRefused([](Json& j) { j["model"] = 1; }, "model");
  ExpectRefused([](Json& j) { j["model"]["type"] = 1; }, "model.type");
  ExpectRefused([](Json& j) { j["pre_tokenizer"] = Json::array(); }, "pre_tokenizer");
  ExpectRefused([](Json& j) { j["pre_tokenizer"] = {{"type", "Sequence"}}; },
                "pre_tokenizer.pretokenizers");
  ExpectRefused([](Json& j) { j["normalizer"] = {{"type", 3}}; }, "normalizer.type");
}

}  // namespace
}  // namespace gs
