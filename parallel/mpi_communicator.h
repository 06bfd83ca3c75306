// MPI: the process runtime (init/finalize) and the CPU Communicator.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "parallel/communicator.h"
#include "parallel/launch_check.h"

#define MPI_CHECK(call)                                                                   \
  do {                                                                                    \
    int mpi_rc_ = (call);                                                                 \
    if (mpi_rc_ != MPI_SUCCESS) ::gs::internal::MpiFail(__FILE__, __LINE__, #call, mpi_rc_); \
  } while (0)

namespace gs {
namespace internal {
[[noreturn]] void MpiFail(const char* file, int line, const char* call, int rc);
}

// Open MPI's shared-memory transport (btl vader in Open MPI 4, sm in 5) sends
// a message of up to its eager limit (4 KiB by default) in one go, and a
// longer one by a rendezvous: a request, an answer, then a copy by the kernel.
// A batched step's all-reduces carry T x H floats (37 KB at 16 tokens of H =
// 576), where the rendezvous costs more than the copy: on two ranks of one
// host, 16-25 us an all-reduce at 16 tokens and 8-12 us at 4, against 5-7 and
// 2-3 us sent eagerly (collectives_bench). So the eager limit is raised to
// this many bytes, unless the user set it.
inline constexpr int kMpiEagerLimitBytes = 65536;
// The environment variables of that limit (Open MPI reads its parameters
// from OMPI_MCA_* at MPI_Init).
inline constexpr const char* kMpiEagerLimitVars[] = {"OMPI_MCA_btl_vader_eager_limit",
                                                     "OMPI_MCA_btl_sm_eager_limit"};
// Sets each of kMpiEagerLimitVars that is not set already to
// kMpiEagerLimitBytes. Called before MPI_Init (and before any thread starts)
// by MpiRuntime.
void SetMpiTransportDefaults();
// The eager limit, in bytes, that Open MPI's shared-memory transport took
// (read through MPI_T after MPI_Init), or -1 where that transport is not
// loaded (one rank alone) or the library does not say.
long long MpiSharedMemoryEagerLimit();

// RAII for MPI_Init_thread (MPI_THREAD_FUNNELED: only the step-loop thread
// calls MPI; gRPC threads never do) and MPI_Finalize. Sets MPI_ERRORS_RETURN
// on MPI_COMM_WORLD so that a failed call reaches MPI_CHECK.
class MpiRuntime {
 public:
  // Without `who`: no launch check. With it, MPI_Init runs under a
  // LaunchCheck of `launch_timeout_s` (<= 0: wait forever) and the ranks
  // learn each other's hosts before the constructor returns.
  MpiRuntime(int* argc, char*** argv);
  MpiRuntime(int* argc, char*** argv, const std::string& who, double launch_timeout_s);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  // Ends every rank of the job with `code` after printing `message` (used when
  // one rank hits an error the others cannot see).
  [[noreturn]] static void Abort(const std::string& message, int code);
  static bool Initialized();
  // Collective, once this rank is ready: LaunchCheck::CheckIn (ends the job
  // when a rank does not check in in time). No-op without a launch check.
  void CheckIn();

 private:
  // SetMpiTransportDefaults, then the LaunchCheck (whose watchdog thread
  // must not start before the environment is changed).
  static std::unique_ptr<LaunchCheck> StartLaunchCheck(const std::string& who, double timeout_s);
  std::unique_ptr<LaunchCheck> launch_;
};

// Where this process sits: its rank in the tensor-parallel group and its rank
// on its node (for picking a GPU).
struct World {
  int tp_rank = 0;
  int tp_size = 1;
  int local_rank = 0;
  int local_size = 1;
  static World FromMpi(MPI_Comm comm = MPI_COMM_WORLD);
};

class MpiCommunicator : public Communicator {
 public:
  // Sets MPI_ERRORS_RETURN on `comm`: a failed collective is reported by
  // MPI_CHECK (call, MPI's reason, a hint) and then ends the job.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // Adds the ranks' values in rank order, whatever n: a token's result does
  // not depend on how many tokens share the step (batching and prefix-cache
  // hits give the same bits), and every rank gets the same bits. Two ranks:
  // MPI_Allreduce (a + b is the same both ways); more: a reduce-scatter and
  // an all-gather (collective_traffic.h gives what each rank sends).
  void AllReduceSum(float* data, size_t n) override;
  void AllGather(const void* send, size_t bytes, void* recv) override;
  void GatherV(const float* send, const std::vector<int>& counts, float* recv, int root) override;
  void Broadcast(void* data, size_t bytes, int root) override;
  // MPI_Ibcast, then receivers poll with a growing sleep (up to 1 ms) instead
  // of MPI's busy wait.
  void BroadcastPatiently(void* data, size_t bytes, int root) override;
  void Barrier() override;
  MPI_Comm comm() const { return comm_; }

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  std::vector<int> displs_;
  // AllReduceSum with 3 or more ranks: each rank's chunk (its counts and
  // offsets in the vector), and this rank's chunk of every rank's vector.
  std::vector<int> chunk_counts_, chunk_displs_, recv_counts_, recv_displs_;
  std::vector<float> gathered_;
};

}  // namespace gs
