#include "kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace gs {
namespace {

TEST(ThreadPoolTest, CoversEveryIndexOnceInAlignedRanges) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 15, 16, 17, 100, 1000}) {
      for (int64_t align : {1, 16}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<int> calls{0};
        pool.Run(n, align, [&](int64_t b, int64_t e, int t) {
          EXPECT_LT(t, pool.size());
          if (b != 0) {
            EXPECT_EQ(b % align, 0);
          }
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
          calls.fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << n << " " << i;
        EXPECT_LE(calls.load(), threads);
      }
    }
  }
}

TEST(ThreadPoolTest, ManyShortJobsAndSleepingWorkers) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 20000; ++rep) {
    pool.Run(64, 1, [&](int64_t b, int64_t e, int) { sum.fetch_add(e - b); });
  }
  EXPECT_EQ(sum.load(), 20000 * 64);
  // Let the workers fall asleep, then wake them.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  pool.Run(64, 1, [&](int64_t b, int64_t e, int) { sum.fetch_add(e - b); });
  EXPECT_EQ(sum.load(), 20001 * 64);
}

}  // namespace
}  // namespace gs
