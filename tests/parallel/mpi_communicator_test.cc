// MpiCommunicator's failures: MPI hands the error back (MPI_ERRORS_RETURN)
// so MPI_CHECK names the call, gives MPI's reason and the hint, then ends the
// job. One process, MPI as a singleton, in a death-test child.
#include "parallel/mpi_communicator.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace gs
