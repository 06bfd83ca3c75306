#include "parallel/launch_check.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace gs {

namespace {

using Clock = std::chrono::steady_clock;

// Any tag the model's own traffic does not use; check-in messages are
// matched by it alone.
constexpr int kCheckInTag = 32001;

// The first of `names` set in the environment, as an int; else -1.
int EnvInt(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return std::atoi(v);
  }
  return -1;
}

std::string ThisHost() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

// The test hooks: a rank that sleeps where it should work, bounded so that
// a test that fails cannot leave it behind for long.
bool HookNames(const char* var, int rank) {
  const char* v = std::getenv(var);
  return v != nullptr && *v != '\0' && rank >= 0 && std::atoi(v) == rank;
}
void SleepAsHung() {
  for (int i = 0; i < 600; ++i) std::this_thread::sleep_for(std::chrono::seconds(1));
}

std::string Seconds(double s) {
  std::ostringstream o;
  o << s << " s";
  return o.str();
}

}  // namespace

LaunchCheck::LaunchCheck(std::string who, double timeout_s)
    : who_(std::move(who)), timeout_s_(timeout_s) {
  // Before MPI_Init only the launcher's environment says who we are.
  const int rank = EnvInt({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"});
  const int size = EnvInt({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"});
  if (HookNames("GS_TEST_DELAY_START_RANK", rank)) SleepAsHung();
  if (timeout_s_ <= 0) return;
  const std::string r = rank >= 0 ? std::to_string(rank) : "?";
  const std::string others = size > 0 ? "the other " + std::to_string(size - 1) : "the other";
  // Inside MPI_Init a rank knows nothing of the others: it can only name
  // itself. The rank that did not start is one of the others (mpirun's
  // report, if any, names its host).
  waiting_for_ = "rank " + r + " on host " + ThisHost() + " waited " + Seconds(timeout_s_) +
                 " for " + others +
                 " ranks to start (it is still in MPI_Init, which cannot "
                 "tell which rank is missing); ending the job";
  watchdog_ = std::thread([this] { Watch(); });
}

LaunchCheck::~LaunchCheck() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    disarmed_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void LaunchCheck::Watch() {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_s_));
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_until(lock, deadline, [this] { return disarmed_; })) return;
  // The main thread is blocked inside MPI and cannot be asked to abort; a
  // rank that exits non-zero makes mpirun end the whole job.
  std::fprintf(stderr, "%s: launch timeout: %s\n", who_.c_str(), waiting_for_.c_str());
  std::fflush(stderr);
  _exit(kLaunchTimeoutExit);
}

void LaunchCheck::SetWaitingFor(std::string what) {
  std::lock_guard<std::mutex> lock(mu_);
  waiting_for_ = std::move(what);
}

void LaunchCheck::Started(MPI_Comm comm) {
  comm_ = comm;
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  char mine[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  MPI_Get_processor_name(mine, &len);
  SetWaitingFor("rank " + std::to_string(rank_) + " on host " + mine + " waited " +
                Seconds(timeout_s_) + " for the other " + std::to_string(size_ - 1) +
                " ranks to exchange host names; ending the job");
  std::vector<char> all(static_cast<size_t>(MPI_MAX_PROCESSOR_NAME) * size_);
  MPI_Allgather(mine, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME,
                MPI_CHAR, comm_);
  hosts_.clear();
  for (int r = 0; r < size_; ++r) {
    const char* p = all.data() + static_cast<size_t>(r) * MPI_MAX_PROCESSOR_NAME;
    hosts_.emplace_back(p, strnlen(p, MPI_MAX_PROCESSOR_NAME));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    disarmed_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void LaunchCheck::CheckIn() {
  if (HookNames("GS_TEST_SKIP_CHECKIN_RANK", rank_)) SleepAsHung();
  if (size_ <= 1) return;
  // Point to point rather than a barrier: each rank learns exactly which
  // ranks have checked in.
  std::vector<int> from(size_, -1);
  std::vector<MPI_Request> recvs(size_, MPI_REQUEST_NULL);
  std::vector<MPI_Request> sends;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    MPI_Irecv(&from[r], 1, MPI_INT, r, kCheckInTag, comm_, &recvs[r]);
    sends.emplace_back();
    MPI_Isend(&rank_, 1, MPI_INT, r, kCheckInTag, comm_, &sends.back());
  }
  const auto start = Clock::now();
  auto nap = std::chrono::microseconds(100);
  for (;;) {
    int done = 0;
    MPI_Testall(size_, recvs.data(), &done, MPI_STATUSES_IGNORE);
    if (done) break;
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (timeout_s_ > 0 && waited >= timeout_s_) {
      std::string missing;
      int n_missing = 0;
      for (int r = 0; r < size_; ++r) {
        int arrived = r == rank_ ? 1 : 0;
        if (!arrived) MPI_Test(&recvs[r], &arrived, MPI_STATUS_IGNORE);
        if (arrived) continue;
        missing += (missing.empty() ? "" : ", ") + std::to_string(r) + " (host " + hosts_[r] + ")";
        ++n_missing;
      }
      std::fprintf(stderr,
                   "%s: launch timeout: rank%s %s did not check in within %s of rank %d (host "
                   "%s) being ready; ending the job\n",
                   who_.c_str(), n_missing > 1 ? "s" : "", missing.c_str(),
                   Seconds(timeout_s_).c_str(), rank_, hosts_[rank_].c_str());
      std::fflush(stderr);
      MPI_Abort(comm_, kLaunchTimeoutExit);
      _exit(kLaunchTimeoutExit);
    }
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(10000));
  }
  MPI_Waitall(static_cast<int>(sends.size()), sends.data(), MPI_STATUSES_IGNORE);
}

}  // namespace gs
