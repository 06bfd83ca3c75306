// `groupshard generate` and `groupshard plan` as a user runs them: the real
// binary, the real model, under mpirun where ranks matter.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace gs {
namespace {

using gs::testing::GroupshardBin;
using gs::testing::RunCommand;

const char* kMpirun = "timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none";

std::string Smol() { return gs::testing::SmolLM2Path(); }

#define REQUIRE_SMOL()                                                         \
  if (Smol().empty()) GTEST_SKIP() << "SmolLM2 GGUF unavailable: skipped"

nlohmann::json GenerateJson(const std::string& args, int np = 0) {
  std::string out;
  std::string cmd = (np > 0 ? std::string(kMpirun) + " -np " + std::to_string(np) + " "
                            : std::string("timeout 120 ")) +
                    GroupshardBin() + " generate --json --model " + Smol() + " " + args +
                    " 2>/dev/null";
  const int rc = RunCommand(cmd, &out);
  EXPECT_EQ(rc, 0) << out;
  const size_t brace = out.find('{');
  if (brace == std::string::npos) return nlohmann::json::object();
  return nlohmann::json::parse(out.substr(brace), nullptr, false);
}

TEST(GenerateCliTest, ChatAnswersParis) {
  REQUIRE_SMOL();
  std::string out;
  // The exact product: the first token is a near tie ("The" p=0.152 against
  // "L" p=0.144 in fp32), which the rounding of int8 activations tips the
  // other way on one rank.
  const int rc = RunCommand("timeout 120 " + GroupshardBin() + " generate --model " + Smol() +
                                " --chat --prompt 'What is the capital of France?' "
                                "--temperature 0 --max-tokens 24 --activations fp32",
                            &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Paris"), std::string::npos) << out;
  EXPECT_NE(out.find("generated"), std::string::npos) << "summary line on stderr: " << out;
}

TEST(GenerateCliTest, PlainPromptContinuesWithParis) {
  REQUIRE_SMOL();
  auto j = GenerateJson("--prompt 'The capital of France is' --temperature 0 --max-tokens 4");
  ASSERT_TRUE(j.contains("text")) << j.dump();
  EXPECT_EQ(j["text"].get<std::string>().rfind(" Paris", 0), 0u) << j["text"];
  EXPECT_EQ(j["token_ids"].size(), 4u);
  EXPECT_EQ(j["logprobs"].size(), 4u);
  EXPECT_GT(j["prompt_token_ids"].size(), 0u);
  EXPECT_EQ(j["finish_reason"], "length");
  for (const auto& lp : j["logprobs"]) EXPECT_LE(lp.get<double>(), 0.0);
}

// The default int8 activations against the exact product on the real model,
// over eight prompts and eight greedy tokens each (compared until the two
// choose different tokens): the first token agrees, the log-probabilities
// stay within 0.04 of the exact ones on average and within 0.25 each. One
// token's error is mostly where the rounding of some activation lands, which
// any change to the order of the integer sums moves: over these prompts it
// ranged up to 0.13-0.15 with a mean of 0.022-0.023 for two such orders, so a
// bound on one token of one prompt says little.
TEST(GenerateCliTest, Int8ActivationsStayCloseToTheExactProduct) {
  REQUIRE_SMOL();
  const char* prompts[] = {"The capital of France is",
                           "Once upon a time",
                           "The quick brown fox",
                           "def fibonacci(n):",
                           "Water boils at",
                           "In 1492, Columbus",
                           "The largest planet in the solar system is",
                           "My favourite food is"};
  double sum = 0, mx = 0;
  int compared = 0;
  for (const char* prompt : prompts) {
    SCOPED_TRACE(prompt);
    const std::string args =
        std::string("--prompt '") + prompt + "' --temperature 0 --max-tokens 8 ";
    auto exact = GenerateJson(args + "--activations fp32");
    auto int8 = GenerateJson(args + "--activations int8");
    ASSERT_EQ(exact["token_ids"].size(), 8u) << exact.dump();
    ASSERT_EQ(int8["token_ids"].size(), 8u) << int8.dump();
    EXPECT_EQ(int8["token_ids"][0], exact["token_ids"][0]);
    for (size_t i = 0; i < 8; ++i) {
      const double d =
          std::fabs(int8["logprobs"][i].get<double>() - exact["logprobs"][i].get<double>());
      EXPECT_LT(d, 0.25) << "token " << i;
      sum += d;
      mx = std::max(mx, d);
      ++compared;
      if (int8["token_ids"][i] != exact["token_ids"][i]) break;
    }
  }
  EXPECT_LT(sum / compared, 0.04) << compared << " tokens";
  EXPECT_GT(mx, 0.0) << "int8 gave exactly the fp32 logprobs: was it used?";
  // int8 is the default.
  const std::string args = "--prompt 'The capital of France is' --temperature 0 --max-tokens 4 ";
  auto int8 = GenerateJson(args + "--activations int8");
  auto dflt = GenerateJson(args);
  EXPECT_EQ(dflt["token_ids"], int8["token_ids"]);
  EXPECT_EQ(dflt["logprobs"], int8["logprobs"]);
}

TEST(GenerateCliTest, SameSeedSameTextDifferentSeedDifferentText) {
  REQUIRE_SMOL();
  const std::string base = "--prompt 'Once upon a time' --temperature 1.0 --max-tokens 24 ";
  auto a = GenerateJson(base + "--seed 7");
  auto b = GenerateJson(base + "--seed 7");
  auto c = GenerateJson(base + "--seed 8");
  EXPECT_EQ(a["token_ids"], b["token_ids"]);
  EXPECT_NE(a["token_ids"], c["token_ids"]);
}

TEST(GenerateCliTest, StopStringEndsTheText) {
  REQUIRE_SMOL();
  auto j = GenerateJson("--prompt 'The capital of France is' --temperature 0 --max-tokens 16 "
                        "--stop 'Paris'");
  EXPECT_EQ(j["finish_reason"], "stop");
  EXPECT_EQ(j["text"].get<std::string>().find("Paris"), std::string::npos) << j["text"];
}

TEST(GenerateCliTest, TensorParallelRunsGiveTheSameTokens) {
  REQUIRE_SMOL();
  // On the CPU: one GPU rank would differ from CPU ranks by BF16 rounding.
  // fp32 activations: the ranks compute exactly the one-rank products
  // (tests/parallel/tp_mpitest.cc covers int8 with its looser bound).
  const std::string args =
      "--chat --prompt 'What is the capital of France?' --temperature 0 "
      "--max-tokens 12 --device cpu --activations fp32";
  auto one = GenerateJson(args);
  for (int np : {2, 3}) {
    auto tp = GenerateJson(args, np);
    EXPECT_EQ(tp["token_ids"], one["token_ids"]) << "np " << np;
    EXPECT_EQ(tp["timings"]["tp_size"], np);
    ASSERT_EQ(tp["logprobs"].size(), one["logprobs"].size());
    for (size_t i = 0; i < one["logprobs"].size(); ++i) {
      EXPECT_NEAR(tp["logprobs"][i].get<double>(), one["logprobs"][i].get<double>(), 1e-3);
    }
  }
}

struct BadArgs {
  std::string args;
  std::string expect;  // in the message
};

TEST(GenerateCliTest, BadArgumentsExitTwoWithOneMessage) {
  const std::string model = gs::testing::DataPath("models/g9x3.gguf");
  const std::vector<BadArgs> cases = {
      {"--model " + model + " --prompt hi --no-such-flag", "no-such-flag"},
      {"--model " + model + " --prompt hi --max-tokens -3", "max-tokens"},
      {"--model " + model + " --prompt hi --max-tokens 0", "max-tokens"},
      {"--model " + model + " --prompt hi --top-p 1.5", "top-p"},
      {"--model " + model + " --prompt hi --top-p 0", "top-p"},
      {"--model " + model + " --prompt hi --temperature -1", "temperature"},
      {"--model /no/such/model.gguf --prompt hi", "model"},
      {"--prompt hi", "model"},
  };
  for (const BadArgs& c : cases) {
    std::string out;
    const int rc = RunCommand("timeout 60 " + GroupshardBin() + " generate " + c.args, &out);
    EXPECT_EQ(rc, 2) << c.args << "\n" << out;
    EXPECT_NE(out.find(c.expect), std::string::npos) << c.args << "\n" << out;
    // One clear message: a single line, no usage dump.
    EXPECT_LE(std::count(out.begin(), out.end(), '\n'), 2) << out;
  }
}

TEST(TensorParallelFailureTest, ImpossibleRankCountEndsEveryRankWithTheMessage) {
  const std::string model = gs::testing::DataPath("models/g9x3.gguf");
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = RunCommand(std::string(kMpirun) + " -np 4 " + GroupshardBin() +
                                " generate --model " + model + " --prompt hi --max-tokens 2",
                            &out);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(rc, 0);
  EXPECT_NE(rc, 124) << "timed out: a rank hung";
  EXPECT_LT(s, 60.0);
  EXPECT_NE(out.find("sizes that work: 1 2 3 9"), std::string::npos) << out;
}

TEST(TensorParallelFailureTest, OneRankThatCannotOpenItsFileEndsAllRanks) {
  // Rank 1 gets a truncated copy of the model; rank 0 the good file.
  const std::string good = gs::testing::DataPath("models/g9x3.gguf");
  const std::string bad = gs::testing::TempDir() + "/truncated.gguf";
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(bad, std::ios::binary).write(bytes.data(), bytes.size() / 2);
  }
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string gen = " generate --prompt hi --max-tokens 2 --model ";
  const int rc = RunCommand(std::string(kMpirun) + " -np 1 " + GroupshardBin() + gen + good +
                                " : -np 1 " + GroupshardBin() + gen + bad,
                            &out);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(rc, 0);
  EXPECT_NE(rc, 124) << "timed out: a rank hung";
  EXPECT_LT(s, 60.0);
  EXPECT_NE(out.find("truncated.gguf"), std::string::npos) << "names the file: " << out;
  EXPECT_NE(out.find("rank(s) 1 failed"), std::string::npos) << out;
}

TEST(PlanCliTest, PerRankJsonMatchesTheShardPlan) {
  std::string out;
  const int rc = RunCommand(GroupshardBin() + " plan --json --tp 2 --context 1024 --batch 4 --model " +
                                gs::testing::DataPath("models/g9x3") + " 2>&1",
                            &out);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["n_heads"], 9);
  EXPECT_EQ(j["n_kv_heads"], 3);
  EXPECT_EQ(j["kv_reduction_vs_mha"], 3);
  // 2 * layers * G * head_dim * 2 bytes: the CPU's default cache, f16.
  EXPECT_EQ(j["kv_dtype"], "f16");
  EXPECT_EQ(j["kv_bytes_per_token"], 2 * 2 * 3 * 32 * 2);
  EXPECT_EQ(j["mha_kv_bytes_per_token"], 2 * 2 * 9 * 32 * 2);
  EXPECT_EQ(j["kv_bytes_context_batch"], 2 * 2 * 3 * 32 * 2 * 1024 * 4);
  ASSERT_EQ(j["ranks"].size(), 2u);
  EXPECT_EQ(j["ranks"][0]["kv_groups"], nlohmann::json::array({0, 2}));
  EXPECT_EQ(j["ranks"][0]["q_heads"], nlohmann::json::array({0, 6}));
  EXPECT_EQ(j["ranks"][1]["kv_groups"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(j["ranks"][1]["kv_bytes_per_token"], 2 * 2 * 1 * 32 * 2);
}

TEST(PlanCliTest, TextShowsTheGroupsAndRefusesBadSizes) {
  std::string out;
  ASSERT_EQ(RunCommand(GroupshardBin() + " plan --tp 3 --model " +
                           gs::testing::DataPath("models/g9x3.gguf"),
                       &out),
            0)
      << out;
  EXPECT_NE(out.find("N=9 query heads, G=3 KV groups, N/G=3"), std::string::npos) << out;
  // The dtype the KV figures assume, and a row's bytes in it (32 x f16).
  EXPECT_NE(out.find("KV cache (f16): "), std::string::npos) << out;
  EXPECT_NE(out.find("rows of 32 in 64 B"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(RunCommand(GroupshardBin() + " plan --tp 4 --model " +
                           gs::testing::DataPath("models/g9x3.gguf"),
                       &out),
            2);
  EXPECT_NE(out.find("sizes that work: 1 2 3 9"), std::string::npos) << out;
}

}  // namespace
}  // namespace gs
