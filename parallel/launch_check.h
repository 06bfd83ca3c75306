// Bounds the launch of a multi-rank job: every rank must start (return from
// MPI_Init) and then check in within a timeout, or the job ends with a
// message naming the ranks, and their hosts, that did not.
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gs {

// Exit code of a job ended by the launch check.
constexpr int kLaunchTimeoutExit = 4;

// Test hooks, read from the environment (for tests only):
//   GS_TEST_DELAY_START_RANK=R   rank R sleeps (up to 10 min) before MPI_Init,
//                                as a rank that never starts
//   GS_TEST_SKIP_CHECKIN_RANK=R  rank R never checks in (sleeps up to 10 min)
class LaunchCheck {
 public:
  // `who` prefixes every message ("groupshard serve"). With timeout_s > 0,
  // arms a watchdog thread; call before MPI_Init. While armed, the watchdog
  // ends this process (_exit(kLaunchTimeoutExit), which makes mpirun end the
  // job) timeout_s after construction, printing what this rank waited for.
  LaunchCheck(std::string who, double timeout_s);
  ~LaunchCheck();
  LaunchCheck(const LaunchCheck&) = delete;
  LaunchCheck& operator=(const LaunchCheck&) = delete;

  // Collective, after MPI_Init: every rank learns every rank's host
  // (MPI_Get_processor_name), still under the watchdog; then the watchdog is
  // disarmed (loading the model may take minutes and is not counted).
  void Started(MPI_Comm comm);

  // Collective, once this rank is ready (model loaded): waits up to the
  // timeout for every rank to check in, polling. Past it, prints the ranks
  // and hosts that did not and ends the job with MPI_Abort. Main thread only.
  void CheckIn();

 private:
  void Watch();
  // What the watchdog prints when it fires, as the rank's situation changes.
  void SetWaitingFor(std::string what);

  std::string who_;
  double timeout_s_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = -1;
  int size_ = 0;
  std::vector<std::string> hosts_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::string waiting_for_;
  std::thread watchdog_;
};

}  // namespace gs
