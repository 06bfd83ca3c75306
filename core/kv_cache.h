// The paged KV cache of one rank: per layer, K and V as
// [n_blocks][n_local_groups][block_size][head_dim] fp32, holding only the KV
// groups this rank owns. Block ids are handed out by the BlockManager on
// rank 0 and are the same on every rank.
#pragma once

#include <cstdint>
#include <vector>

#include "core/huge_pages.h"
#include "kernels/attention.h"

namespace gs {

class KvCache {
 public:
  KvCache(int n_layers, int n_blocks, int block_size, int n_local_groups, int head_dim);

  kernels::KvLayerView layer(int il);
  int n_blocks() const { return n_blocks_; }
  int block_size() const { return block_size_; }
  // Bytes actually allocated.
  int64_t bytes() const { return static_cast<int64_t>(data_.size() * sizeof(float)); }
  // K and V bytes one token occupies on a rank holding `n_local_groups`.
  static int64_t BytesPerToken(int n_layers, int n_local_groups, int head_dim) {
    return 2LL * n_layers * n_local_groups * head_dim * static_cast<int64_t>(sizeof(float));
  }

 private:
  int n_layers_, n_blocks_, block_size_, n_groups_, head_dim_;
  int64_t layer_elems_;  // elements of K (or V) for one layer
  StreamedFloats data_;
};

}  // namespace gs
