#include "core/block_manager.h"

#include "kernels/check.h"

namespace gs {

BlockManager::BlockManager(int n_blocks, int block_size)
    : n_blocks_(n_blocks), block_size_(block_size) {
  CHECK(n_blocks > 0 && block_size > 0);
  for (int b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

bool BlockManager::CanGrow(const Sequence& seq, int n_tokens) const {
  const int need = BlocksFor(n_tokens) - static_cast<int>(seq.block_table.size());
  return need <= n_free();
}

void BlockManager::Grow(Sequence& seq, int n_tokens) {
  CHECK(CanGrow(seq, n_tokens));
  while (static_cast<int>(seq.block_table.size()) < BlocksFor(n_tokens)) {
    seq.block_table.push_back(free_.back());
    free_.pop_back();
  }
}

void BlockManager::Release(Sequence& seq) {
  for (int32_t b : seq.block_table) free_.push_back(b);
  seq.block_table.clear();
}

}  // namespace gs
