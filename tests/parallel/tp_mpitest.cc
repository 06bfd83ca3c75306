// Tensor parallelism by KV group, under mpirun: every fixture whose shape
// admits the job's rank count is run across the ranks and compared with the
// same model on one rank (greedy tokens identical, logprobs within 1e-4; the
// real SmolLM2 within 1e-3). Also counts the collectives per layer and checks
// that each rank holds what `plan` says.
#include <mpi.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <gtest/gtest.h>

#include "parallel/collective_traffic.h"
#include "parallel/mpi_communicator.h"
#include "core/plan_report.h"
#include "core/rank_model.h"
#include "core/step_protocol.h"
#include "core/step_traffic.h"
#include "tests/model_harness.h"
#include "tests/test_util.h"

namespace gs {
namespace {

struct Trace {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
};

float LogProb(const std::vector<float>& logits, int32_t tok) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double s = 0;
  for (float l : logits) s += std::exp(static_cast<double>(l) - mx);
  return static_cast<float>(logits[tok] - mx - std::log(s));
}

int32_t ArgMax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Greedy decoding of `steps` tokens; collective over the model's communicator.
// Rank 0 broadcasts each chosen token so every rank feeds the same one.
Trace Greedy(LlamaModel& model, Communicator& comm, const std::vector<int32_t>& prompt,
             int steps) {
  gs::testing::SequenceRunner run(model, static_cast<int>(prompt.size()) + steps + 1);
  Trace t;
  auto logits = run.Feed(prompt);
  for (int i = 0; i < steps; ++i) {
    int32_t tok = 0;
    if (comm.rank() == 0) {
      tok = ArgMax(logits.back());
      t.tokens.push_back(tok);
      t.logprobs.push_back(LogProb(logits.back(), tok));
    }
    comm.Broadcast(&tok, sizeof(tok), 0);
    logits = run.Feed({tok});
  }
  return t;
}

struct Fixture {
  std::string path;
  std::vector<int32_t> prompt;
  double tol;
};

std::vector<Fixture> Fixtures() {
  std::vector<Fixture> f;
  const std::vector<int32_t> p = {1, 17, 99, 3, 250, 42, 7, 128};
  for (const char* m : {"mha", "mqa", "gqa", "g9x3", "qwen2", "g9x3.q8_0.gguf", "gqa.gguf"}) {
    f.push_back({gs::testing::DataPath(std::string("models/") + m), p, 1e-4});
  }
  const std::string smol = gs::testing::SmolLM2Path();
  if (!smol.empty()) f.push_back({smol, {504, 3575, 2240, 282, 4649, 314}, 1e-3});
  return f;
}

class TensorParallelTest : public ::testing::Test {
 protected:
  MpiCommunicator comm_;
};

// With fp32 activations the ranks compute exactly the one-rank products, cut
// differently: only the fp32 summation order changes. With int8 activations
// (the default) those last-bit differences can also move an activation across
// a rounding boundary of its 8-bit group, an error of the size the int8 path
// has anyway, so the bound is looser (kInt8Tol) and the tokens are compared
// up to the first step whose logprobs are that close to a tie.
constexpr double kInt8Tol = 0.1;

TEST_F(TensorParallelTest, GreedyTokensAndLogprobsEqualOneRank) {
  int ran = 0;
  for (const Fixture& f : Fixtures()) {
    for (const kernels::Activations act :
         {kernels::Activations::kFp32, kernels::Activations::kInt8}) {
      SCOPED_TRACE(f.path + " activations " + kernels::ActivationsName(act));
      auto src = WeightSource::Open(f.path);
      ASSERT_TRUE(src.ok()) << src.status().ToString();
      if (!ShardPlan::Make((*src)->config(), comm_.size()).ok()) continue;
      ++ran;
      const bool exact = act == kernels::Activations::kFp32;
      const double tol = exact ? f.tol : std::max(f.tol, kInt8Tol);
      // Reference: the whole model on rank 0 alone.
      Trace ref;
      if (comm_.rank() == 0) {
        LocalCommunicator local;
        auto plan1 = ShardPlan::Make((*src)->config(), 1);
        auto m1 = LlamaModel::Load(**src, *plan1, local);
        ASSERT_TRUE(m1.ok()) << m1.status().ToString();
        (*m1)->set_activations(act);
        ref = Greedy(**m1, local, f.prompt, 8);
      }
      auto rm = LoadRankModel(f.path, comm_);
      ASSERT_TRUE(rm.ok()) << rm.status().ToString();
      rm->model->set_activations(act);
      Trace tp = Greedy(*rm->model, comm_, f.prompt, 8);
      if (comm_.rank() == 0) {
        ASSERT_EQ(tp.tokens.size(), ref.tokens.size());
        double mx = 0;
        size_t compared = 0;
        for (size_t i = 0; i < tp.logprobs.size(); ++i) {
          EXPECT_NEAR(tp.logprobs[i], ref.logprobs[i], tol) << "step " << i;
          mx = std::max(mx, std::fabs(static_cast<double>(tp.logprobs[i]) - ref.logprobs[i]));
          ++compared;
          if (tp.tokens[i] != ref.tokens[i]) {
            // Only a near tie may go either way: both picks had logprobs
            // within tol (checked above), and the runs part here.
            EXPECT_FALSE(exact) << "step " << i;
            break;
          }
        }
        std::printf("[tp] P=%d %s %s greedy %zu/%zu steps compared, max |dlogprob| %.2e\n",
                    comm_.size(), f.path.substr(f.path.rfind('/') + 1).c_str(),
                    kernels::ActivationsName(act), compared, tp.tokens.size(), mx);
      }
    }
  }
  EXPECT_GT(ran, 0) << "no fixture admits " << comm_.size() << " ranks";
}

TEST_F(TensorParallelTest, TwoAllReducesPerLayer) {
  CountingCommunicator counting(comm_);
  const std::string path = gs::testing::DataPath(comm_.size() == 3 ? "models/g9x3" : "models/gqa");
  auto rm = LoadRankModel(path, counting);
  ASSERT_TRUE(rm.ok()) << rm.status().ToString();
  const int L = rm->model->config().n_layers;
  gs::testing::SequenceRunner run(*rm->model, 16);
  counting.Reset();
  run.Feed({1, 2, 3, 4});  // a prefill step
  EXPECT_EQ(counting.all_reduces(), 2 * L + 1) << "2 per layer + 1 for the embedding";
  EXPECT_EQ(counting.gathers(), 1) << "logits gathered once to rank 0";
  counting.Reset();
  run.Feed({5});  // a decode step
  EXPECT_EQ(counting.all_reduces(), 2 * L + 1);
  if (comm_.rank() == 0) {
    std::printf("[tp] P=%d: %lld all-reduces per step for %d layers\n", comm_.size(),
                static_cast<long long>(counting.all_reduces()), L);
  }
}

TEST_F(TensorParallelTest, EachRankHoldsWhatPlanSays) {
  std::vector<std::string> paths = {gs::testing::DataPath("models/g9x3"),
                                    gs::testing::DataPath("models/gqa")};
  const std::string smol = gs::testing::SmolLM2Path();
  if (!smol.empty()) paths.push_back(smol);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    auto src = WeightSource::Open(path);
    ASSERT_TRUE(src.ok());
    if (!ShardPlan::Make((*src)->config(), comm_.size()).ok()) continue;
    auto rm = LoadRankModel(path, comm_);
    ASSERT_TRUE(rm.ok());
    // The plan's KV figures in the dtype of the cache the model makes.
    const DType kv_dtype = rm->model->ops().kv_dtype();
    auto rep = MakePlanReport(**src, comm_.size(), kv_dtype);
    auto rep1 = MakePlanReport(**src, 1, kv_dtype);
    ASSERT_TRUE(rep.ok() && rep1.ok());
    const WeightBytes& real = rm->model->weight_bytes();
    const RankReport& planned = rep->ranks[comm_.rank()];
    EXPECT_EQ(real.layers, planned.weights.layers);
    EXPECT_EQ(real.embedding, planned.weights.embedding);
    EXPECT_EQ(real.lm_head, planned.weights.lm_head);
    EXPECT_EQ(real.total(), planned.weights.total());
    auto cache = rm->model->MakeKvCache(8, 16);
    EXPECT_EQ(cache->bytes(), planned.kv_bytes_per_token * 8 * 16);
    const double frac = static_cast<double>(real.layers) / rep1->ranks[0].weights.layers;
    std::printf("[tp] P=%d rank %d %s: layer weights %.1f MiB (%.3f of one rank), KV %lld B/token\n",
                comm_.size(), comm_.rank(), path.substr(path.rfind('/') + 1).c_str(),
                real.layers / 1048576.0, frac, static_cast<long long>(planned.kv_bytes_per_token));
    if (comm_.size() == 3 && rm->model->config().n_kv_heads == 3) {
      EXPECT_LE(frac, 0.40);
    }
  }
}

