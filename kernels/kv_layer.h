// One layer of a rank's paged KV cache as the attention operations see it,
// on any device: K and V each [n_blocks][n_groups][block_size][head_dim] in
// `dtype` (fp32 on the CPU; fp32 or BF16 on CUDA). The slot of a token is
// block * block_size + offset.
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
