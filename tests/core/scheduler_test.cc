#include "core/scheduler.h"

#include <gtest/gtest.h>

namespace gs {
namespace {

std::unique_ptr<Sequence> MakeSeq(uint64_t id, int prompt_len, int max_tokens = 8) {
  auto s = std::make_unique<Sequence>();
  s->id = id;
  // Prompts of different sequences share no block.
  for (int i = 0; i < prompt_len; ++i) s->tokens.push_back(static_cast<int32_t>(1000 * id + i));
  s->n_prompt = prompt_len;
  s->max_tokens = max_tokens;
  return s;
}

std::unique_ptr<Sequence> SeqOf(uint64_t id, std::vector<int32_t> tokens, int max_tokens = 8) {
  auto s = std::make_unique<Sequence>();
  s->id = id;
  s->tokens = std::move(tokens);
  s->n_prompt = s->n_tokens();
  s->max_tokens = max_tokens;
  return s;
}

std::vector<int32_t> Head(const Sequence& s, int n) {
  return std::vector<int32_t>(s.tokens.begin(), s.tokens.begin() + n);
}

// Simulates the engine's use: commit each step and append a token when sampled.
void RunStep(Scheduler& s, std::vector<ScheduledChunk>& chunks) {
  chunks = s.Schedule();
  s.Commit(chunks);
  for (auto& c : chunks) {
    if (c.sample) c.seq->tokens.push_back(2);
  }
}

TEST(SchedulerTest, ChunksLongPromptsUnderTheTokenBudget) {
  BlockManager bm(64, 16);
  Scheduler s(bm, {/*max_batch_tokens=*/10, /*max_running=*/8});
  s.Add(MakeSeq(1, 25));
  std::vector<ScheduledChunk> c;
  RunStep(s, c);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].n_tokens, 10);
  EXPECT_FALSE(c[0].sample);
  RunStep(s, c);
  EXPECT_EQ(c[0].start, 10);
  RunStep(s, c);
  EXPECT_EQ(c[0].n_tokens, 5);
  EXPECT_TRUE(c[0].sample);
  RunStep(s, c);  // decode
  EXPECT_EQ(c[0].n_tokens, 1);
  EXPECT_EQ(c[0].start, 25);
}

TEST(SchedulerTest, MixesDecodeOfRunningWithPrefillOfNew) {
  BlockManager bm(64, 4);
  Scheduler s(bm, {16, 8});
  s.Add(MakeSeq(1, 4));
  std::vector<ScheduledChunk> c;
  RunStep(s, c);
  s.Add(MakeSeq(2, 6));
  RunStep(s, c);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].seq->id, 1u);
  EXPECT_EQ(c[0].n_tokens, 1);
  EXPECT_EQ(c[1].seq->id, 2u);
  EXPECT_EQ(c[1].n_tokens, 6);
}

TEST(SchedulerTest, PreemptsNewestWhenBlocksRunOutAndRecomputesLater) {
  BlockManager bm(4, 4, /*prefix_cache=*/false);  // 16 token slots
  Scheduler s(bm, {64, 8});
  s.Add(MakeSeq(1, 8));
  s.Add(MakeSeq(2, 8));
  std::vector<ScheduledChunk> c;
  RunStep(s, c);  // both prefilled: all 4 blocks used
  EXPECT_EQ(bm.n_free(), 0);
  RunStep(s, c);  // seq 1 needs a 3rd block: seq 2 (newest) is preempted
  EXPECT_EQ(s.n_preemptions(), 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].seq->id, 1u);
  Sequence* two = s.Find(2);
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(two->n_computed, 0);
  EXPECT_EQ(two->n_tokens(), 9);  // its generated token is kept and recomputed
  s.Remove(1);
  RunStep(s, c);  // seq 2 recomputes prompt + generated token in one chunk
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].seq->id, 2u);
  EXPECT_EQ(c[0].n_tokens, 9);
  EXPECT_TRUE(c[0].sample);
}

