#include "kernels/cuda/cuda_kernels.h"

#include <string>

namespace gs::kernels::cuda {

std::vector<int32_t> MakeAttentionTiles(const int32_t* token_seq, int64_t n_tokens, int tile) {
  std::vector<int32_t> tiles;
  int64_t t = 0;
  while (t < n_tokens) {
    int64_t end = t + 1;
    while (end < n_tokens && end - t < tile && token_seq[end] == token_seq[t]) ++end;
    tiles.push_back(static_cast<int32_t>(t));
    tiles.push_back(static_cast<int32_t>(end - t));
    t = end;
  }
  return tiles;
}

Status CudaAttentionShape(int head_dim, int heads_per_group) {
  if (head_dim != 64 && head_dim != 128) {
    return Status::InvalidArgument(
        "the CUDA attention kernels take head_dim 64 or 128; this model's is " +
        std::to_string(head_dim) + " (run it with --device cpu)");
  }
  if (heads_per_group < 1 || heads_per_group > kMaxHeadsPerGroup) {
    return Status::InvalidArgument("the CUDA attention kernels take 1 to " +
                                   std::to_string(kMaxHeadsPerGroup) +
                                   " query heads per KV group; this model has " +
                                   std::to_string(heads_per_group) + " (run it with --device cpu)");
  }
  return Status::Ok();
}

}  // namespace gs::kernels::cuda