// MpiRuntime raised Open MPI's shared-memory eager limit before MPI_Init, and
// Open MPI took it: a batched step's all-reduces go eagerly (the test's
// launcher, GS_MPIRUN, leaves the limit unset and keeps the transport). Open
// MPI closes that transport on a rank with no other rank on its host, and
// then there is no limit to read.
TEST_F(TensorParallelTest, SharedMemoryEagerLimitIsRaised) {
  const long long limit = MpiSharedMemoryEagerLimit();
  if (limit == -1) {
    EXPECT_EQ(World::FromMpi().local_size, 1) << "ranks share a host, but the shared-memory "
                                                 "transport's eager limit could not be read";
  } else {
    EXPECT_EQ(limit, kMpiEagerLimitBytes);
  }
}

// Each element's sum is the same bits whatever the message size and wherever
// the element sits in it: otherwise a token's result would depend on how many
// tokens share its step (batching, prefix-cache hits). The values make the
// order visible: 1 + 1e8 - 1e8 is 0 or 1 depending on which pair is added first.
TEST_F(TensorParallelTest, AllReduceSumDoesNotDependOnTheMessageSize) {
  const float mine[] = {1.0f, 1e8f, -1e8f, 0.5f};
  const float v = mine[comm_.rank() % 4];
  float one = v;
  comm_.AllReduceSum(&one, 1);
  for (const size_t n : {size_t{7}, size_t{4096}, size_t{1} << 18}) {
    std::vector<float> big(n, v);
    comm_.AllReduceSum(big.data(), n);
    size_t differ = 0;
    for (float x : big) differ += std::memcmp(&x, &one, sizeof(float)) != 0;
    EXPECT_EQ(differ, 0u) << n << " elements; alone: " << one;
  }
  // And every rank has the same bits.
  std::vector<float> all(static_cast<size_t>(comm_.size()));
  comm_.AllGather(&one, sizeof(float), all.data());
  for (float x : all) EXPECT_EQ(std::memcmp(&x, &one, sizeof(float)), 0);
}

