// `groupshard inspect`, `perplexity` and `convert` as a user runs them: the
// real binary on the fixtures, under mpirun where ranks matter.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/png_image.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using gs::testing::DataPath;
using gs::testing::GroupshardBin;
using gs::testing::RunCommand;

const char* kMpirun = "timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none";

nlohmann::json LastJson(const std::string& out) {
  const size_t brace = out.find('{');
  if (brace == std::string::npos) return nlohmann::json::object();
  return nlohmann::json::parse(out.substr(brace), nullptr, false);
}

nlohmann::json Perplexity(const std::string& args, int np = 0) {
  std::string out;
  const std::string cmd = (np > 0 ? std::string(kMpirun) + " -np " + std::to_string(np) + " "
                                  : std::string("timeout 120 ")) +
                          GroupshardBin() + " perplexity --json " + args + " 2>/dev/null";
  EXPECT_EQ(RunCommand(cmd, &out), 0) << cmd << "\n" << out;
  return LastJson(out);
}

TEST(InspectCliTest, WritesBothPicturesAndTheMatrix) {
  const std::string dir = gs::testing::TempDir();
  std::string out;
  const int rc = RunCommand(
      "timeout 120 " + GroupshardBin() + " inspect --model " + DataPath("models/gqa.gguf") +
          " --prompt 'Hello, groups!' --layer 1 --json --out " + dir + "/keys.png 2>/dev/null",
      &out);
  ASSERT_EQ(rc, 0) << out;
  const auto j = LastJson(out);
  ASSERT_EQ(j["similarity"].size(), 8u);
  EXPECT_EQ(j["similarity"][1][2].get<double>(), 1.0);
  EXPECT_LT(j["similarity"][1][6].get<double>(), 0.999);
  EXPECT_TRUE(RgbImage::ReadPng(dir + "/keys.png").ok());
  EXPECT_TRUE(RgbImage::ReadPng(dir + "/keys_similarity.png").ok());
  EXPECT_EQ(RunCommand(GroupshardBin() + " inspect --model " + DataPath("models/gqa.gguf") +
                           " --prompt x --layer 9 --out " + dir + "/k.png",
                       &out),
            2)
      << out;
}

TEST(PerplexityCliTest, MatchesTheGoldenFromTokensAndFromText) {
  std::ifstream in(DataPath("perplexity/gqa.golden.json"));
  const auto golden = nlohmann::json::parse(in);
  const std::string ids = gs::testing::TempDir() + "/ids.json";
  std::ofstream(ids) << golden["token_ids"].dump();
  const auto& c = golden["cases"][1];
  const std::string window = " --context " + std::to_string(c["context"].get<int>()) +
                             " --stride " + std::to_string(c["stride"].get<int>());
  const double want = c["perplexity"].get<double>();
  auto j = Perplexity("--model " + DataPath("models/gqa") + " --tokens-file " + ids + window);
  EXPECT_NEAR(j.value("perplexity", 0.0), want, 1e-3 * want);
  j = Perplexity("--model " + DataPath("models/gqa") + " --tokenizer " +
                 DataPath("models/gqa.gguf") + " --file " + DataPath("perplexity/text.txt") +
                 window);
  EXPECT_NEAR(j.value("perplexity", 0.0), want, 1e-3 * want);
}

TEST(ConvertCliTest, ConvertedMhaRunsUnderEveryPlan) {
  const std::string dir = gs::testing::TempDir();
  const std::string ids = dir + "/ids.json";
  std::ifstream in(DataPath("perplexity/gqa.golden.json"));
  const auto tokens = nlohmann::json::parse(in)["token_ids"];
  std::ofstream(ids)
      << nlohmann::json(std::vector<int>(tokens.begin(), tokens.begin() + 300)).dump();
  for (int G : {2, 1}) {
    const std::string out = dir + "/mha_g" + std::to_string(G);
    std::string text;
    ASSERT_EQ(RunCommand(GroupshardBin() + " convert --model " + DataPath("models/mha") +
                             " --kv-groups " + std::to_string(G) + " --out " + out,
                         &text),
              0)
        << text;
    EXPECT_NE(text.find("N/G = " + std::to_string(4 / G) + "x"), std::string::npos) << text;
    const std::string args =
        "--model " + out + " --tokens-file " + ids + " --context 128 --stride 64";
    const double single = Perplexity(args).value("perplexity", 0.0);
    EXPECT_GT(single, 1.0);
    for (int np : {2, 4}) {  // every P that ShardPlan accepts for 4 heads in 1 or 2 groups
      const auto j = Perplexity(args, np);
      EXPECT_EQ(j.value("tp_size", 0), np);
      EXPECT_NEAR(j.value("perplexity", 0.0), single, 1e-4 * single) << "G=" << G << " np=" << np;
    }
  }
  std::string text;
  EXPECT_EQ(RunCommand(GroupshardBin() + " convert --model " + DataPath("models/mha") +
                           " --kv-groups 3 --out " + dir + "/bad",
                       &text),
            2)
      << text;
}

}  // namespace
}  // namespace gs
