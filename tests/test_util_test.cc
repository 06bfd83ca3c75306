// The test helpers themselves: RunCommand keeps a command's own stderr
// redirections (tests parse its output as JSON).
#include "tests/test_util.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace gs::testing
