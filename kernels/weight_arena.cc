#include "kernels/weight_arena.h"

#include <algorithm>

#include "kernels/huge_pages.h"

namespace gs {

WeightArena::Slice WeightArena::Take(size_t n) {
  const size_t need = (n + kAlign - 1) / kAlign * kAlign;
  if (chunk_ == nullptr || used_ + need > chunk_size_) {
    // The rest of the old chunk is never touched, so it costs address space
    // only. A matrix larger than a chunk gets a chunk of its own size.
    chunk_size_ = std::max(kChunkBytes, need);
    chunk_.reset(static_cast<uint8_t*>(AllocateStreamed(chunk_size_)), FreeStreamed);
    used_ = 0;
    reserved_ += chunk_size_;
  }
  Slice s{chunk_.get() + used_, chunk_};
  used_ += need;
  return s;
}

}  // namespace gs
