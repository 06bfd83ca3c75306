#include "kernels/cuda/cuda_kernels.h"

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

}  // namespace gs::kernels::cuda