TEST(SchedulerTest, RemoveFreesBlocksOfWaitingAndRunning) {
  BlockManager bm(8, 4);
  Scheduler s(bm, {64, 8});
  s.Add(MakeSeq(1, 8));
  std::vector<ScheduledChunk> c;
  RunStep(s, c);
  EXPECT_EQ(bm.n_free(), 6);
  EXPECT_NE(s.Remove(1), nullptr);
  EXPECT_EQ(bm.n_free(), 8);
  EXPECT_EQ(s.Remove(1), nullptr);
  EXPECT_TRUE(s.idle());
}

TEST(SchedulerTest, RespectsMaxRunning) {
  BlockManager bm(64, 4);
  Scheduler s(bm, {64, 2});
  for (int i = 0; i < 3; ++i) s.Add(MakeSeq(i, 2));
  std::vector<ScheduledChunk> c;
  RunStep(s, c);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(s.n_waiting(), 1);
}


// A chunk as a test sees it after the step (its sequence may be gone).
struct Chunk {
  uint64_t id;
  int start, n_tokens;
  bool sample;
};

// The engine's loop: a step, then sampled tokens appended (token 7) and the
// sequences that reached max_tokens removed.
std::vector<Chunk> EngineStep(Scheduler& s) {
  std::vector<ScheduledChunk> chunks = s.Schedule();
  s.Commit(chunks);
  std::vector<uint64_t> done;
  std::vector<Chunk> out;
  for (auto& c : chunks) {
    out.push_back({c.seq->id, c.start, c.n_tokens, c.sample});
    if (!c.sample) continue;
    c.seq->tokens.push_back(7);
    if (c.seq->n_generated() >= c.seq->max_tokens) done.push_back(c.seq->id);
  }
  for (uint64_t id : done) s.Remove(id);
  return out;
}

TEST(SchedulerTest, PrefixHitPrefillsOnlyTheRestInChunks) {
  BlockManager bm(64, 4);
  Scheduler s(bm, {/*max_batch_tokens=*/16, 8});
  auto a = MakeSeq(1, 20, /*max_tokens=*/1);
  const std::vector<int32_t> prompt = a->tokens;
  s.Add(std::move(a));
  std::vector<Chunk> c = EngineStep(s);  // a computes 16 of 20: 4 blocks cached
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(bm.n_cached(), 4);
  // b shares a's first 16 tokens, which a computed in its first chunk.
  std::vector<int32_t> pb = Head(*s.Find(1), 16);
  for (int i = 0; i < 10; ++i) pb.push_back(500 + i);
  s.Add(SeqOf(2, pb));
  c = EngineStep(s);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].id, 1u);
  EXPECT_EQ(c[1].id, 2u);
  EXPECT_EQ(c[1].start, 16);
  EXPECT_EQ(c[1].n_tokens, 10);
  EXPECT_TRUE(c[1].sample);
  EXPECT_EQ(s.prefix_hit_tokens(), 16);
  EXPECT_EQ(s.prefix_query_tokens(), 20 + 26);
  // The same prompt as a, with 30 more tokens: a's 5 full blocks are hits
  // (a finished, its blocks stay cached), the rest is chunked.
  std::vector<int32_t> pc = prompt;
  for (int i = 0; i < 30; ++i) pc.push_back(600 + i);
  s.Remove(2);
  s.Add(SeqOf(3, pc));
  c = EngineStep(s);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].start, 20);
  EXPECT_EQ(c[0].n_tokens, 16);
  c = EngineStep(s);
  EXPECT_EQ(c[0].start, 36);
  EXPECT_EQ(c[0].n_tokens, 14);
  EXPECT_TRUE(c[0].sample);
  EXPECT_EQ(s.prefix_hit_tokens(), 16 + 20);
}

