// Measures how fast this process can stream memory: the roofline that
// decoding (which reads every weight once per step) is held against.
#pragma once

#include <cstdint>

#include "kernels/thread_pool.h"

namespace gs {

// A buffer of `bytes`, written once by the threads of `pool` (null: this
// thread) on the same kind of memory as the weights; each Pass() sums it with
// those threads and returns the seconds one pass took. Callers running
// several processes at once start their passes together (a barrier) and
// combine bytes / slowest time.
class BandwidthProbe {
 public:
  BandwidthProbe(int64_t bytes, ThreadPool* pool);
  ~BandwidthProbe();
  BandwidthProbe(const BandwidthProbe&) = delete;
  BandwidthProbe& operator=(const BandwidthProbe&) = delete;

  double Pass();
  int64_t bytes() const { return n_ * static_cast<int64_t>(sizeof(float)); }

 private:
  int64_t n_;  // floats
  float* buf_;
  ThreadPool* pool_;
};

}  // namespace gs
