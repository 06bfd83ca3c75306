#include "parallel/communicator.h"

#include <chrono>
#include <cstring>

namespace gs {

void LocalCommunicator::AllGather(const void* send, size_t bytes, void* recv) {
  if (send != recv) std::memmove(recv, send, bytes);
}

void LocalCommunicator::GatherV(const float* send, const std::vector<int>& counts, float* recv,
                                int root) {
  if (send != recv) std::memmove(recv, send, sizeof(float) * counts.at(0));
}

namespace {

// Adds the wall time of its scope to `seconds`.
class ScopedSeconds {
 public:
  explicit ScopedSeconds(double* seconds)
      : seconds_(seconds), t0_(std::chrono::steady_clock::now()) {}
  ~ScopedSeconds() {
    *seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  double* seconds_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace

void CountingCommunicator::AllReduceSum(float* data, size_t n) {
  ++all_reduces_;
  all_reduce_floats_ += n;
  sent_ += AllReduceSumTraffic(static_cast<int64_t>(n), size(), rank());
  ScopedSeconds t(&seconds_);
  inner_.AllReduceSum(data, n);
}

void CountingCommunicator::AllGather(const void* send, size_t bytes, void* recv) {
  ++all_gathers_;
  sent_ += AllGatherTraffic(static_cast<int64_t>(bytes), size());
  ScopedSeconds t(&seconds_);
  inner_.AllGather(send, bytes, recv);
}

void CountingCommunicator::GatherV(const float* send, const std::vector<int>& counts, float* recv,
                                   int root) {
  ++gathers_;
  sent_ += GatherVTraffic(counts.at(rank()), rank(), root);
  ScopedSeconds t(&seconds_);
  inner_.GatherV(send, counts, recv, root);
}

void CountingCommunicator::Broadcast(void* data, size_t bytes, int root) {
  ++broadcasts_;
  sent_ += BroadcastTraffic(static_cast<int64_t>(bytes), size(), rank(), root);
  ScopedSeconds t(&seconds_);
  inner_.Broadcast(data, bytes, root);
}

void CountingCommunicator::BroadcastPatiently(void* data, size_t bytes, int root) {
  ++broadcasts_;
  sent_ += BroadcastTraffic(static_cast<int64_t>(bytes), size(), rank(), root);
  ScopedSeconds t(&seconds_);
  inner_.BroadcastPatiently(data, bytes, root);
}

void CountingCommunicator::Barrier() {
  ++barriers_;
  ScopedSeconds t(&seconds_);
  inner_.Barrier();
}

void CountingCommunicator::Reset() {
  all_reduces_ = all_reduce_floats_ = all_gathers_ = gathers_ = broadcasts_ = barriers_ = 0;
  sent_ = {};
  seconds_ = 0;
}

}  // namespace gs
