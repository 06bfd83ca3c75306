// The GPU Communicator: collectives over NCCL, one GPU per rank, enqueued on
// the rank's compute stream so they order with the kernels around them.
//
// Contract, different from the CPU communicators: every data pointer passed
// to AllReduceSum / AllGather / GatherV / Broadcast is a DEVICE pointer on
// this rank's GPU, and the calls are asynchronous: they return once enqueued
// on stream(); synchronize the stream before reading results on the host.
// Barrier() is the exception: it returns after every rank reached it.
// Host-side control traffic (the step plan) stays on an MpiCommunicator.
#pragma once

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include "parallel/communicator.h"
#include "parallel/mpi_communicator.h"

namespace gs {

class NcclCommunicator : public Communicator {
 public:
  // Collective over `comm`: selects local GPU world.local_rank % device count,
  // creates a stream on it (unless `stream` is given, which must belong to
  // that device), and builds the NCCL communicator from a unique id that rank
  // 0 broadcasts over MPI.
  NcclCommunicator(const World& world, MPI_Comm comm = MPI_COMM_WORLD,
                   cudaStream_t stream = nullptr);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void AllReduceSum(float* data, size_t n) override;
  void AllGather(const void* send, size_t bytes, void* recv) override;
  // Grouped point-to-point sends to `root`; root copies its own part locally.
  void GatherV(const float* send, const std::vector<int>& counts, float* recv, int root) override;
  void Broadcast(void* data, size_t bytes, int root) override;
  void Barrier() override;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }

 private:
  int rank_ = 0, size_ = 1, device_ = 0;
  bool own_stream_ = false;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  float* barrier_scratch_ = nullptr;  // one device float for Barrier
};

}  // namespace gs
