// MpiCommunicator's failures: MPI hands the error back (MPI_ERRORS_RETURN)
// so MPI_CHECK names the call, gives MPI's reason and the hint, then ends the
// job. One process, MPI as a singleton, in a death-test child.
#include "parallel/mpi_communicator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace gs {
namespace {

// MPI up, then a gather to a root that does not exist.
void GatherToNoSuchRank() {
  int argc = 0;
  char** argv = nullptr;
  MpiRuntime mpi(&argc, &argv);
  MpiCommunicator comm;
  float send = 1.0f;
  float recv = 0.0f;
  const std::vector<int> counts(comm.size(), 1);
  comm.GatherV(&send, counts, &recv, /*root=*/comm.size());
}

// With MPI's default handler the job aborts inside MPI_Gatherv, and neither
// the call nor the hint is printed.
TEST(MpiCommunicatorDeathTest, FailedCollectiveReportsCallReasonAndHint) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(GatherToNoSuchRank(), ::testing::ExitedWithCode(3),
              "MPI_Gatherv.* failed: .*\\(a peer rank may have died\\)");
}

// Each eager-limit variable left unset is set to kMpiEagerLimitBytes; one the
// user set keeps the user's value.
TEST(MpiTransportDefaultsTest, SetsOnlyWhatTheUserLeftUnset) {
  std::vector<std::pair<std::string, std::string>> saved;
  for (const char* var : kMpiEagerLimitVars) {
    if (const char* v = std::getenv(var)) saved.emplace_back(var, v);
    unsetenv(var);
  }
  setenv(kMpiEagerLimitVars[0], "8192", 1);
  SetMpiTransportDefaults();
  EXPECT_STREQ(std::getenv(kMpiEagerLimitVars[0]), "8192");
  ASSERT_NE(std::getenv(kMpiEagerLimitVars[1]), nullptr);
  EXPECT_EQ(std::string(std::getenv(kMpiEagerLimitVars[1])), std::to_string(kMpiEagerLimitBytes));
  unsetenv(kMpiEagerLimitVars[0]);
  SetMpiTransportDefaults();
  ASSERT_NE(std::getenv(kMpiEagerLimitVars[0]), nullptr);
  EXPECT_EQ(std::string(std::getenv(kMpiEagerLimitVars[0])), std::to_string(kMpiEagerLimitBytes));
  for (const char* var : kMpiEagerLimitVars) unsetenv(var);
  for (const auto& [var, value] : saved) setenv(var.c_str(), value.c_str(), 1);
}

}  // namespace
}  // namespace gs
