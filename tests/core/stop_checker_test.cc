#include "core/stop_checker.h"

#include <gtest/gtest.h>

namespace gs {
namespace {

TEST(StopCheckerTest, StopStringSplitAcrossPushes) {
  StopChecker c({"</end>"});
  bool stopped = false;
  EXPECT_EQ(c.Push("Hello </", &stopped), "Hello ");
  EXPECT_FALSE(stopped);
  EXPECT_EQ(c.Push("en", &stopped), "");
  EXPECT_FALSE(stopped);
  EXPECT_EQ(c.Push("d> ignored", &stopped), "");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(c.Push("more", &stopped), "");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(c.Flush(), "");
}

TEST(StopCheckerTest, TextBeforeStopIsEmitted) {
  StopChecker c({"STOP", "halt"});
  bool stopped = false;
  EXPECT_EQ(c.Push("abc hal", &stopped), "abc ");
  EXPECT_EQ(c.Push("t and STOP", &stopped), "");
  EXPECT_TRUE(stopped);
  StopChecker d({"STOP"});
  EXPECT_EQ(d.Push("xySTOPz", &stopped), "xy");
  EXPECT_TRUE(stopped);
}

TEST(StopCheckerTest, PartialMatchThenMismatchReleasesHeldText) {
  StopChecker c({"\n\nUser:"});
  bool stopped = false;
  EXPECT_EQ(c.Push("one\n", &stopped), "one");
  EXPECT_EQ(c.Push("\nUs", &stopped), "");
  EXPECT_EQ(c.Push("ual", &stopped), "\n\nUsual");
  EXPECT_FALSE(stopped);
  EXPECT_EQ(c.Push("\n", &stopped), "");
  EXPECT_EQ(c.Flush(), "\n");
}

TEST(StopCheckerTest, NoStopsPassesEverything) {
  StopChecker c({});
  bool stopped = true;
  EXPECT_EQ(c.Push("abc", &stopped), "abc");
  EXPECT_FALSE(stopped);
}

}  // namespace
}  // namespace gs
