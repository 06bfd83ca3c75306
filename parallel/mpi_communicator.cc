#include "parallel/mpi_communicator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <cstdlib>
#include <iostream>

#include "kernels/check.h"

namespace gs {
namespace internal {
void MpiFail(const char* file, int line, const char* call, int rc) {
  char err[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, err, &len);
  std::cerr << file << ":" << line << ": " << call << " failed: " << std::string(err, len)
            << " (a peer rank may have died)" << std::endl;
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::abort();
}
}  // namespace internal

namespace {
void InitMpi(int* argc, char*** argv) {
  int provided = 0;
  MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  CHECK(provided >= MPI_THREAD_FUNNELED) << "MPI does not provide MPI_THREAD_FUNNELED";
  // MPI's default handler (MPI_ERRORS_ARE_FATAL) aborts inside the failing
  // call, before MPI_CHECK can say where and why; errors must come back.
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
}
}  // namespace

MpiRuntime::MpiRuntime(int* argc, char*** argv) { InitMpi(argc, argv); }

MpiRuntime::MpiRuntime(int* argc, char*** argv, const std::string& who,
                       double launch_timeout_s)
    : launch_(std::make_unique<LaunchCheck>(who, launch_timeout_s)) {
  InitMpi(argc, argv);
  launch_->Started(MPI_COMM_WORLD);
}

void MpiRuntime::CheckIn() {
  if (launch_) launch_->CheckIn();
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool MpiRuntime::Initialized() {
  int init = 0;
  MPI_Initialized(&init);
  return init != 0;
}

void MpiRuntime::Abort(const std::string& message, int code) {
  std::cerr << message << std::endl;
  std::fflush(stderr);
  if (Initialized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

World World::FromMpi(MPI_Comm comm) {
  World w;
  MPI_CHECK(MPI_Comm_rank(comm, &w.tp_rank));
  MPI_CHECK(MPI_Comm_size(comm, &w.tp_size));
  MPI_Comm node;
  MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, w.tp_rank, MPI_INFO_NULL, &node));
  MPI_CHECK(MPI_Comm_rank(node, &w.local_rank));
  MPI_CHECK(MPI_Comm_size(node, &w.local_size));
  MPI_Comm_free(&node);
  return w;
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  // As in MpiRuntime: a communicator made elsewhere may still abort in place.
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
  displs_.resize(size_);
}

void MpiCommunicator::AllReduceSum(float* data, size_t n) {
  if (size_ == 1) return;
  if (size_ == 2) {
    // One addition per element: either order gives the same bits.
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, comm_));
    return;
  }
  // Open MPI chooses its all-reduce algorithm by message size, and the
  // algorithms add three or more ranks' values in different orders: the same
  // token then came out with other low bits in a step of another size (enough
  // to flip a near tie in greedy decoding). Gather and add in rank order.
  gathered_.resize(n * static_cast<size_t>(size_));
  MPI_CHECK(MPI_Allgather(data, static_cast<int>(n), MPI_FLOAT, gathered_.data(),
                          static_cast<int>(n), MPI_FLOAT, comm_));
  const float* g = gathered_.data();
  for (size_t i = 0; i < n; ++i) data[i] = g[i];
  for (int r = 1; r < size_; ++r) {
    const float* gr = g + static_cast<size_t>(r) * n;
    for (size_t i = 0; i < n; ++i) data[i] += gr[i];
  }
}

void MpiCommunicator::AllGather(const void* send, size_t bytes, void* recv) {
  MPI_CHECK(MPI_Allgather(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes),
                          MPI_BYTE, comm_));
}

void MpiCommunicator::GatherV(const float* send, const std::vector<int>& counts, float* recv,
                              int root) {
  CHECK_EQ(static_cast<int>(counts.size()), size_);
  int off = 0;
  for (int r = 0; r < size_; ++r) {
    displs_[r] = off;
    off += counts[r];
  }
  MPI_CHECK(MPI_Gatherv(send, counts[rank_], MPI_FLOAT, recv, counts.data(), displs_.data(),
                        MPI_FLOAT, root, comm_));
}

void MpiCommunicator::Broadcast(void* data, size_t bytes, int root) {
  if (size_ == 1) return;
  MPI_CHECK(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_));
}

void MpiCommunicator::BroadcastPatiently(void* data, size_t bytes, int root) {
  if (size_ == 1) return;
  MPI_Request req;
  MPI_CHECK(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_, &req));
  if (rank_ == root) {
    MPI_CHECK(MPI_Wait(&req, MPI_STATUS_IGNORE));
    return;
  }
  // Spin briefly (steps follow each other closely while busy), then back off.
  int done = 0;
  for (int spin = 0; spin < 2000 && !done; ++spin) MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
  auto nap = std::chrono::microseconds(20);
  while (!done) {
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(1000));
    MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
  }
}

void MpiCommunicator::Barrier() { MPI_CHECK(MPI_Barrier(comm_)); }

}  // namespace gs
