#include "proto/request_builder.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/test_util.h"

namespace gs {
namespace {

namespace pb = groupshard::v1;

// Well-formed and ill-formed sequences from the Unicode Standard, ch. 3,
// table 3-7 (well-formed UTF-8 byte sequences).
TEST(Utf8Check, FollowsTheStandardTable) {
  EXPECT_EQ(FindInvalidUtf8("plain ascii"), -1);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), -1);
  EXPECT_EQ(FindInvalidUtf8("\xF4\x8F\xBF\xBF"), -1);  // U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("ab\xC0\x80"), 2);         // overlong NUL
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0);       // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1);      // surrogate D800
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0);   // past U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("abc\xE2\x82"), 3);        // truncated
  EXPECT_EQ(FindInvalidUtf8("\x80"), 0);               // lone continuation
  EXPECT_EQ(FindInvalidUtf8("\xFF"), 0);
  EXPECT_EQ(SanitizeUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(FindInvalidUtf8(SanitizeUtf8("\xE2\x82 x \xC0")), -1);
}

class PrepareGenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = Tokenizer::Load(testing::DataPath("models/g9x3.gguf"));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tok_ = std::move(t).value();
    limits_.max_position = 256;
    limits_.vocab_size = 256;
    limits_.kv_tokens = 1024;
    limits_.default_max_tokens = 64;
  }
  // The error message of preparing `req`, "" when it is accepted.
  std::string Error(const pb::GenerateRequest& req) {
    auto r = PrepareGenerate(req, *tok_, limits_);
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    return r.status().message();
  }
  static pb::GenerateRequest Good() {
    pb::GenerateRequest req;
    req.set_prompt("hello there");
    req.set_max_tokens(8);
    return req;
  }
  std::unique_ptr<Tokenizer> tok_;
  RequestLimits limits_;
};

TEST_F(PrepareGenerateTest, AcceptsAndTokenizesLikeTheTokenizer) {
  pb::GenerateRequest req = Good();
  req.set_request_id("r1");
  req.add_stop("xy");
  req.set_logprobs(true);
  auto r = PrepareGenerate(req, *tok_, limits_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->engine_request.prompt, tok_->Encode("hello there", true));
  EXPECT_EQ((*r)->engine_request.max_tokens, 8);
  EXPECT_EQ((*r)->engine_request.eos_ids, tok_->eos_ids());
  EXPECT_EQ((*r)->engine_request.sampling.temperature, 1.0f);  // proto default
  EXPECT_EQ((*r)->stop, std::vector<std::string>{"xy"});
  EXPECT_TRUE((*r)->logprobs);
  EXPECT_TRUE((*r)->engine_request.logprobs);
  EXPECT_EQ((*r)->client_id, "r1");

  req.clear_max_tokens();
  req.set_ignore_eos(true);
  r = PrepareGenerate(req, *tok_, limits_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->engine_request.max_tokens, 64);
  EXPECT_TRUE((*r)->engine_request.eos_ids.empty());
  req.set_logprobs(false);  // the engine then skips computing them
  r = PrepareGenerate(req, *tok_, limits_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)->engine_request.logprobs);

  pb::GenerateRequest ids;
  ids.add_prompt_token_ids(5);
  ids.add_prompt_token_ids(250);
  r = PrepareGenerate(ids, *tok_, limits_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->engine_request.prompt, (std::vector<int32_t>{5, 250}));
  // The default leaves room for the prompt in the context.
  limits_.default_max_tokens = 1000;
  r = PrepareGenerate(ids, *tok_, limits_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->engine_request.max_tokens, 254);
}

TEST_F(PrepareGenerateTest, EachMalformedFieldIsNamed) {
  EXPECT_EQ(Error(Good()), "");
  auto with = [](auto edit) {
    pb::GenerateRequest r = Good();
    edit(r);
    return r;
  };
  auto starts = [](const std::string& msg, const std::string& field) {
    return msg.rfind(field + ":", 0) == 0 || msg.rfind(field + " ", 0) == 0;
  };
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.clear_prompt(); })), "prompt"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.set_prompt(std::string(300, 'a')); })), "prompt"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.set_max_tokens(0); })), "max_tokens"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.set_max_tokens(-3); })), "max_tokens"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.set_max_tokens(256); })), "max_tokens"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.set_max_tokens(250); })), "max_tokens"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.mutable_sampling()->set_temperature(-0.5f); })),
                     "sampling.temperature"));
  // Values whose sampling overflowed to garbage tokens before they were refused.
  EXPECT_TRUE(
      starts(Error(with([](auto& r) { r.mutable_sampling()->set_repetition_penalty(1e-40f); })),
             "sampling.repetition_penalty"));
  EXPECT_TRUE(starts(
      Error(with([](auto& r) { r.mutable_sampling()->set_temperature(std::nanf("")); })),
      "sampling.temperature"));
  EXPECT_TRUE(starts(
      Error(with([](auto& r) { r.mutable_sampling()->set_temperature(INFINITY); })),
      "sampling.temperature"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.mutable_sampling()->set_top_p(0.0f); })),
                     "sampling.top_p"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.mutable_sampling()->set_top_p(1.5f); })),
                     "sampling.top_p"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.mutable_sampling()->set_top_k(-1); })),
                     "sampling.top_k"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.set_prompt("ok \xC3(\xA9"); })), "prompt"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.add_stop("\xFF"); })), "stop[0]"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.add_stop(""); })), "stop[0]"));
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.add_prompt_token_ids(3); })), "prompt"));
  pb::GenerateRequest ids;
  ids.add_prompt_token_ids(1);
  ids.add_prompt_token_ids(256);
  EXPECT_TRUE(starts(Error(ids), "prompt_token_ids[1]"));
  pb::GenerateRequest chat;
  chat.add_messages()->set_role("user");
  chat.add_messages()->set_role("wizard");
  EXPECT_TRUE(starts(Error(chat), "messages[1].role"));
  chat.mutable_messages(1)->set_role("assistant");
  chat.mutable_messages(0)->set_content("\xED\xA0\x80");
  EXPECT_TRUE(starts(Error(chat), "messages[0].content"));
  // Room in the context but not in the KV cache.
  limits_.kv_tokens = 16;
  EXPECT_TRUE(starts(Error(with([](auto& r) { r.set_max_tokens(200); })), "max_tokens"));
}

}  // namespace
}  // namespace gs
