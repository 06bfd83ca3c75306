// One layer of a rank's paged KV cache as the attention operations see it,
// on any device: K and V each [n_blocks][n_groups][block_size] rows of
// head_dim elements in `dtype`, RowBytes(dtype, head_dim) bytes each (the CPU:
// f32, f16, bf16 or Q8_0 blocks of 32; CUDA: bf16 or f32). The slot of a
// token is block * block_size + offset.
#pragma once

#include "kernels/dtype.h"

namespace gs::kernels {

struct KvLayer {
  void* k = nullptr;
  void* v = nullptr;
  DType dtype = DType::kF32;
  int n_groups = 0;
  int block_size = 0;
  int head_dim = 0;
};

}  // namespace gs::kernels
