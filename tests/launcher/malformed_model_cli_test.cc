// Malformed model files as a user meets them: `groupshard generate` and
// `plan` end with exit code 1 and one line naming the file and the key,
// never a signal (these inputs crashed the release binary before).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/core/test_writers.h"
#include "tests/test_util.h"

namespace gs {
namespace {

using gs::testing::DataPath;
using gs::testing::GroupshardBin;
using gs::testing::RunCommand;

// The Qwen2 fixture with `tokenizer_json` as its tokenizer.json.
std::string ModelWithTokenizer(const std::string& tokenizer_json) {
  const std::string dir = gs::testing::TempDir();
  for (const char* f : {"config.json", "model.safetensors"}) {
    std::filesystem::copy_file(DataPath(std::string("models/qwen2/") + f), dir + "/" + f);
  }
  std::ofstream(dir + "/tokenizer.json") << tokenizer_json;
  return dir;
}

void ExpectCleanFailure(const std::string& cmd, const std::string& file, const std::string& key) {
  std::string out;
  const int rc = RunCommand("timeout 60 " + cmd, &out);
  EXPECT_EQ(rc, 1) << cmd << "\n" << out;  // a signal reads as -1 or 128+n
  EXPECT_NE(out.find(file), std::string::npos) << out;
  EXPECT_NE(out.find(key), std::string::npos) << out;
}

TEST(MalformedModelCliTest, BrokenTokenizerJsonEndsWithAnErrorNamingTheKey) {
  std::ifstream in(DataPath("tokenizer/qwen2/tokenizer.json"));
  nlohmann::json j = nlohmann::json::parse(in);
  const std::string gen = GroupshardBin() + " generate --prompt hi --max-tokens 1 --model ";
  {
    const std::string dir = ModelWithTokenizer("42");
    ExpectCleanFailure(gen + dir, dir + "/tokenizer.json", "top level");
  }
  {
    nlohmann::json bad = j;
    bad["model"]["vocab"]["!"] = -5;
    const std::string dir = ModelWithTokenizer(bad.dump());
    ExpectCleanFailure(gen + dir, dir + "/tokenizer.json", "model.vocab[\"!\"]");
  }
  {
    nlohmann::json bad = j;
    bad["model"]["merges"][0] = nlohmann::json::array();
    const std::string dir = ModelWithTokenizer(bad.dump());
    ExpectCleanFailure(gen + dir, dir + "/tokenizer.json", "model.merges[0]");
  }
}

TEST(MalformedModelCliTest, AHugeTensorNameIsNoCrash) {
  // A tensor name of a megabyte overflowed the stack in std::regex: SIGSEGV
  // in `plan` and `generate`. Now it is an unknown tensor, which `plan`
  // passes over.
  testing::GgufWriter w = testing::TinyGguf(testing::TinyModel(), "llama", testing::kGgmlF32);
  w.AddTensor("blk.0." + std::string(1 << 20, 'q') + ".weight", testing::kGgmlF32, {4},
              std::vector<uint8_t>(16, 0));
  const std::string path = gs::testing::TempDir() + "/long_name.gguf";
  w.Write(path);
  std::string out;
  const int rc = RunCommand("timeout 60 " + GroupshardBin() + " plan --model " + path +
                                " > /dev/null",
                            &out);
  EXPECT_EQ(rc, 0) << out.substr(0, 2000);
}

}  // namespace
}  // namespace gs
