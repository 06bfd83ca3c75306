#include "core/kv_cache.h"

#include <cstddef>

namespace gs {

KvCache::KvCache(int n_layers, int n_blocks, int block_size, int n_local_groups, int head_dim)
    : n_layers_(n_layers),
      n_blocks_(n_blocks),
      block_size_(block_size),
      n_groups_(n_local_groups),
      head_dim_(head_dim),
      layer_elems_(static_cast<int64_t>(n_blocks) * n_local_groups * block_size * head_dim),
      data_(static_cast<std::size_t>(2 * n_layers * layer_elems_), 0.0f) {}

kernels::KvLayerView KvCache::layer(int il) {
  kernels::KvLayerView v;
  v.k = data_.data() + 2 * il * layer_elems_;
  v.v = v.k + layer_elems_;
  v.n_groups = n_groups_;
  v.block_size = block_size_;
  v.head_dim = head_dim_;
  return v;
}

}  // namespace gs
