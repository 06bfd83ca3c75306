// The all-reduce of a step's activations, T tokens of H floats, timed on its
// own: MpiCommunicator::AllReduceSum as the layers call it. Run under mpirun:
//   mpirun -np 2 --bind-to core build/bin/collectives_bench [H] [--check]
// prints, for T = 1, 4, 16, 64, the median over five runs of the mean time
// of one all-reduce, with Open MPI's eager limit as the job sees it
// (MpiRuntime raises it to kMpiEagerLimitBytes unless the environment sets
// OMPI_MCA_btl_vader_eager_limit; setting it to 4096, Open MPI's own
// default, gives the figures without the change). --check also compares
// every rank's result with the rank-order sum.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "parallel/mpi_communicator.h"

int main(int argc, char** argv) {
  gs::MpiRuntime mpi(&argc, &argv);
  gs::MpiCommunicator comm;
  int hidden = 576;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check") == 0) {
      check = true;
    } else {
      hidden = std::atoi(argv[i]);
    }
  }
  if (hidden <= 0) {
    if (comm.rank() == 0) std::fprintf(stderr, "collectives_bench: H must be positive\n");
    return 2;
  }
  const long long eager = gs::MpiSharedMemoryEagerLimit();
  if (comm.rank() == 0) {
    std::printf("all-reduce of T x %d floats, %d ranks, shared-memory eager limit %lld bytes\n",
                hidden, comm.size(), eager);
  }
  using Clock = std::chrono::steady_clock;
  int failures = 0;
  for (int tokens : {1, 4, 16, 64}) {
    const size_t n = static_cast<size_t>(tokens) * hidden;
    std::vector<float> x(n);
    // Fewer calls for the longer vectors: each run stays near 0.1 s.
    const int calls = std::max(50, static_cast<int>(2000 / tokens));
    std::vector<double> runs;
    for (int run = 0; run < 5; ++run) {
      for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((i % 7) + comm.rank());
      comm.Barrier();
      const auto t0 = Clock::now();
      for (int c = 0; c < calls; ++c) comm.AllReduceSum(x.data(), n);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      double slowest = s;
      MPI_Allreduce(&s, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      runs.push_back(1e6 * slowest / calls);
    }
    if (check) {
      // One more call from fresh values: element i is sum_r ((i % 7) + r).
      for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((i % 7) + comm.rank());
      comm.AllReduceSum(x.data(), n);
      const int P = comm.size();
      for (size_t i = 0; i < n; ++i) {
        const float want = static_cast<float>(P * static_cast<int>(i % 7) + P * (P - 1) / 2);
        if (x[i] != want) {
          ++failures;
          break;
        }
      }
    }
    std::sort(runs.begin(), runs.end());
    if (comm.rank() == 0) {
      std::printf("  T %3d: %8zu bytes, %7.2f us (runs %.2f .. %.2f)\n", tokens, n * sizeof(float),
                  runs[runs.size() / 2], runs.front(), runs.back());
    }
  }
  int any = 0;
  MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (check && comm.rank() == 0) std::printf("check: %s\n", any ? "FAILED" : "ok");
  return any ? 1 : 0;
}
