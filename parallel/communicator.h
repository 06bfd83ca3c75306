// The collectives that combine work across the ranks of one tensor-parallel
// group. Model code sees only this interface; MPI (CPU) and NCCL (GPU)
// implement it. All calls are collective: every rank of the group must make
// the same calls in the same order, from the thread that drives the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "parallel/collective_traffic.h"

namespace gs {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: data[i] = sum over ranks of data[i].
  virtual void AllReduceSum(float* data, size_t n) = 0;
  // recv holds size() * bytes: rank r's `send` lands at recv + r * bytes.
  virtual void AllGather(const void* send, size_t bytes, void* recv) = 0;
  // Rank r sends counts[r] floats; on `root`, recv receives them in rank
  // order (recv is ignored elsewhere).
  virtual void GatherV(const float* send, const std::vector<int>& counts, float* recv,
                       int root) = 0;
  virtual void Broadcast(void* data, size_t bytes, int root) = 0;
  // The same collective as Broadcast (every rank calls this one, not
  // Broadcast), for messages that may be long in coming: receivers wait
  // without keeping a core busy. Used for the step header, which an idle
  // server may not send for hours.
  virtual void BroadcastPatiently(void* data, size_t bytes, int root) {
    Broadcast(data, bytes, root);
  }
  virtual void Barrier() = 0;
};

// The trivial group of one rank: every collective is the identity.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void AllReduceSum(float*, size_t) override {}
  void AllGather(const void* send, size_t bytes, void* recv) override;
  void GatherV(const float* send, const std::vector<int>& counts, float* recv, int root) override;
  void Broadcast(void*, size_t, int) override {}
  void Barrier() override {}
};

// Wraps another communicator and meters it: calls per collective, the
// messages and bytes this rank sends in them (by the formulas of
// collective_traffic.h, i.e. MpiCommunicator's algorithms), and the wall
// time the calling thread spends inside them. Over MPI that time is what the
// collectives cost this rank, waiting for slower peers included. NCCL calls
// return once enqueued on the stream, so over a NcclCommunicator the time is
// only the enqueueing: the transfers run on the GPU and show in the step's
// time, not here.
class CountingCommunicator : public Communicator {
 public:
  explicit CountingCommunicator(Communicator& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  void AllReduceSum(float* data, size_t n) override;
  void AllGather(const void* send, size_t bytes, void* recv) override;
  void GatherV(const float* send, const std::vector<int>& counts, float* recv, int root) override;
  void Broadcast(void* data, size_t bytes, int root) override;
  void BroadcastPatiently(void* data, size_t bytes, int root) override;
  void Barrier() override;

  int64_t all_reduces() const { return all_reduces_; }
  int64_t all_reduce_floats() const { return all_reduce_floats_; }
  int64_t all_gathers() const { return all_gathers_; }
  int64_t gathers() const { return gathers_; }
  int64_t broadcasts() const { return broadcasts_; }
  int64_t barriers() const { return barriers_; }
  // What this rank sent in the collectives so far (barriers send no payload
  // and are not counted).
  const Traffic& sent() const { return sent_; }
  // Seconds this thread spent inside collectives, barriers included.
  double seconds() const { return seconds_; }
  void Reset();

 private:
  Communicator& inner_;
  int64_t all_reduces_ = 0, all_reduce_floats_ = 0, all_gathers_ = 0, gathers_ = 0, broadcasts_ = 0,
          barriers_ = 0;
  Traffic sent_;
  double seconds_ = 0;
};

}  // namespace gs
