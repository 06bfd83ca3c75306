// Prefix caching under tensor parallelism, under mpirun: a request's greedy
// tokens are the same whether its leading KV blocks come from the cache or
// are computed, on every plan of the 9-head/3-group models (P = 1; P = 2,
// whose ranks hold 2 and 1 groups; P = 3), with chunked prefill, concurrent
// requests and preemption. The block ids travel in the step as before; each
// rank's cache holds its own groups' slices of the shared blocks.
#include <cstdio>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "core/engine.h"
#include "core/rank_model.h"
#include "parallel/mpi_communicator.h"
#include "tests/test_util.h"

namespace gs {
namespace {

constexpr int kBlockSize = 4;
constexpr int kMaxTokens = 8;

using Prompt = std::vector<int32_t>;

struct Served {
  std::map<uint64_t, std::vector<int32_t>> tokens;  // by request id (index in the waves)
  std::map<uint64_t, std::vector<float>> logprobs;
  int64_t hit_tokens = 0;
  int64_t query_tokens = 0;
  int64_t preemptions = 0;
};

// Collective: rank 0 serves `waves` through an Engine over `runner` (the
// requests of a wave added together, each wave run to its end before the
// next) while the other ranks run RunWorker. Results on rank 0.
Served Serve(ModelRunner& runner, Communicator& comm, bool prefix_cache,
             const std::vector<std::vector<Prompt>>& waves, bool logprobs = true,
             float temperature = 0.0f) {
  Served out;
  if (comm.rank() != 0) {
    RunWorker(runner, comm);
    return out;
  }
  EngineOptions eo;
  eo.n_blocks = runner.kv_blocks();
  eo.block_size = runner.kv_block_size();
  eo.prefix_cache = prefix_cache;
  eo.scheduler.max_batch_tokens = 16;  // prompts are prefilled in several chunks
  Engine engine(runner, comm, eo);
  uint64_t id = 0;
  for (const std::vector<Prompt>& wave : waves) {
    for (const Prompt& p : wave) {
      GenerateRequest r;
      r.id = id++;
      r.prompt = p;
      r.sampling.temperature = temperature;
      r.sampling.seed = 5;
      r.logprobs = logprobs;
      r.max_tokens = kMaxTokens;
      const Status st = engine.Add(r);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    std::vector<TokenEvent> events;
    while (engine.HasWork()) {
      events.clear();
      engine.Step(&events);
      for (const TokenEvent& e : events) {
        if (e.token < 0) continue;
        out.tokens[e.id].push_back(e.token);
        out.logprobs[e.id].push_back(e.logprob);
      }
    }
  }
  out.hit_tokens = engine.prefix_hit_tokens();
  out.query_tokens = engine.prefix_query_tokens();
  out.preemptions = engine.n_preemptions();
  EXPECT_EQ(engine.free_blocks(), engine.total_blocks()) << "a block is still referenced";
  engine.Shutdown();
  return out;
}

std::vector<int32_t> Slice(const Prompt& p, int n) { return Prompt(p.begin(), p.begin() + n); }

class EnginePrefixCacheTest : public ::testing::Test {
 protected:
  MpiCommunicator comm_;
};

// A request that does not ask for log-probabilities gets the same tokens
// (greedy and sampled) and events that carry 0; one that asks gets the
// log-softmax of the token, which is below 0.
TEST_F(EnginePrefixCacheTest, LogprobsAreComputedOnlyWhenAsked) {
  auto rm = LoadRankModel(gs::testing::DataPath("models/g9x3.q4_1.gguf"), comm_);
  ASSERT_TRUE(rm.ok()) << rm.status().ToString();
  rm->runner->AllocateKvCache(32, kBlockSize);
  const std::vector<std::vector<Prompt>> waves = {{{5, 9, 14, 3, 27}, {8, 8, 40, 2}}};
  for (float t : {0.0f, 0.9f}) {
    Served with = Serve(*rm->runner, comm_, false, waves, true, t);
    Served without = Serve(*rm->runner, comm_, false, waves, false, t);
    if (comm_.rank() != 0) continue;
    ASSERT_EQ(with.tokens.size(), 2u);
    for (uint64_t id : {0, 1}) {
      EXPECT_EQ(without.tokens[id], with.tokens[id]) << "temperature " << t;
      ASSERT_EQ(with.logprobs[id].size(), static_cast<size_t>(kMaxTokens));
      for (float lp : with.logprobs[id]) EXPECT_LT(lp, 0.0f);
      for (float lp : without.logprobs[id]) EXPECT_EQ(lp, 0.0f);
    }
  }
}

TEST_F(EnginePrefixCacheTest, GreedyTokensEqualWithAndWithoutCacheHits) {
  std::vector<std::string> paths = {gs::testing::DataPath("models/g9x3.gguf"),
                                    gs::testing::DataPath("models/g9x3.q4_1.gguf")};
  const std::string smol = gs::testing::SmolLM2Path();
  if (!smol.empty()) paths.push_back(smol);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    // A cache that holds all five requests at once, and one that holds about
    // two (preemption).
    auto rm = LoadRankModel(path, comm_);
    ASSERT_TRUE(rm.ok()) << rm.status().ToString();
    rm->runner->AllocateKvCache(96, kBlockSize);
    auto small = LoadRankModel(path, comm_);
    ASSERT_TRUE(small.ok()) << small.status().ToString();
    small->runner->AllocateKvCache(16, kBlockSize);

    std::mt19937 rng(11);
    const int vocab = rm->runner->config().vocab_size;
    auto random_tokens = [&](int n) {
      Prompt p;
      for (int i = 0; i < n; ++i) p.push_back(static_cast<int32_t>(3 + rng() % (vocab - 3)));
      return p;
    };
    const Prompt base = random_tokens(37);  // 9 full blocks + 1 token
    Prompt other = Slice(base, 20);         // 5 blocks shared, then its own
    for (int32_t t : random_tokens(10)) other.push_back(t);
    std::vector<Prompt> prompts = {base, base, other, Slice(base, 36)};

    // Reference: each request alone, nothing cached. Only rank 0 has tokens;
    // the fifth prompt (the first one's conversation so far) is rank 0's.
    Served first = Serve(*rm->runner, comm_, false, {{base}});
    if (comm_.rank() == 0) {
      Prompt turn = base;
      turn.insert(turn.end(), first.tokens[0].begin(), first.tokens[0].end());
      prompts.push_back(turn);
    }
    std::vector<std::vector<Prompt>> alone;
    for (const Prompt& p : prompts) alone.push_back({p});
    std::vector<std::vector<Prompt>> together = {prompts, prompts};

    Served ref = Serve(*rm->runner, comm_, false, alone);
    Served hits = Serve(*rm->runner, comm_, true, alone);
    Served concurrent = Serve(*rm->runner, comm_, true, together);
    Served preempted = Serve(*small->runner, comm_, true, together);
    if (comm_.rank() != 0) continue;

    ASSERT_EQ(ref.tokens.size(), prompts.size());
    EXPECT_EQ(ref.hit_tokens, 0);
    // One after another: the second finds 9 blocks (its last token is
    // computed), the third 5, the fourth 8 (its last block is computed again),
    // the fifth the first's prompt and the output it computed (11 blocks).
    EXPECT_EQ(hits.hit_tokens, 36 + 20 + 32 + 44);
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(hits.tokens[i], ref.tokens[i]) << "request " << i;
      EXPECT_EQ(concurrent.tokens[i], ref.tokens[i]) << "request " << i << ", first wave";
      EXPECT_EQ(concurrent.tokens[i + prompts.size()], ref.tokens[i]) << "request " << i;
      EXPECT_EQ(preempted.tokens[i], ref.tokens[i]) << "request " << i << ", small cache";
      EXPECT_EQ(preempted.tokens[i + prompts.size()], ref.tokens[i]) << "request " << i;
    }
    EXPECT_GE(concurrent.hit_tokens, 36 + 20 + 32 + 44) << "the second wave hits at least that";
    EXPECT_GT(preempted.preemptions, 0) << "the small cache did not preempt";
    EXPECT_GT(preempted.hit_tokens, 0);
    std::printf("[prefix] P=%d %s: hit tokens alone %lld / %lld, together %lld / %lld, "
                "small cache %lld / %lld with %lld preemptions\n",
                comm_.size(), path.substr(path.rfind('/') + 1).c_str(),
                static_cast<long long>(hits.hit_tokens), static_cast<long long>(hits.query_tokens),
                static_cast<long long>(concurrent.hit_tokens),
                static_cast<long long>(concurrent.query_tokens),
                static_cast<long long>(preempted.hit_tokens),
                static_cast<long long>(preempted.query_tokens),
                static_cast<long long>(preempted.preemptions));
  }
}

}  // namespace
}  // namespace gs
