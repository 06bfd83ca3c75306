#include "core/scheduler.h"

#include <gtest/gtest.h>

namespace gs {
namespace {

std::unique_ptr<Sequence> MakeSeq(uint64_t id, int prompt_len, int max_tokens = 8) {
  auto s = std::make_unique<Sequence>();
  s->id = id;
  s->tokens.assign(prompt_len, 1);
  s->n_prompt = prompt_len;
  s->max_tokens = max_tokens;
  return s;
}

// Simulates the engine's use: commit each step and append a token when sampled.
void RunStep(Scheduler& s, std::vector<ScheduledChunk>& chunks) {
  chunks = s.Schedule();
  s.Commit(chunks);
  for (auto& c : chunks) {
    if (c.sample) c.seq->tokens.push_back(2);
  }
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
  BlockManager bm(4, 4);  // 16 token slots
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

}  // namespace
}  // namespace gs
