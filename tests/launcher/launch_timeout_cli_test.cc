// `--launch-timeout` under mpirun: a rank that does not start, or does not
// check in once loaded, ends the whole job within the timeout, with a message
// naming it and its host, a non-zero exit, and no process left behind.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace gs {
namespace {

using gs::testing::DataPath;
using gs::testing::GroupshardBin;
using gs::testing::RunCommand;

std::string Hostname() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

// Processes whose command line holds `marker`.
int ProcessesWith(const std::string& marker) {
  int n = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(marker) != std::string::npos) ++n;
  }
  closedir(proc);
  return n;
}

struct JobRun {
  int rc;
  std::string output;
  double seconds;
  std::string marker;
};

// mpirun -np 3 groupshard generate with a 3 s launch timeout and `env` (a
// test hook), bounded by `timeout 90`. The prompt carries a marker that finds
// any rank left behind.
JobRun GenerateWithHook(const std::string& env) {
  JobRun r;
  std::random_device rd;
  r.marker = "launchcheck" + std::to_string(getpid()) + "x" + std::to_string(rd() % 100000);
  const std::string cmd =
      "timeout 90 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 3 -x " + env + " " +
      GroupshardBin() + " generate --model " + DataPath("models/g9x3.gguf") +
      " --max-tokens 1 --launch-timeout 3 --prompt " + r.marker + " 2>&1";
  const auto t0 = std::chrono::steady_clock::now();
  r.rc = RunCommand(cmd, &r.output);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// mpirun kills the ranks as it ends; give the kernel a moment to reap them.
int LeftBehind(const std::string& marker) {
  int n = 0;
  for (int i = 0; i < 50 && (n = ProcessesWith(marker)) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return n;
}

TEST(LaunchTimeoutCliTest, RankThatDoesNotCheckInEndsTheJobNamingIt) {
  const JobRun r = GenerateWithHook("GS_TEST_SKIP_CHECKIN_RANK=2");
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_NE(r.rc, 124) << "timeout had to end it: " << r.output;
  EXPECT_LT(r.seconds, 60) << r.output;
  EXPECT_NE(r.output.find("groupshard generate: launch timeout: rank 2 (host " + Hostname() +
                          ") did not check in within 3 s"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(LeftBehind(r.marker), 0) << "ranks left behind";
}

TEST(LaunchTimeoutCliTest, RankThatNeverStartsEndsTheJob) {
  const JobRun r = GenerateWithHook("GS_TEST_DELAY_START_RANK=1");
  EXPECT_NE(r.rc, 0) << r.output;
  EXPECT_NE(r.rc, 124) << "timeout had to end it: " << r.output;
  EXPECT_LT(r.seconds, 60) << r.output;
  // Ranks 0 and 2 wait inside MPI_Init; either may be first to say so.
  const bool named =
      r.output.find("rank 0 on host " + Hostname() +
                    " waited 3 s for the other 2 ranks to start") != std::string::npos ||
      r.output.find("rank 2 on host " + Hostname() +
                    " waited 3 s for the other 2 ranks to start") != std::string::npos;
  EXPECT_TRUE(named) << r.output;
  EXPECT_EQ(LeftBehind(r.marker), 0) << "ranks left behind";
}

}  // namespace
}  // namespace gs
