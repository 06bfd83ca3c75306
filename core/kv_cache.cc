#include "core/kv_cache.h"

#include "kernels/check.h"

namespace gs {

KvCache::KvCache(kernels::DeviceOps& ops, int n_layers, int n_blocks, int block_size,
                 int n_local_groups, int head_dim)
    : n_layers_(n_layers),
      n_blocks_(n_blocks),
      block_size_(block_size),
      n_groups_(n_local_groups),
      head_dim_(head_dim),
      dtype_(ops.kv_dtype()),
      layer_bytes_(static_cast<int64_t>(n_blocks) * n_local_groups * block_size *
                   RowBytes(dtype_, head_dim)),
      data_(ops.Allocate(static_cast<size_t>(2 * n_layers * layer_bytes_))) {
  CHECK(head_dim % BlockElems(dtype_) == 0)
      << "a " << DTypeLowerName(dtype_) << " KV cache needs head_dim a multiple of "
      << BlockElems(dtype_) << ", not " << head_dim;
}

kernels::KvLayer KvCache::layer(int il) const {
  kernels::KvLayer v;
  char* base = data_->as<char>() + 2 * il * layer_bytes_;
  v.k = base;
  v.v = base + layer_bytes_;
  v.dtype = dtype_;
  v.n_groups = n_groups_;
  v.block_size = block_size_;
  v.head_dim = head_dim_;
  return v;
}

}  // namespace gs
