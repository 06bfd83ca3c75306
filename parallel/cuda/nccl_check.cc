#include "parallel/cuda/nccl_check.h"

#include <cstdlib>
#include <iostream>

namespace gs::nccl_internal {

void NcclFail(const char* file, int line, const char* call, ncclResult_t r) {
  const char* hint = "see NCCL_DEBUG=INFO output";
  if (r == ncclSystemError || r == ncclRemoteError) {
    hint = "a peer rank died or the network failed (NCCL_DEBUG=INFO shows which)";
  } else if (r == ncclInvalidUsage) {
    hint = "ranks disagreed on the collective sequence or buffer sizes";
  }
  std::cerr << file << ":" << line << ": " << call << " failed: " << ncclGetErrorString(r) << " ("
            << static_cast<int>(r) << "); hint: " << hint << std::endl;
  std::abort();
}

}  // namespace gs::nccl_internal
