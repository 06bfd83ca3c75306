// Streamed memory: large allocations sit on 2 MiB boundaries (so the kernel
// can back them with huge pages), small ones on cache lines, and the
// containers built on it behave as ordinary vectors.
#include "kernels/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <numeric>

namespace gs {
namespace {

TEST(HugePagesTest, LargeAllocationsAreHugePageAligned) {
  for (size_t bytes : {kHugePage, kHugePage + 1, 3 * kHugePage + 12345}) {
    void* p = AllocateStreamed(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePage, 0u) << bytes;
    std::memset(p, 0xab, bytes);  // the whole size is usable
    FreeStreamed(p);
  }
}

TEST(HugePagesTest, SmallAllocationsAreCacheLineAligned) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{63}, size_t{4096}, kHugePage - 1}) {
    void* p = AllocateStreamed(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    FreeStreamed(p);
  }
}

TEST(HugePagesTest, StreamedVectorsKeepTheirContents) {
  StreamedFloats v(3 * kHugePage / sizeof(float));
  std::iota(v.begin(), v.end(), 0.0f);
  v.resize(v.size() + 7, -1.0f);  // reallocates and copies
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kHugePage, 0u);
  EXPECT_EQ(v[12345], 12345.0f);
  EXPECT_EQ(v.back(), -1.0f);
  StreamedBytes b = {1, 2, 3};
  StreamedBytes c = std::move(b);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c[2], 3);
}

}  // namespace
}  // namespace gs
