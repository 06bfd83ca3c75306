#include "core/cuda/cuda_context.h"

#include <cuda_runtime.h>

#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "parallel/mpi_communicator.h"
#ifdef GS_HAVE_NCCL
#include "parallel/cuda/nccl_communicator.h"
#endif

namespace gs {
namespace {

class Context : public CudaContext {
 public:
  // Takes the stream (destroyed here when `own_stream`) and the device communicator.
  Context(int device, cudaStream_t stream, bool own_stream, std::unique_ptr<Communicator> comm)
      : device_(device), stream_(stream), own_stream_(own_stream), comm_(std::move(comm)) {}
  ~Context() override {
    comm_.reset();
    if (own_stream_) cudaStreamDestroy(stream_);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Communicator& comm() override { return *comm_; }
  std::unique_ptr<kernels::DeviceOps> MakeOps() override {
    return std::make_unique<kernels::cuda::CudaOps>(stream_);
  }
  int device() const override { return device_; }

 private:
  int device_;
  cudaStream_t stream_;
  bool own_stream_;
  std::unique_ptr<Communicator> comm_;
};

}  // namespace

std::unique_ptr<CudaContext> OpenCudaContext(Communicator& host_comm) {
  if (host_comm.size() == 1) {
    // One rank: no collectives to make, so no NCCL.
    const int device = 0;
    CUDA_CHECK(cudaSetDevice(device));
    cudaStream_t stream = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    return std::make_unique<Context>(device, stream, /*own_stream=*/true,
                                     std::make_unique<LocalCommunicator>());
  }
#ifdef GS_HAVE_NCCL
  auto* mpi = dynamic_cast<MpiCommunicator*>(&host_comm);
  CHECK(mpi != nullptr) << "--device cuda across ranks needs an MpiCommunicator";
  auto nccl = std::make_unique<NcclCommunicator>(World::FromMpi(mpi->comm()), mpi->comm());
  const int device = nccl->device();
  cudaStream_t stream = nccl->stream();  // owned by the communicator
  return std::make_unique<Context>(device, stream, /*own_stream=*/false, std::move(nccl));
#else
  CHECK(false) << "CheckDeviceUsable lets no multi-rank CUDA job through without NCCL";
  return nullptr;
#endif
}

}  // namespace gs
