#include "parallel/communicator.h"

#include <cstring>

namespace gs {

void LocalCommunicator::AllGather(const void* send, size_t bytes, void* recv) {
  if (send != recv) std::memmove(recv, send, bytes);
}

void LocalCommunicator::GatherV(const float* send, const std::vector<int>& counts, float* recv,
                                int root) {
  if (send != recv) std::memmove(recv, send, sizeof(float) * counts.at(0));
}

}  // namespace gs
