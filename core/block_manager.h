// Hands out and takes back KV-cache block ids. Pure bookkeeping on rank 0:
// every rank's cache has the same block ids, so nothing here is communicated.
#pragma once

#include <cstdint>
#include <vector>

#include "core/sequence.h"

namespace gs {

class BlockManager {
 public:
  BlockManager(int n_blocks, int block_size);

  int block_size() const { return block_size_; }
  int n_blocks() const { return n_blocks_; }
  int n_free() const { return static_cast<int>(free_.size()); }
  int n_used() const { return n_blocks_ - n_free(); }
  // Blocks needed to hold `n_tokens` tokens.
  int BlocksFor(int n_tokens) const { return (n_tokens + block_size_ - 1) / block_size_; }
  // Whether `seq` can grow to hold `n_tokens` tokens with the free blocks.
  bool CanGrow(const Sequence& seq, int n_tokens) const;
  // Grows seq.block_table to cover n_tokens. Requires CanGrow.
  void Grow(Sequence& seq, int n_tokens);
  // Returns all of seq's blocks.
  void Release(Sequence& seq);

 private:
  int n_blocks_, block_size_;
  std::vector<int32_t> free_;  // a stack: recently freed blocks are reused first
};

}  // namespace gs
