// Chat renderings against transformers' apply_chat_template with the real
// template strings (goldens from scripts/make_tokenizer_goldens.py).
#include "core/chat_template.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/tokenizer.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using Json = nlohmann::json;

Json Goldens() {
  std::ifstream in(testing::DataPath("tokenizer/goldens.json"));
  return Json::parse(in);
}

void CheckChats(const Tokenizer& tok, const Json& chats) {
  ASSERT_FALSE(chats.empty());
  for (const Json& c : chats) {
    std::vector<ChatMessage> msgs;
    for (const Json& m : c["messages"]) msgs.push_back({m["role"], m["content"]});
    auto got = tok.ApplyChatTemplate(msgs, c["add_generation_prompt"].get<bool>());
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c["expected"].get<std::string>()) << c["messages"].dump();
  }
}

TEST(ChatTemplateTest, SmolLM2MatchesTransformers) {
  std::string path = testing::SmolLM2Path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf not available";
  Json g = Goldens();
  if (!g.contains("smollm2")) GTEST_SKIP() << "goldens.json has no smollm2 section";
  auto tok = Tokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->chat_format(), ChatFormat::kChatML);
  CheckChats(**tok, g["smollm2"]["chat"]);
}

TEST(ChatTemplateTest, Qwen2MatchesTransformers) {
  auto tok = Tokenizer::Load(testing::DataPath("tokenizer/qwen2"));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->chat_format(), ChatFormat::kChatML);
  CheckChats(**tok, Goldens()["qwen2"]["chat"]);
}

TEST(ChatTemplateTest, Llama3MatchesTransformers) {
  auto tok = Tokenizer::Load(testing::DataPath("tokenizer/llama3"));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->chat_format(), ChatFormat::kLlama3);
  CheckChats(**tok, Goldens()["llama3"]["chat"]);
}

TEST(ChatTemplateTest, UnknownRoleIsInvalidArgumentNamingIt) {
  ChatTemplate t = DetectChatTemplate("", /*vocab_has_chatml=*/true, false, "");
  auto r = RenderChat(t, {{"user", "hi"}, {"wizard", "boo"}}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("wizard"), std::string::npos);
}

TEST(ChatTemplateTest, ChatMLWithoutTemplateHasNoDefaultSystem) {
  ChatTemplate t = DetectChatTemplate("", /*vocab_has_chatml=*/true, false, "");
  auto r = RenderChat(t, {{"user", "hi"}}, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace gs
