// main() for the multi-rank test binaries (*_mpitest.cc): MPI up first, only
// rank 0 prints, and every rank exits failed if any rank failed.
#include <mpi.h>

#include <gtest/gtest.h>

#include "parallel/mpi_communicator.h"

int main(int argc, char** argv) {
  gs::MpiRuntime mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    delete ::testing::UnitTest::GetInstance()->listeners().Release(
        ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
