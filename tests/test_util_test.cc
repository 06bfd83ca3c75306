// The test helpers themselves: RunCommand keeps a command's own stderr
// redirections (tests parse its output as JSON).
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace gs::testing {
namespace {

TEST(RunCommandTest, MergesStderrUnlessTheCommandRedirectsIt) {
  std::string out;
  EXPECT_EQ(RunCommand("echo out; echo err >&2", &out), 0);
  EXPECT_EQ(out, "out\nerr\n");
  out.clear();
  EXPECT_EQ(RunCommand("sh -c 'echo out; echo err >&2' 2>/dev/null", &out), 0);
  EXPECT_EQ(out, "out\n");
  out.clear();
  EXPECT_EQ(RunCommand("exit 3", &out), 3);
}

// A prebuilt test binary run from another checkout (scripts/gpu-check
// --bundle) finds the fixtures and groupshard where the environment says.
TEST(TreeDirTest, EnvironmentNamesTheTreesWhenSet) {
  // What the environment held before (a bundle run sets both), put back after.
  std::string saved[2];
  bool had[2];
  const char* names[2] = {"GS_SOURCE_DIR", "GS_BINARY_DIR"};
  for (int i = 0; i < 2; ++i) {
    const char* v = std::getenv(names[i]);
    had[i] = v != nullptr;
    if (had[i]) saved[i] = v;
    ASSERT_EQ(unsetenv(names[i]), 0);
  }
  const std::string built_data = DataPath("models/g9x3.gguf");
  const std::string built_bin = GroupshardBin();
  EXPECT_EQ(built_data, std::string(GS_SOURCE_DIR) + "/tests/data/models/g9x3.gguf");
  ASSERT_EQ(setenv("GS_SOURCE_DIR", "/elsewhere/src", 1), 0);
  ASSERT_EQ(setenv("GS_BINARY_DIR", "/elsewhere/bundle", 1), 0);
  EXPECT_EQ(SourceDir(), "/elsewhere/src");
  EXPECT_EQ(DataPath("models/g9x3.gguf"), "/elsewhere/src/tests/data/models/g9x3.gguf");
  EXPECT_EQ(GroupshardBin(), "/elsewhere/bundle/bin/groupshard");
  ASSERT_EQ(setenv("GS_SOURCE_DIR", "", 1), 0);  // empty: as if unset
  EXPECT_EQ(DataPath("models/g9x3.gguf"), built_data);
  ASSERT_EQ(unsetenv("GS_SOURCE_DIR"), 0);
  ASSERT_EQ(unsetenv("GS_BINARY_DIR"), 0);
  EXPECT_EQ(DataPath("models/g9x3.gguf"), built_data);
  EXPECT_EQ(GroupshardBin(), built_bin);
  for (int i = 0; i < 2; ++i) {
    if (had[i]) setenv(names[i], saved[i].c_str(), 1);
  }
}

}  // namespace
}  // namespace gs::testing
