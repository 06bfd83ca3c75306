#include "parallel/cuda/nccl_communicator.h"

#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"
#include "parallel/cuda/nccl_check.h"

namespace gs {

NcclCommunicator::NcclCommunicator(const World& world, MPI_Comm comm, cudaStream_t stream) {
  MPI_CHECK(MPI_Comm_rank(comm, &rank_));
  MPI_CHECK(MPI_Comm_size(comm, &size_));
  int n_devices = 0;
  CUDA_CHECK(cudaGetDeviceCount(&n_devices));
  CHECK(n_devices > 0) << "no GPU on this node";
  device_ = world.local_rank % n_devices;
  CUDA_CHECK(cudaSetDevice(device_));
  if (stream == nullptr) {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    own_stream_ = true;
  } else {
    stream_ = stream;
  }
  ncclUniqueId id;
  if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm));
  NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  CUDA_CHECK(cudaMalloc(&barrier_scratch_, sizeof(float)));
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) ncclCommDestroy(comm_);
  if (barrier_scratch_ != nullptr) cudaFree(barrier_scratch_);
  if (own_stream_) cudaStreamDestroy(stream_);
}

void NcclCommunicator::AllReduceSum(float* data, size_t n) {
  if (size_ == 1 || n == 0) return;
  NCCL_CHECK(ncclAllReduce(data, data, n, ncclFloat32, ncclSum, comm_, stream_));
}

void NcclCommunicator::AllGather(const void* send, size_t bytes, void* recv) {
  NCCL_CHECK(ncclAllGather(send, recv, bytes, ncclUint8, comm_, stream_));
}

void NcclCommunicator::GatherV(const float* send, const std::vector<int>& counts, float* recv,
                               int root) {
  CHECK_EQ(static_cast<int>(counts.size()), size_);
  if (rank_ != root) {
    NCCL_CHECK(ncclSend(send, counts[rank_], ncclFloat32, root, comm_, stream_));
    return;
  }
  size_t off = 0;
  NCCL_CHECK(ncclGroupStart());
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) {
      CUDA_CHECK(cudaMemcpyAsync(recv + off, send, sizeof(float) * counts[r],
                                 cudaMemcpyDeviceToDevice, stream_));
    } else if (counts[r] > 0) {
      NCCL_CHECK(ncclRecv(recv + off, counts[r], ncclFloat32, r, comm_, stream_));
    }
    off += counts[r];
  }
  NCCL_CHECK(ncclGroupEnd());
}

void NcclCommunicator::Broadcast(void* data, size_t bytes, int root) {
  if (size_ == 1) return;
  NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
}

void NcclCommunicator::Barrier() {
  if (size_ > 1) {
    NCCL_CHECK(
        ncclAllReduce(barrier_scratch_, barrier_scratch_, 1, ncclFloat32, ncclSum, comm_, stream_));
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

}  // namespace gs
