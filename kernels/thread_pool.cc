#include "kernels/thread_pool.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "kernels/check.h"

namespace gs {

namespace {
// Workers spin this long after a job before sleeping: a decode step issues a
// job every few tens of microseconds, and a condition-variable wake-up costs
// about as much as the job itself.
constexpr auto kSpin = std::chrono::microseconds(300);
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  // The CPUs this process may run on (mpirun's binding, taskset, cgroups).
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
  }
  if (!cpus.empty() && static_cast<int>(cpus.size()) < n_threads_) {
    std::fprintf(stderr,
                 "warning: %d threads but this process may run on %zu CPU(s); under mpirun "
                 "give each rank its cores (--map-by slot:PE=%d) or --bind-to none\n",
                 n_threads_, cpus.size(), n_threads_);
  }
  for (int i = 1; i < n_threads_; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
    // Bound to exactly one CPU per thread: worker i stays on the i-th, and
    // the calling thread (left free, so threads it starts later are not
    // confined) settles on the first, which no worker spins on.
    if (static_cast<int>(cpus.size()) == n_threads_) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpus[i], &one);
      pthread_setaffinity_np(workers_.back().native_handle(), sizeof(one), &one);
    }
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunShare(int index) {
  const int64_t per = (job_n_ + n_threads_ - 1) / n_threads_;
  const int64_t chunk = (per + job_align_ - 1) / job_align_ * job_align_;
  const int64_t begin = std::min(job_n_, chunk * index);
  const int64_t end = std::min(job_n_, begin + chunk);
  if (begin < end) job_fn_(job_ctx_, begin, end, index);
}

void ThreadPool::RunErased(int64_t n, int64_t align, Erased fn, void* ctx) {
  CHECK_GE(align, 1);
  if (n_threads_ == 1 || n <= align) {
    if (n > 0) fn(ctx, 0, n, 0);
    return;
  }
  job_fn_ = fn;
  job_ctx_ = ctx;
  job_n_ = n;
  job_align_ = align;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    // Taking the lock orders us after a worker that is between its last check
    // and its wait, so the notification cannot be lost.
    { std::lock_guard<std::mutex> lock(mu_); }
    cv_.notify_all();
  }
  RunShare(0);
  // Yield now and then: when the machine is oversubscribed a worker may be
  // waiting for this very core.
  for (int spins = 1; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    _mm_pause();
    if (spins % 64 == 0) std::this_thread::yield();
  }
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      int spins = 0;
      while ((gen = generation_.load(std::memory_order_acquire)) == seen) {
        _mm_pause();
        if (++spins % 64 == 0) {
          if (std::chrono::steady_clock::now() > until) break;
          std::this_thread::yield();
        }
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        gen = generation_.load(std::memory_order_acquire);
      }
    }
    seen = gen;
    if (stop_.load()) return;
    RunShare(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace gs
