#include "core/block_manager.h"

#include <gtest/gtest.h>

#include "core/block_hash.h"

namespace gs {
namespace {

// A sequence of the given tokens, nothing computed.
Sequence Seq(uint64_t id, std::vector<int32_t> tokens) {
  Sequence s;
  s.id = id;
  s.tokens = std::move(tokens);
  s.n_prompt = s.n_tokens();
  return s;
}

std::vector<int32_t> Range(int32_t first, int n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = first + i;
  return v;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// What the scheduler does for a sequence computed in one go.
void ComputeAll(BlockManager& bm, Sequence& s) {
  bm.AcquireCachedPrefix(s);
  ASSERT_TRUE(bm.CanGrow(s, s.n_tokens()));
  bm.Grow(s, s.n_tokens());
  s.n_computed = s.n_tokens();
  bm.CacheComputed(s);
}

TEST(BlockManagerTest, GrowAndRelease) {
  BlockManager bm(4, 16);
  Sequence s;
  EXPECT_TRUE(bm.CanGrow(s, 64));
  EXPECT_FALSE(bm.CanGrow(s, 65));
  bm.Grow(s, 17);
  EXPECT_EQ(s.block_table.size(), 2u);
  EXPECT_EQ(bm.n_free(), 2);
  bm.Release(s);
  EXPECT_EQ(bm.n_free(), 4);
  EXPECT_TRUE(s.block_table.empty());
}

TEST(BlockManagerTest, HashChainDependsOnEveryTokenAndTheBlockBefore) {
  const std::vector<int32_t> a = {1, 2, 3, 4}, swapped = {2, 1, 3, 4}, other = {1, 2, 3, 5};
  const uint64_t h = HashBlock(kFirstBlockParent, a.data(), 4);
  EXPECT_EQ(h, HashBlock(kFirstBlockParent, a.data(), 4));
  EXPECT_NE(h, HashBlock(kFirstBlockParent, swapped.data(), 4));
  EXPECT_NE(h, HashBlock(kFirstBlockParent, other.data(), 4));
  EXPECT_NE(h, HashBlock(h, a.data(), 4)) << "the same tokens after another block";
  EXPECT_NE(h, HashBlock(kFirstBlockParent, a.data(), 3));
}

TEST(BlockManagerTest, SharedFullBlocksAreReferenceCounted) {
  BlockManager bm(16, 4);
  Sequence a = Seq(1, Range(100, 11));  // 2 full blocks + 3 tokens
  ComputeAll(bm, a);
  EXPECT_EQ(bm.n_cached(), 2) << "only full blocks are cached";
  EXPECT_EQ(bm.n_used(), 3);
  Sequence b = Seq(2, Concat(Range(100, 8), {7, 7, 7}));
  EXPECT_EQ(bm.AcquireCachedPrefix(b), 8);
  EXPECT_EQ(b.n_computed, 8);
  ASSERT_EQ(b.block_table.size(), 2u);
  EXPECT_EQ(b.block_table[0], a.block_table[0]);
  EXPECT_EQ(b.block_table[1], a.block_table[1]);
  EXPECT_EQ(bm.ref_count(a.block_table[0]), 2);
  EXPECT_EQ(bm.ref_count(a.block_table[2]), 1);
  EXPECT_FALSE(bm.Writable(a.block_table[0]));
  EXPECT_EQ(bm.n_used(), 3) << "a hit takes no new block";
  bm.Grow(b, b.n_tokens());
  EXPECT_NE(b.block_table[2], a.block_table[2]);
  EXPECT_TRUE(bm.Writable(b.block_table[2]));
  EXPECT_EQ(bm.n_used(), 4);

  bm.Release(a);
  EXPECT_EQ(bm.ref_count(b.block_table[0]), 1);
  EXPECT_TRUE(bm.is_cached(b.block_table[0]));
  EXPECT_EQ(bm.n_used(), 3) << "a's private block is free, the shared ones are b's";
  bm.Release(b);
  EXPECT_EQ(bm.n_free(), 16) << "no block referenced";
  EXPECT_EQ(bm.n_cached(), 2) << "cached blocks stay cached without references";
  EXPECT_EQ(bm.n_evictable(), 2);
  // And are found again.
  Sequence c = Seq(3, Range(100, 9));
  EXPECT_EQ(bm.AcquireCachedPrefix(c), 8);
  EXPECT_EQ(bm.n_evictable(), 0);
  EXPECT_EQ(bm.n_free(), 14);
}

TEST(BlockManagerTest, AHitNeedsTheWholeChainBeforeIt) {
  BlockManager bm(16, 4);
  Sequence a = Seq(1, Range(0, 13));  // blocks [0..3] [4..7] [8..11] + 1
  ComputeAll(bm, a);
  ASSERT_EQ(bm.n_cached(), 3);
  // Blocks 1 and 2 equal a's, block 0 does not: nothing is reused.
  Sequence b = Seq(2, Concat({9, 9, 9, 9}, Range(4, 9)));
  EXPECT_EQ(bm.AcquireCachedPrefix(b), 0);
  EXPECT_TRUE(b.block_table.empty());
  // Block 0 equal, block 1 differs: block 0 only, though block 2 equals a's.
  Sequence c = Seq(3, Concat(Concat(Range(0, 4), {9, 9, 9, 9}), Range(8, 5)));
  EXPECT_EQ(bm.AcquireCachedPrefix(c), 4);
  EXPECT_EQ(c.block_table.size(), 1u);
}

TEST(BlockManagerTest, TheLastTokenIsAlwaysComputed) {
  BlockManager bm(16, 4);
  Sequence a = Seq(1, Range(0, 12));
  ComputeAll(bm, a);
  ASSERT_EQ(bm.n_cached(), 3);
  // The whole prompt is cached: its last block is computed again, in a new
  // block, so that the last token has logits and nothing shared is written.
  Sequence same = Seq(2, Range(0, 12));
  EXPECT_EQ(bm.AcquireCachedPrefix(same), 8);
  bm.Grow(same, 12);
  EXPECT_NE(same.block_table[2], a.block_table[2]);
  EXPECT_TRUE(bm.Writable(same.block_table[2]));
  // One token more: every cached block is a hit.
  Sequence longer = Seq(3, Range(0, 13));
  EXPECT_EQ(bm.AcquireCachedPrefix(longer), 12);
  // One token: nothing to reuse.
  Sequence one = Seq(4, {0});
  EXPECT_EQ(bm.AcquireCachedPrefix(one), 0);
}

TEST(BlockManagerTest, APartialBlockIsNeverSharedUntilFullAndComputed) {
  BlockManager bm(16, 4);
  Sequence a = Seq(1, Range(0, 6));  // block 1 holds 2 of 4 tokens
  ComputeAll(bm, a);
  EXPECT_EQ(bm.n_cached(), 1);
  EXPECT_TRUE(bm.Writable(a.block_table[1]));
  Sequence b = Seq(2, Range(0, 10));
  EXPECT_EQ(bm.AcquireCachedPrefix(b), 4) << "a's partial block is not offered";
  bm.Release(b);
  // a decodes: the block fills, but its last token is not computed yet.
  a.tokens.push_back(6);
  a.tokens.push_back(7);
  bm.CacheComputed(a);
  EXPECT_EQ(bm.n_cached(), 1);
  EXPECT_TRUE(bm.Writable(a.block_table[1]));
  a.n_computed = 8;
  bm.CacheComputed(a);
  EXPECT_EQ(bm.n_cached(), 2);
  EXPECT_FALSE(bm.Writable(a.block_table[1]));
  Sequence c = Seq(3, Range(0, 10));
  EXPECT_EQ(bm.AcquireCachedPrefix(c), 8) << "generated tokens are cached too, once computed";
}

TEST(BlockManagerTest, EvictsLeastRecentlyReleasedTailFirstAndOnlyWhenNothingIsFree) {
  BlockManager bm(6, 2);
  Sequence x = Seq(1, Range(0, 5));   // 2 full blocks + 1
  Sequence y = Seq(2, Range(50, 5));
  ComputeAll(bm, x);
  ComputeAll(bm, y);
  const std::vector<int32_t> xb = x.block_table, yb = y.block_table;
  bm.Release(x);  // x first: least recently released
  bm.Release(y);
  EXPECT_EQ(bm.n_free(), 6);
  EXPECT_EQ(bm.n_evictable(), 4);
  // Two never-cached blocks are free (x's and y's partial ones): used first.
  Sequence z = Seq(3, Range(1000, 4));
  bm.Grow(z, 4);
  EXPECT_EQ(bm.n_cached(), 4);
  // Then x's blocks, its last block before its first; then y's.
  const std::vector<int32_t> order = {xb[1], xb[0], yb[1], yb[0]};
  for (size_t i = 0; i < order.size(); ++i) {
    Sequence w = Seq(10 + i, Range(2000, 2));
    bm.Grow(w, 2);
    EXPECT_EQ(w.block_table[0], order[i]) << "eviction " << i;
    EXPECT_FALSE(bm.is_cached(order[i]));
    EXPECT_EQ(bm.n_cached(), 3 - static_cast<int>(i));
  }
}

TEST(BlockManagerTest, AHitRefreshesABlocksPlaceInTheEvictionOrder) {
  BlockManager bm(4, 2);
  Sequence x = Seq(1, Range(0, 2));
  Sequence y = Seq(2, Range(50, 2));
  // 2-token sequences: a whole-prompt hit is never taken, so compute 3.
  x.tokens.push_back(99);
  y.tokens.push_back(99);
  ComputeAll(bm, x);
  ComputeAll(bm, y);
  const int32_t x0 = x.block_table[0], y0 = y.block_table[0];
  bm.Release(x);
  bm.Release(y);
  Sequence again = Seq(3, Range(0, 3));  // x's block is used again, then released
  EXPECT_EQ(bm.AcquireCachedPrefix(again), 2);
  bm.Release(again);
  // Three blocks: the two free ones, then y's (released before x's was).
  Sequence w1 = Seq(5, Range(4000, 6));
  bm.Grow(w1, 6);
  EXPECT_EQ(w1.block_table[2], y0);
  EXPECT_TRUE(bm.is_cached(x0));
}

TEST(BlockManagerTest, NeverEvictsAReferencedBlock) {
  BlockManager bm(4, 2);
  Sequence x = Seq(1, Range(0, 4));
  ComputeAll(bm, x);  // x holds two cached blocks
  ASSERT_EQ(bm.n_cached(), 2);
  Sequence y = Seq(2, Range(100, 6));
  EXPECT_FALSE(bm.CanGrow(y, 6)) << "only two blocks are unreferenced";
  EXPECT_TRUE(bm.CanGrow(y, 4));
  bm.Grow(y, 4);
  EXPECT_EQ(bm.n_free(), 0);
  for (int32_t b : x.block_table) {
    EXPECT_TRUE(bm.is_cached(b));
    EXPECT_EQ(bm.ref_count(b), 1);
  }
  bm.Release(y);
  bm.Release(x);
  EXPECT_EQ(bm.n_free(), 4);
}

TEST(BlockManagerTest, ACopyComputedTwiceStaysPrivate) {
  BlockManager bm(8, 2);
  Sequence a = Seq(1, Range(0, 3)), b = Seq(2, Range(0, 3));
  // Both admitted before either was computed: neither hits.
  EXPECT_EQ(bm.AcquireCachedPrefix(a), 0);
  EXPECT_EQ(bm.AcquireCachedPrefix(b), 0);
  bm.Grow(a, 3);
  bm.Grow(b, 3);
  a.n_computed = b.n_computed = 3;
  bm.CacheComputed(a);
  bm.CacheComputed(b);
  EXPECT_EQ(bm.n_cached(), 1);
  EXPECT_TRUE(bm.is_cached(a.block_table[0]));
  EXPECT_FALSE(bm.is_cached(b.block_table[0]));
  bm.Release(b);
  EXPECT_EQ(bm.n_evictable(), 0) << "b's copy is simply free";
  bm.Release(a);
  EXPECT_EQ(bm.n_free(), 8);
}

TEST(BlockManagerTest, WithoutPrefixCachingNothingIsShared) {
  BlockManager bm(8, 2, /*prefix_cache=*/false);
  Sequence a = Seq(1, Range(0, 5));
  ComputeAll(bm, a);
  EXPECT_EQ(bm.n_cached(), 0);
  Sequence b = Seq(2, Range(0, 5));
  EXPECT_EQ(bm.AcquireCachedPrefix(b), 0);
  bm.Release(a);
  EXPECT_EQ(bm.n_free(), 8);
  EXPECT_EQ(bm.n_evictable(), 0);
}

}  // namespace
}  // namespace gs
