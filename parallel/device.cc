#include "parallel/device.h"

#ifdef GS_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace gs {

const char* DeviceName(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

StatusOr<Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  return Status::InvalidArgument("--device: '" + name + "' is not one of cpu, cuda");
}

int CudaDeviceCount(std::string* why) {
#ifdef GS_HAVE_CUDA
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // leave no error behind for later runtime calls
    if (why != nullptr) {
      *why = "cudaGetDeviceCount: error " + std::to_string(static_cast<int>(e)) + ", " +
             cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
    }
    return 0;
  }
  if (n == 0 && why != nullptr) *why = "cudaGetDeviceCount: 0 devices";
  return n;
#else
  if (why != nullptr)
    *why = "this build has no CUDA backend (nvcc was not found when it was built)";
  return 0;
#endif
}

bool CudaDeviceAvailable() { return CudaDeviceCount() > 0; }

DType DefaultKvDType(Device device) { return device == Device::kCuda ? DType::kBF16 : DType::kF16; }

Device DefaultDevice() { return CudaDeviceAvailable() ? Device::kCuda : Device::kCpu; }

Status CheckDeviceUsable(Device device, int tp_size, int ranks_on_node) {
  if (device == Device::kCpu) return Status::Ok();
  std::string why;
  const int n = CudaDeviceCount(&why);
  if (n == 0) {
#ifdef GS_HAVE_CUDA
    return Status::InvalidArgument("--device cuda: no CUDA device (" + why + ")");
#else
    return Status::InvalidArgument("--device cuda: " + why);
#endif
  }
  if (ranks_on_node > n) {
    // NCCL refuses two ranks on one GPU.
    return Status::InvalidArgument("--device cuda: " + std::to_string(ranks_on_node) +
                                   " ranks on this node but " + std::to_string(n) +
                                   " CUDA device(s); run at most one rank per GPU");
  }
#if defined(GS_HAVE_CUDA) && !defined(GS_HAVE_NCCL)
  if (tp_size > 1) {
    return Status::InvalidArgument(
        "--device cuda: this build has no NCCL, so it runs on one rank only (got " +
        std::to_string(tp_size) + " ranks)");
  }
#endif
  return Status::Ok();
}

}  // namespace gs
