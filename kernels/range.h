// A half-open range [begin, end) of rows, columns, heads or groups: the unit
// in which a shard plan cuts tensors and a loader reads slices.
#pragma once

#include <cstdint>

namespace gs {

struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

}  // namespace gs
