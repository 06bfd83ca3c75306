// Memory for data that is streamed end to end on every step (weights, the KV
// cache, the bandwidth probe's buffer). Large allocations are aligned to 2 MiB
// and asked to be backed by transparent huge pages: the hardware prefetchers
// stop at 4 KiB page boundaries and every 4 KiB page costs a TLB miss, which
// holds a decode step's weight stream to about 80% of what it reaches on
// 2 MiB pages. Where the kernel declines (THP disabled), the memory is
// ordinary pages and nothing else changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gs {

// Allocations of at least kHugePage bytes are 2 MiB aligned, rounded up to a
// whole number of huge pages and advised MADV_HUGEPAGE; smaller ones are
// 64-byte aligned. Throws std::bad_alloc like operator new.
void* AllocateStreamed(size_t bytes);
void FreeStreamed(void* p);

constexpr size_t kHugePage = size_t{2} << 20;

template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding
  T* allocate(size_t n) { return static_cast<T*>(AllocateStreamed(n * sizeof(T))); }
  void deallocate(T* p, size_t) { FreeStreamed(p); }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

// Byte and float buffers for streamed data.
using StreamedBytes = std::vector<uint8_t, HugePageAllocator<uint8_t>>;
using StreamedFloats = std::vector<float, HugePageAllocator<float>>;

}  // namespace gs
