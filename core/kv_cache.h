// The paged KV cache of one rank: per layer, K and V as
// [n_blocks][n_local_groups][block_size][head_dim] in the device's K/V dtype
// (DeviceOps::kv_dtype() when the cache is made: f32, f16, bf16 or q8_0 on
// the CPU, bf16 or f32 on CUDA), holding only the KV groups this rank owns.
// Block ids are handed out by the BlockManager on rank 0 and are the same on
// every rank.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/device_ops.h"

namespace gs {

// The cache slot of the token at `position` of a sequence whose blocks are
// `block_table`: block * block_size + offset within the block.
inline int32_t KvSlot(const int32_t* block_table, int block_size, int position) {
  return block_table[position / block_size] * block_size + position % block_size;
}

class KvCache {
 public:
  // Zeroed memory on `ops`' device.
  KvCache(kernels::DeviceOps& ops, int n_layers, int n_blocks, int block_size,
          int n_local_groups, int head_dim);

  kernels::KvLayer layer(int il) const;
  int n_blocks() const { return n_blocks_; }
  int block_size() const { return block_size_; }
  DType dtype() const { return dtype_; }
  // Bytes actually allocated.
  int64_t bytes() const { return static_cast<int64_t>(data_->bytes()); }

 private:
  int n_layers_, n_blocks_, block_size_, n_groups_, head_dim_;
  DType dtype_;
  int64_t layer_bytes_;  // bytes of K (or V) for one layer
  std::unique_ptr<kernels::DeviceMemory> data_;
};

}  // namespace gs