// Rank r's element i: magnitudes from 1e-4 to 1e4 and both signs, so that
// adding in another order changes the low bits.
float RankValue(int r, size_t i) {
  const int64_t h = (7919LL * r + 104729LL * static_cast<int64_t>(i) + 13) % 2001 - 1000;
  return static_cast<float>(h) * std::pow(10.0f, static_cast<float>((r + 3 * i) % 9) - 4.0f);
}

// Every rank gets, bit for bit, the fp32 sum of the ranks' values added in
// rank order, for odd sizes and sizes below the rank count (empty chunks),
// and it is as close to the double-precision sum as fp32 rounding allows.
TEST_F(TensorParallelTest, AllReduceSumIsTheRankOrderSum) {
  const int P = comm_.size();
  for (const size_t n : {size_t{1}, static_cast<size_t>(P - 1), size_t{7}, size_t{1001},
                         size_t{4099}}) {
    if (n == 0) continue;
    // Every rank's values, rounded to fp32 in memory before any sum (a
    // product folded into a sum by FMA contraction would skip that rounding).
    std::vector<float> values(n * P);
    for (int r = 0; r < P; ++r) {
      for (size_t i = 0; i < n; ++i) values[r * n + i] = RankValue(r, i);
    }
    std::vector<float> data(values.begin() + comm_.rank() * n,
                            values.begin() + (comm_.rank() + 1) * n);
    comm_.AllReduceSum(data.data(), n);
    size_t differ = 0;
    for (size_t i = 0; i < n; ++i) {
      float f = values[i];
      double d = values[i], mag = std::fabs(d);
      for (int r = 1; r < P; ++r) {
        f += values[r * n + i];
        d += values[r * n + i];
        mag += std::fabs(static_cast<double>(values[r * n + i]));
      }
      differ += std::memcmp(&f, &data[i], sizeof(float)) != 0;
      EXPECT_NEAR(data[i], d, P * 6e-8 * mag) << "element " << i << " of " << n;
    }
    EXPECT_EQ(differ, 0u) << n << " elements";
    std::vector<float> all(n * P);
    comm_.AllGather(data.data(), n * sizeof(float), all.data());
    for (int r = 0; r < P; ++r) {
      EXPECT_EQ(std::memcmp(all.data() + r * n, data.data(), n * sizeof(float)), 0) << "rank " << r;
    }
  }
}

