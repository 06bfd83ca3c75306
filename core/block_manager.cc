#include "core/block_manager.h"

#include <algorithm>

#include "core/block_hash.h"
#include "kernels/check.h"

namespace gs {

BlockManager::BlockManager(int n_blocks, int block_size, bool prefix_cache)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      prefix_cache_(prefix_cache),
      blocks_(static_cast<size_t>(n_blocks)) {
  CHECK(n_blocks > 0 && block_size > 0);
  for (int b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

int BlockManager::AcquireCachedPrefix(Sequence& seq) {
  CHECK(seq.block_table.empty() && seq.block_hashes.empty() && seq.n_computed == 0)
      << "sequence " << seq.id << " already holds blocks";
  if (!prefix_cache_) return 0;
  const int B = block_size_;
  // The last token is always computed, so its block is never a hit.
  const int max_hits = (seq.n_tokens() - 1) / B;
  uint64_t parent = kFirstBlockParent;
  for (int j = 0; j < max_hits; ++j) {
    const int32_t* toks = seq.tokens.data() + static_cast<size_t>(j) * B;
    const uint64_t h = HashBlock(parent, toks, B);
    auto it = cached_.find(h);
    if (it == cached_.end()) break;
    Block& blk = blocks_[static_cast<size_t>(it->second)];
    // A hash collision must not hand out another prefix's keys and values.
    if (blk.parent_hash != parent || !std::equal(toks, toks + B, blk.tokens.begin())) break;
    if (blk.refs++ == 0) evictable_.erase(blk.lru);
    seq.block_table.push_back(it->second);
    seq.block_hashes.push_back(h);
    parent = h;
  }
  seq.n_computed = static_cast<int>(seq.block_table.size()) * B;
  return seq.n_computed;
}

bool BlockManager::CanGrow(const Sequence& seq, int n_tokens) const {
  const int need = BlocksFor(n_tokens) - static_cast<int>(seq.block_table.size());
  return need <= n_free();
}

int32_t BlockManager::Take() {
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    CHECK(!evictable_.empty()) << "no block to take";
    b = evictable_.front();
    Evict(b);
  }
  Block& blk = blocks_[static_cast<size_t>(b)];
  CHECK(blk.refs == 0 && !blk.cached);
  blk.refs = 1;
  return b;
}

void BlockManager::Evict(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  CHECK(blk.cached && blk.refs == 0) << "block " << b << " is not evictable";
  evictable_.erase(blk.lru);
  cached_.erase(blk.hash);
  blk.cached = false;
}

void BlockManager::Grow(Sequence& seq, int n_tokens) {
  CHECK(CanGrow(seq, n_tokens));
  while (static_cast<int>(seq.block_table.size()) < BlocksFor(n_tokens)) {
    seq.block_table.push_back(Take());
  }
}

void BlockManager::CacheComputed(Sequence& seq) {
  if (!prefix_cache_) return;
  const int B = block_size_;
  const int full = std::min(seq.n_computed / B, static_cast<int>(seq.block_table.size()));
  for (int j = static_cast<int>(seq.block_hashes.size()); j < full; ++j) {
    const uint64_t parent = j == 0 ? kFirstBlockParent : seq.block_hashes[j - 1];
    const int32_t* toks = seq.tokens.data() + static_cast<size_t>(j) * B;
    const uint64_t h = HashBlock(parent, toks, B);
    seq.block_hashes.push_back(h);
    const int32_t b = seq.block_table[j];
    Block& blk = blocks_[static_cast<size_t>(b)];
    if (blk.cached) continue;            // a hit: cached already
    if (cached_.count(h) != 0) continue;  // computed twice; the first copy is kept
    blk.cached = true;
    blk.hash = h;
    blk.parent_hash = parent;
    blk.tokens.assign(toks, toks + B);
    cached_.emplace(h, b);
  }
}

void BlockManager::Release(Sequence& seq) {
  // Last block first: a chain is useless without its head, so its tail
  // should be evicted before it.
  for (auto it = seq.block_table.rbegin(); it != seq.block_table.rend(); ++it) {
    Block& blk = blocks_[static_cast<size_t>(*it)];
    CHECK_LT(0, blk.refs) << "block " << *it << " released twice";
    if (--blk.refs > 0) continue;
    if (blk.cached) {
      blk.lru = evictable_.insert(evictable_.end(), *it);
    } else {
      free_.push_back(*it);
    }
  }
  seq.block_table.clear();
  seq.block_hashes.clear();
}

bool BlockManager::Writable(int32_t b) const {
  const Block& blk = blocks_[static_cast<size_t>(b)];
  return blk.refs == 1 && !blk.cached;
}

}  // namespace gs
