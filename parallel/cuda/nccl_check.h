// NCCL_CHECK: aborts with file, line, the failed call, NCCL's error string
// and a hint about the usual cause (the NCCL twin of kernels' CUDA_CHECK).
#pragma once

#include <nccl.h>

namespace gs::nccl_internal {
[[noreturn]] void NcclFail(const char* file, int line, const char* call, ncclResult_t r);
}  // namespace gs::nccl_internal

#define NCCL_CHECK(call)                                                   \
  do {                                                                     \
    ncclResult_t nccl_res_ = (call);                                       \
    if (nccl_res_ != ncclSuccess)                                          \
      ::gs::nccl_internal::NcclFail(__FILE__, __LINE__, #call, nccl_res_); \
  } while (0)
