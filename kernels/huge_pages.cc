#include "kernels/huge_pages.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace gs {

void* AllocateStreamed(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const bool huge = bytes >= kHugePage;
  const size_t align = huge ? kHugePage : 64;
  const size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) throw std::bad_alloc();
  // Advice only: a kernel without THP (or with it off) keeps 4 KiB pages.
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}

void FreeStreamed(void* p) { std::free(p); }

}  // namespace gs