// A step of `n_seqs` sequences with `n_new` tokens each from position
// `start`, block tables `max_blocks` long (blocks of 16), logits for each
// sequence's last token: what the engine sends.
ModelInput MakeStep(int n_seqs, int n_new, int start, int max_blocks) {
  ModelInput in;
  in.max_blocks = max_blocks;
  for (int s = 0; s < n_seqs; ++s) {
    for (int b = 0; b < max_blocks; ++b) in.block_tables.push_back(s * max_blocks + b);
    for (int p = start; p < start + n_new; ++p) {
      in.tokens.push_back(3 + (s * 31 + p) % 50);
      in.positions.push_back(p);
      in.slots.push_back(in.block_tables[s * max_blocks + p / 16] * 16 + p % 16);
      in.token_seq.push_back(s);
    }
    in.logit_rows.push_back(static_cast<int32_t>(in.tokens.size()) - 1);
  }
  return in;
}

// One engine step as the engine runs it (rank 0 sends it over StepChannel,
// the others receive it, all run Forward): what each rank sends is
// StepTraffic's figure, and the collectives are the step broadcast(s), one
// all-reduce for the embedding and two per layer, and one gather of logits.
TEST_F(TensorParallelTest, StepSendsWhatStepTrafficSays) {
  CountingCommunicator counting(comm_);
  const std::string path = gs::testing::DataPath(comm_.size() == 3 ? "models/g9x3" : "models/gqa");
  auto rm = LoadRankModel(path, counting);
  ASSERT_TRUE(rm.ok()) << rm.status().ToString();
  LlamaModel& model = *rm->model;
  const int L = model.config().n_layers;
  const int V = model.config().vocab_size;
  auto cache = model.MakeKvCache(16 * 40, 16);
  StepChannel channel(counting);
  struct Case {
    const char* name;
    ModelInput in;
  };
  const Case cases[] = {{"prefill of 20 tokens", MakeStep(1, 20, 0, 2)},
                        {"decode, batch 1", MakeStep(1, 1, 20, 2)},
                        {"decode, batch 16, 40 blocks", MakeStep(16, 1, 5, 40)}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<float> logits(c.in.logit_rows.size() * static_cast<size_t>(V));
    counting.Reset();
    if (comm_.rank() == 0) {
      channel.Send(StepCommand::kRun, c.in);
      model.Forward(c.in, *cache, logits.data());
    } else {
      ModelInput got;
      ASSERT_EQ(channel.Receive(&got), StepCommand::kRun);
      EXPECT_EQ(got.tokens, c.in.tokens);
      EXPECT_EQ(got.block_tables, c.in.block_tables);
      EXPECT_EQ(got.logit_rows, c.in.logit_rows);
      model.Forward(got, *cache, nullptr);
    }
    const StepSizes sizes{c.in.n_tokens(), static_cast<int64_t>(c.in.logit_rows.size()),
                          static_cast<int64_t>(c.in.block_tables.size())};
    const Traffic want = StepTraffic(*rm->plan, comm_.rank(), sizes);
    EXPECT_EQ(counting.sent().messages, want.messages);
    EXPECT_EQ(counting.sent().bytes, want.bytes);
    EXPECT_EQ(counting.all_reduces(), 2 * L + 1);
    EXPECT_EQ(counting.gathers(), 1);
    const StepChannel::MessageBytes m = StepChannel::StepMessageBytes(
        sizes.n_tokens, sizes.n_block_table_entries, sizes.n_logit_rows);
    EXPECT_EQ(counting.broadcasts(), m.rest > 0 ? 2 : 1);
    EXPECT_EQ(counting.barriers(), 0);
    EXPECT_GT(counting.seconds(), 0.0);
    std::printf("[tp] P=%d rank %d %s: %lld messages, %lld bytes sent (step broadcast %lld + %lld B)\n",
                comm_.size(), comm_.rank(), c.name, static_cast<long long>(counting.sent().messages),
                static_cast<long long>(counting.sent().bytes), static_cast<long long>(m.first),
                static_cast<long long>(m.rest));
  }
}

