// CUDA_CHECK / CUBLAS_CHECK: abort with file, line, the failed
// call, the library's error string and a hint about the usual cause. Device
// failures are not recoverable inside a step, so they end the rank (MPI's
// default then ends the group).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace gs::cuda_internal {
[[noreturn]] void CudaFail(const char* file, int line, const char* call, cudaError_t e);
[[noreturn]] void CublasFail(const char* file, int line, const char* call, cublasStatus_t s);
}  // namespace gs::cuda_internal

#define CUDA_CHECK(call)                                                   \
  do {                                                                     \
    cudaError_t cuda_err_ = (call);                                        \
    if (cuda_err_ != cudaSuccess)                                          \
      ::gs::cuda_internal::CudaFail(__FILE__, __LINE__, #call, cuda_err_); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, faults in
// the kernel itself at the next synchronizing call.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(call)                                                    \
  do {                                                                        \
    cublasStatus_t cublas_st_ = (call);                                       \
    if (cublas_st_ != CUBLAS_STATUS_SUCCESS)                                  \
      ::gs::cuda_internal::CublasFail(__FILE__, __LINE__, #call, cublas_st_); \
  } while (0)


namespace gs::kernels::cuda {

// Number of usable GPUs; 0 when there is none or the driver refuses
// (cudaGetDeviceCount failing, e.g. error 35 without a driver). Never aborts.
int DeviceCount();

}  // namespace gs::kernels::cuda
