// A small persistent pool of worker threads for the kernels of one rank: the
// caller splits a loop over [0, n) into one contiguous range per thread and
// takes part itself. Owned by the model (one per rank), passed down to the
// kernels; not thread-safe (one caller at a time).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace gs {

class ThreadPool {
 public:
  // `n_threads` counts the calling thread: 1 means no workers.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) for the thread_index-th of size()
  // contiguous ranges of [0, n), each range starting at a multiple of
  // `align` (except the first, which starts at 0); returns when all are done.
  // fn must not call Run again. No allocation.
  template <class Fn>
  void Run(int64_t n, int64_t align, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    auto call = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<F*>(ctx))(b, e, t); };
    RunErased(n, align, call, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Erased = void (*)(void* ctx, int64_t begin, int64_t end, int thread);
  void RunErased(int64_t n, int64_t align, Erased fn, void* ctx);
  void WorkerLoop(int index);
  void RunShare(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current job, published by bumping generation_.
  Erased job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_align_ = 1;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace gs
