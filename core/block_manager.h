// Hands out and takes back KV-cache block ids, and keeps full blocks for
// later sequences that start with the same tokens (prefix caching). Pure
// bookkeeping on rank 0: every rank's cache has the same block ids, so
// nothing here is communicated.
//
// A block is referenced by the sequences whose block tables hold it. A full
// block whose tokens are all computed is cached under the hash chain of its
// tokens (core/block_hash.h); a later sequence whose leading tokens match
// takes a reference on it instead of computing it. When its last reference
// goes, a cached block stays cached and becomes evictable; evictable blocks
// are reused least recently released first, and only once no never-cached
// block is free. A block is written only while it is referenced once and not
// cached (Writable), so a shared block is never overwritten.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "core/sequence.h"

namespace gs {

class BlockManager {
 public:
  // `prefix_cache` false: blocks are freed when released and never shared.
  BlockManager(int n_blocks, int block_size, bool prefix_cache = true);

  int block_size() const { return block_size_; }
  int n_blocks() const { return n_blocks_; }
  bool prefix_cache() const { return prefix_cache_; }
  // Blocks no sequence references: free ones and evictable cached ones. What
  // sequences can grow into; n_free() == n_blocks() means no block is in use.
  int n_free() const { return static_cast<int>(free_.size() + evictable_.size()); }
  int n_used() const { return n_blocks_ - n_free(); }
  // Blocks holding a cached full block, referenced or not.
  int n_cached() const { return static_cast<int>(cached_.size()); }
  // Cached blocks no sequence references (the eviction candidates).
  int n_evictable() const { return static_cast<int>(evictable_.size()); }
  // Blocks needed to hold `n_tokens` tokens.
  int BlocksFor(int n_tokens) const { return (n_tokens + block_size_ - 1) / block_size_; }

  // Gives `seq`, which holds no blocks, references on the cached blocks that
  // hold its leading tokens, whole blocks only and never its last token (which
  // must be computed for its logits), and sets n_computed after them.
  // Returns the tokens found (0 without prefix caching).
  int AcquireCachedPrefix(Sequence& seq);
  // Whether `seq` can grow to hold `n_tokens` tokens with the free blocks.
  bool CanGrow(const Sequence& seq, int n_tokens) const;
  // Grows seq.block_table to cover n_tokens. Requires CanGrow.
  void Grow(Sequence& seq, int n_tokens);
  // Caches seq's full blocks whose tokens are all computed (call after
  // seq.n_computed advances). A block whose tokens another block already
  // holds in the cache stays private to seq.
  void CacheComputed(Sequence& seq);
  // Drops all of seq's references (its block table and hashes are cleared).
  void Release(Sequence& seq);

  // Whether a step may write into block `b`: one reference, not cached.
  bool Writable(int32_t b) const;
  int ref_count(int32_t b) const { return blocks_[static_cast<size_t>(b)].refs; }
  bool is_cached(int32_t b) const { return blocks_[static_cast<size_t>(b)].cached; }

 private:
  struct Block {
    int refs = 0;
    bool cached = false;
    uint64_t hash = 0;         // when cached: the chain hash of its tokens
    uint64_t parent_hash = 0;  // when cached: the chain hash of the block before
    std::vector<int32_t> tokens;            // when cached: compared on every hit
    std::list<int32_t>::iterator lru;       // when cached and unreferenced
  };
  int32_t Take();
  void Evict(int32_t b);

  int n_blocks_, block_size_;
  bool prefix_cache_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;                   // a stack: recently freed blocks reused first
  std::list<int32_t> evictable_;                // front: evicted first
  std::unordered_map<uint64_t, int32_t> cached_;  // chain hash -> block
};

}  // namespace gs
