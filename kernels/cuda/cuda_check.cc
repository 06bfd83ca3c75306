#include "kernels/cuda/cuda_check.h"

#include <cstdlib>
#include <iostream>

namespace gs::cuda_internal {
namespace {

const char* CudaHint(cudaError_t e) {
  switch (e) {
    case cudaErrorInsufficientDriver:
      return "the NVIDIA driver is missing or older than this CUDA runtime";
    case cudaErrorNoDevice:
      return "no GPU is visible to this process (check CUDA_VISIBLE_DEVICES)";
    case cudaErrorInvalidDevice:
      return "the device index exceeds the GPUs on this node (ranks per node > GPUs?)";
    case cudaErrorMemoryAllocation:
      return "out of device memory: use fewer KV blocks, a shorter context or more ranks";
    case cudaErrorNoKernelImageForDevice:
      return "this build has no code for the GPU; rebuild with its CMAKE_CUDA_ARCHITECTURES";
    case cudaErrorIllegalAddress:
      return "a kernel read or wrote outside its buffers (run with compute-sanitizer)";
    default:
      return "see the CUDA runtime documentation for this error";
  }
}

const char* CublasHint(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "cuBLAS handle missing or no usable GPU";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "out of device memory for the cuBLAS workspace";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "a matrix shape or leading dimension is invalid";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "this dtype/compute-type combination is not supported on this GPU";
    default:
      return "see the cuBLAS documentation for this status";
  }
}

}  // namespace

void CudaFail(const char* file, int line, const char* call, cudaError_t e) {
  std::cerr << file << ":" << line << ": " << call << " failed: " << cudaGetErrorName(e) << " ("
            << static_cast<int>(e) << ", " << cudaGetErrorString(e) << "); hint: " << CudaHint(e)
            << std::endl;
  std::abort();
}

void CublasFail(const char* file, int line, const char* call, cublasStatus_t s) {
  std::cerr << file << ":" << line << ": " << call << " failed: " << cublasGetStatusName(s) << " ("
            << static_cast<int>(s) << "); hint: " << CublasHint(s) << std::endl;
  std::abort();
}


}  // namespace gs::cuda_internal

namespace gs::kernels::cuda {

int DeviceCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return n;
}

}  // namespace gs::kernels::cuda