TEST(SchedulerTest, PreemptedSequenceGivesBackItsReferencesAndHitsWhenRecomputed) {
  BlockManager bm(7, 4);  // 28 token slots
  Scheduler s(bm, {64, 8});
  s.Add(MakeSeq(1, 16, /*max_tokens=*/10));
  EngineStep(s);  // a: 4 full blocks, cached
  Sequence* a = s.Find(1);
  ASSERT_NE(a, nullptr);
  const std::vector<int32_t> shared(a->block_table.begin(), a->block_table.begin() + 4);
  std::vector<int32_t> pb = Head(*a, 16);
  pb.push_back(900);
  pb.push_back(901);
  s.Add(SeqOf(2, pb, /*max_tokens=*/8));
  std::vector<Chunk> c = EngineStep(s);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].start, 16) << "b starts after the shared blocks";
  for (int32_t blk : shared) EXPECT_EQ(bm.ref_count(blk), 2);
  // Both grow until the pool runs out and b, the newest, is preempted.
  for (int i = 0; i < 20 && s.n_preemptions() == 0; ++i) EngineStep(s);
  ASSERT_EQ(s.n_preemptions(), 1);
  Sequence* b = s.Find(2);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->block_table.empty());
  EXPECT_EQ(b->n_computed, 0);
  ASSERT_NE(s.Find(1), nullptr);
  for (int32_t blk : shared) {
    EXPECT_EQ(bm.ref_count(blk), 1) << "b gave back its references, a keeps its own";
    EXPECT_TRUE(bm.is_cached(blk));
  }
  // b comes back once a is done, and finds the shared blocks still cached.
  const int64_t hits_before = s.prefix_hit_tokens();
  int b_start = -1;
  for (int i = 0; i < 40 && b_start < 0; ++i) {
    for (const Chunk& ch : EngineStep(s)) {
      if (ch.id == 2) b_start = ch.start;
    }
  }
  EXPECT_GE(b_start, 16);
  EXPECT_GE(s.prefix_hit_tokens() - hits_before, 16);
  for (int i = 0; i < 40 && !s.idle(); ++i) EngineStep(s);
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(bm.n_free(), bm.n_blocks()) << "no block referenced at the end";
}

TEST(SchedulerTest, CancellingASequenceReleasesOnlyItsReferences) {
  BlockManager bm(32, 4);
  Scheduler s(bm, {64, 8});
  s.Add(MakeSeq(1, 12, 20));
  EngineStep(s);
  std::vector<int32_t> p = Head(*s.Find(1), 12);
  p.push_back(5);
  s.Add(SeqOf(2, p, 20));
  s.Add(SeqOf(3, p, 20));
  EngineStep(s);
  const std::vector<int32_t> a_blocks = s.Find(1)->block_table;
  EXPECT_EQ(bm.ref_count(a_blocks[0]), 3);
  ASSERT_NE(s.Remove(2), nullptr);  // cancelled while running
  EXPECT_EQ(bm.ref_count(a_blocks[0]), 2);
  s.Add(SeqOf(4, p, 20));
  ASSERT_NE(s.Remove(4), nullptr);  // cancelled while waiting: it held nothing
  EXPECT_EQ(bm.ref_count(a_blocks[0]), 2);
  ASSERT_NE(s.Remove(1), nullptr);
  for (int32_t blk : std::vector<int32_t>(a_blocks.begin(), a_blocks.begin() + 3)) {
    EXPECT_EQ(bm.ref_count(blk), 1) << "still 3's";
    EXPECT_TRUE(bm.is_cached(blk));
  }
  for (int i = 0; i < 5; ++i) EngineStep(s);  // 3 goes on decoding
  ASSERT_NE(s.Remove(3), nullptr);
  EXPECT_EQ(bm.n_free(), bm.n_blocks());
  EXPECT_GT(bm.n_cached(), 0);
}

TEST(SchedulerTest, EvictableBlocksCountAsFree) {
  BlockManager bm(8, 4);
  Scheduler s(bm, {64, 8});
  s.Add(MakeSeq(1, 31, /*max_tokens=*/1));
  EngineStep(s);
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(bm.n_cached(), 7);
  EXPECT_EQ(bm.n_free(), 8);
  EXPECT_TRUE(s.FitsAlone(32));
  // An unrelated prompt that needs every block is admitted at once: the
  // cached blocks are evicted for it, nothing is preempted.
  s.Add(MakeSeq(2, 31, 1));
  std::vector<Chunk> c = EngineStep(s);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].n_tokens, 31);
  EXPECT_EQ(s.n_preemptions(), 0);
  EXPECT_EQ(bm.n_cached(), 7) << "its own blocks replaced the evicted ones";
}

}  // namespace
}  // namespace gs