// `plan --memory-per-rank` against what a rank really allocates for the same
// budget: its cache of the planned block count has the planned bytes, and
// the largest step's activation scratch is the planned scratch (less rank
// 0's host logits, which the engine holds).
TEST_F(TensorParallelTest, CapacityPlanEqualsTheAllocation) {
  std::vector<std::string> paths = {gs::testing::DataPath("models/g9x3")};
  const std::string smol = gs::testing::SmolLM2Path();
  if (!smol.empty()) paths.push_back(smol);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    auto src = WeightSource::Open(path);
    ASSERT_TRUE(src.ok());
    if (!ShardPlan::Make((*src)->config(), comm_.size()).ok()) continue;
    auto rm = LoadRankModel(path, comm_);
    ASSERT_TRUE(rm.ok());
    LlamaModel& model = *rm->model;
    auto rep = MakePlanReport(**src, comm_.size(), model.ops().kv_dtype());
    ASSERT_TRUE(rep.ok());
    KvBudget b;
    b.block_size = 16;
    b.max_batch_tokens = 64;
    b.max_logit_rows = 8;
    b.memory_per_rank = rep->ranks[0].weights.total() + (48ll << 20);
    const KvCapacity cap = PlanKvCapacity(*rep, b);
    ASSERT_GE(cap.n_blocks, b.max_batch_tokens / b.block_size);
    const RankCapacity& mine = cap.ranks[comm_.rank()];
    auto cache = model.MakeKvCache(cap.n_blocks, b.block_size);
    EXPECT_EQ(cache->bytes(), cap.kv_bytes(comm_.rank()));
    EXPECT_EQ(mine.block_bytes * cap.n_blocks, cache->bytes());
    // The largest step: one sequence of max_batch_tokens tokens, the last
    // max_logit_rows of them asking for logits.
    ModelInput in;
    const int n = b.max_batch_tokens;
    in.max_blocks = n / b.block_size;
    for (int t = 0; t < n; ++t) {
      in.tokens.push_back(3 + t % 50);
      in.positions.push_back(t);
      in.slots.push_back(t);
      in.token_seq.push_back(0);
    }
    for (int k = 0; k < in.max_blocks; ++k) in.block_tables.push_back(k);
    for (int r = n - b.max_logit_rows; r < n; ++r) in.logit_rows.push_back(r);
    std::vector<float> logits(static_cast<size_t>(b.max_logit_rows) *
                              model.config().vocab_size);
    model.Forward(in, *cache, comm_.rank() == 0 ? logits.data() : nullptr);
    int64_t host_logits = 0;
    if (comm_.rank() == 0) host_logits = static_cast<int64_t>(logits.size() * sizeof(float));
    EXPECT_EQ(model.scratch_bytes() + host_logits, mine.scratch_bytes);
    EXPECT_EQ(model.weight_bytes().total() + mine.scratch_bytes + mine.kv_budget_bytes,
              b.memory_per_rank);
    EXPECT_LE(model.weight_bytes().total() + mine.scratch_bytes + cache->bytes(),
              b.memory_per_rank);
    if (comm_.rank() == 0) {
      std::printf("[tp] P=%d %s: %d KV blocks in %lld MiB per rank (rank %d limits)\n",
                  comm_.size(), path.substr(path.rfind('/') + 1).c_str(), cap.n_blocks,
                  static_cast<long long>(b.memory_per_rank >> 20), cap.limiting_rank);
    }
  }
}

// Where each rank runs: its network namespace. Under the multi-host test
// (GS_EXPECT_DISTINCT_HOSTS=1) every rank must be on a host of its own.
TEST_F(TensorParallelTest, HostNames) {
  char mine[128] = {0};
  const ssize_t len = readlink("/proc/self/ns/net", mine, sizeof(mine) - 1);
  ASSERT_GT(len, 0);
  std::vector<char> all(sizeof(mine) * comm_.size());
  comm_.AllGather(mine, sizeof(mine), all.data());
  std::set<std::string> distinct;
  for (int r = 0; r < comm_.size(); ++r) {
    const std::string ns(all.data() + r * sizeof(mine));
    distinct.insert(ns);
    if (comm_.rank() == 0) std::printf("[tp] rank %d runs in %s\n", r, ns.c_str());
  }
  if (std::getenv("GS_EXPECT_DISTINCT_HOSTS") != nullptr) {
    EXPECT_EQ(static_cast<int>(distinct.size()), comm_.size());
  }
}

}  // namespace
}  // namespace gs
