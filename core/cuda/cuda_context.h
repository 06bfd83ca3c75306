// What a rank needs to run its model on its GPU besides the model: the
// stream, the device communicator (NCCL when the group has several ranks, a
// LocalCommunicator on one) and the device's operations. No CUDA includes,
// so CPU code can call the factory behind GS_HAVE_CUDA.
#pragma once

#include <memory>

#include "kernels/device_ops.h"
#include "parallel/communicator.h"

namespace gs {

class CudaContext {
 public:
  virtual ~CudaContext() = default;
  // Takes pointers in the GPU's memory; enqueues on the ops' stream.
  virtual Communicator& comm() = 0;
  // DeviceOps on this GPU and stream; the context must outlive them.
  virtual std::unique_ptr<kernels::DeviceOps> MakeOps() = 0;
  virtual int device() const = 0;
};

// Collective over `host_comm`, which must be an MpiCommunicator when it has
// more than one rank: selects GPU local_rank (as NcclCommunicator does) and
// builds the NCCL communicator when it has more than one rank. Every rank
// must have passed CheckDeviceUsable(Device::kCuda, ...) before any calls this.
std::unique_ptr<CudaContext> OpenCudaContext(Communicator& host_comm);

}  // namespace gs
