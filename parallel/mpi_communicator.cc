#include "parallel/mpi_communicator.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

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

void SetMpiTransportDefaults() {
  const std::string bytes = std::to_string(kMpiEagerLimitBytes);
  for (const char* var : kMpiEagerLimitVars) setenv(var, bytes.c_str(), /*overwrite=*/0);
}

long long MpiSharedMemoryEagerLimit() {
  int provided = 0;
  if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return -1;
  long long value = -1;
  for (const char* name : {"btl_vader_eager_limit", "btl_sm_eager_limit"}) {
    int index = 0;
    if (MPI_T_cvar_get_index(name, &index) != MPI_SUCCESS) continue;
    char name_out[256];
    char desc[1024];
    int name_len = sizeof(name_out), desc_len = sizeof(desc), verbosity = 0, bind = 0, scope = 0;
    MPI_Datatype type;
    MPI_T_enum enumtype;
    if (MPI_T_cvar_get_info(index, name_out, &name_len, &verbosity, &type, &enumtype, desc,
                            &desc_len, &bind, &scope) != MPI_SUCCESS) {
      continue;
    }
    int size = 0;
    MPI_Type_size(type, &size);
    MPI_T_cvar_handle handle;
    int count = 0;
    if (MPI_T_cvar_handle_alloc(index, nullptr, &handle, &count) != MPI_SUCCESS) continue;
    unsigned char raw[16] = {};
    if (count == 1 && (size == 4 || size == 8) && MPI_T_cvar_read(handle, raw) == MPI_SUCCESS) {
      if (size == 4) {
        uint32_t v;
        std::memcpy(&v, raw, 4);
        value = v;
      } else {
        uint64_t v;
        std::memcpy(&v, raw, 8);
        value = static_cast<long long>(v);
      }
    }
    MPI_T_cvar_handle_free(&handle);
    if (value >= 0) break;
  }
  MPI_T_finalize();
  return value;
}

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

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  SetMpiTransportDefaults();
  InitMpi(argc, argv);
}

std::unique_ptr<LaunchCheck> MpiRuntime::StartLaunchCheck(const std::string& who,
                                                          double timeout_s) {
  SetMpiTransportDefaults();
  return std::make_unique<LaunchCheck>(who, timeout_s);
}

MpiRuntime::MpiRuntime(int* argc, char*** argv, const std::string& who,
                       double launch_timeout_s)
    : launch_(StartLaunchCheck(who, launch_timeout_s)) {
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
  chunk_counts_.resize(size_);
  chunk_displs_.resize(size_);
  recv_counts_.resize(size_);
  recv_displs_.resize(size_);
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
  // to flip a near tie in greedy decoding). So: a reduce-scatter as an
  // all-to-all (rank r receives chunk r of every rank's vector), each rank
  // adds its chunk in rank order, and an all-gather of the sums. Element i is
  // added in rank order whatever n, and each rank sends 2(P - 1)/P of the
  // vector (collective_traffic.h).
  const int P = size_;
  int off = 0;
  for (int q = 0; q < P; ++q) {
    chunk_counts_[q] = static_cast<int>(AllReduceChunk(static_cast<int64_t>(n), P, q));
    chunk_displs_[q] = off;
    off += chunk_counts_[q];
  }
  const int mine = chunk_counts_[rank_];
  for (int q = 0; q < P; ++q) {
    recv_counts_[q] = mine;
    recv_displs_[q] = q * mine;
  }
  gathered_.resize(static_cast<size_t>(mine) * P);  // [P][mine]: chunk rank_ of every rank
  MPI_CHECK(MPI_Alltoallv(data, chunk_counts_.data(), chunk_displs_.data(), MPI_FLOAT,
                          gathered_.data(), recv_counts_.data(), recv_displs_.data(), MPI_FLOAT,
                          comm_));
  float* sum = data + chunk_displs_[rank_];
  const float* g = gathered_.data();
  for (int i = 0; i < mine; ++i) sum[i] = g[i];
  for (int q = 1; q < P; ++q) {
    const float* gq = g + static_cast<size_t>(q) * mine;
    for (int i = 0; i < mine; ++i) sum[i] += gq[i];
  }
  MPI_CHECK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, chunk_counts_.data(),
                           chunk_displs_.data(), MPI_FLOAT, comm_));
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
