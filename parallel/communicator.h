// The collectives that combine work across the ranks of one tensor-parallel
// group. Model code sees only this interface; MPI (CPU) and NCCL (GPU)
// implement it. All calls are collective: every rank of the group must make
// the same calls in the same order, from the thread that drives the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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

// Wraps another communicator and counts the calls (used to show the number of
// all-reduces per layer).
class CountingCommunicator : public Communicator {
 public:
  explicit CountingCommunicator(Communicator& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  void AllReduceSum(float* data, size_t n) override {
    ++all_reduces_;
    all_reduce_floats_ += n;
    inner_.AllReduceSum(data, n);
  }
  void AllGather(const void* send, size_t bytes, void* recv) override {
    ++all_gathers_;
    inner_.AllGather(send, bytes, recv);
  }
  void GatherV(const float* send, const std::vector<int>& counts, float* recv, int root) override {
    ++gathers_;
    inner_.GatherV(send, counts, recv, root);
  }
  void Broadcast(void* data, size_t bytes, int root) override {
    ++broadcasts_;
    inner_.Broadcast(data, bytes, root);
  }
  void BroadcastPatiently(void* data, size_t bytes, int root) override {
    ++broadcasts_;
    inner_.BroadcastPatiently(data, bytes, root);
  }
  void Barrier() override { inner_.Barrier(); }

  int64_t all_reduces() const { return all_reduces_; }
  int64_t all_reduce_floats() const { return all_reduce_floats_; }
  int64_t all_gathers() const { return all_gathers_; }
  int64_t gathers() const { return gathers_; }
  int64_t broadcasts() const { return broadcasts_; }
  void Reset() { all_reduces_ = all_reduce_floats_ = all_gathers_ = gathers_ = broadcasts_ = 0; }

 private:
  Communicator& inner_;
  int64_t all_reduces_ = 0, all_reduce_floats_ = 0, all_gathers_ = 0, gathers_ = 0,
          broadcasts_ = 0;
};

}  // namespace gs
