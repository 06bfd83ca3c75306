// End to end: `mpirun -np 2 groupshard serve` as a child process, driven by
// the C++ client. Acceptance items of the serving issue: batching does not
// change greedy outputs, preemption recomputes correctly, disconnects free
// blocks promptly, SIGTERM drains.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "proto/client.h"
#include "tests/proto/server_process.h"
#include "tests/test_util.h"

namespace gs {
namespace {

namespace pb = groupshard::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

struct Outcome {
  grpc::Status status;
  std::vector<int32_t> ids;
  std::string text;
  pb::GenerateResponse last;
};

Outcome RunRequest(InferenceClient& client, const pb::GenerateRequest& req) {
  Outcome o;
  o.status = client.Generate(
      req,
      [&](const pb::GenerateResponse& m) {
        o.ids.insert(o.ids.end(), m.token_ids().begin(), m.token_ids().end());
        o.text += m.text();
        if (m.finish_reason() != pb::FINISH_REASON_UNSPECIFIED) o.last = m;
        return true;
      },
      seconds(300));
  return o;
}

// 16 greedy requests of different prompt and output lengths.
std::vector<pb::GenerateRequest> MixedRequests(bool text_prompts, int max_out) {
  std::vector<pb::GenerateRequest> reqs;
  std::mt19937 rng(7);
  const char* words[] = {"The", "river", "keeps", "a", "secret", "about", "old", "stones",
                         "and", "light"};
  for (int i = 0; i < 16; ++i) {
    pb::GenerateRequest r;
    r.set_request_id("r" + std::to_string(i));
    const int n_prompt = 3 + (i * 5) % 23;
    if (text_prompts) {
      std::string p;
      for (int w = 0; w < n_prompt; ++w) p += std::string(w ? " " : "") + words[rng() % 10];
      r.set_prompt(p);
    } else {
      for (int k = 0; k < n_prompt; ++k) r.add_prompt_token_ids(3 + static_cast<int>(rng() % 250));
    }
    r.set_max_tokens(4 + (i * 7) % (max_out - 3));
    r.set_ignore_eos(true);
    r.mutable_sampling()->set_temperature(0.0f);
    reqs.push_back(r);
  }
  return reqs;
}

// Sends each request alone, then all at once; the tokens must agree.
void ExpectConcurrentMatchesAlone(InferenceClient& client, const std::vector<pb::GenerateRequest>& reqs) {
  std::vector<Outcome> alone;
  for (const auto& r : reqs) {
    alone.push_back(RunRequest(client, r));
    ASSERT_TRUE(alone.back().status.ok()) << alone.back().status.error_message();
    ASSERT_EQ(static_cast<int>(alone.back().ids.size()), r.max_tokens());
  }
  std::vector<Outcome> together(reqs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reqs.size(); ++i) {
    threads.emplace_back([&, i] { together[i] = RunRequest(client, reqs[i]); });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_TRUE(together[i].status.ok()) << i << ": " << together[i].status.error_message();
    EXPECT_EQ(together[i].ids, alone[i].ids) << "request " << i;
    EXPECT_EQ(together[i].text, alone[i].text) << "request " << i;
    EXPECT_EQ(together[i].last.finish_reason(), pb::FINISH_REASON_LENGTH);
    EXPECT_EQ(together[i].last.usage().completion_tokens(), reqs[i].max_tokens());
  }
}

pb::ModelInfoResponse Info(InferenceClient& client) {
  pb::ModelInfoResponse info;
  EXPECT_TRUE(client.ModelInfo(&info).ok());
  return info;
}

// ModelInfo once no KV block is referenced, or after a second: the step loop
// publishes it after each step, so the last release may show a step later.
pb::ModelInfoResponse InfoWhenAllBlocksFree(InferenceClient& client) {
  pb::ModelInfoResponse info = Info(client);
  for (int i = 0; i < 20 && info.kv_free_blocks() != info.kv_total_blocks(); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
    info = Info(client);
  }
  return info;
}

TEST(ServeE2E, ConcurrentGreedyMatchesAloneFixture) {
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 2,
                           {"--kv-blocks", "128", "--max-batch-tokens", "64"}, &why))
      << why;
  InferenceClient client(server.address());
  ExpectConcurrentMatchesAlone(client, MixedRequests(false, 40));
  pb::ModelInfoResponse info = InfoWhenAllBlocksFree(client);
  EXPECT_EQ(info.tp_size(), 2);
  EXPECT_EQ(info.shards_size(), 2);
  // No block referenced; the blocks of finished requests may stay cached.
  EXPECT_EQ(info.kv_free_blocks(), info.kv_total_blocks());
  // The concurrent run found the full blocks the lone runs left cached.
  EXPECT_TRUE(info.prefix_cache());
  EXPECT_GT(info.prefix_hit_tokens(), 0);
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
}

TEST(ServeE2E, ConcurrentGreedyMatchesAloneSmolLM2) {
  const std::string model = testing::SmolLM2Path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf unavailable";
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(model, 2, {"--kv-blocks", "256"}, &why)) << why;
  InferenceClient client(server.address());
  ExpectConcurrentMatchesAlone(client, MixedRequests(true, 24));
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
}

// A stream resumed from its prompt and the first k tokens it delivered
// (what a coordinator sends to another group when the first one dies) goes
// on exactly as the uninterrupted stream did: same tokens, and the text of
// the first k messages followed by the resumed text is the whole text, with
// characters cut between tokens and stop strings spanning the cut included.
TEST(ServeE2E, ResumedStreamContinuesTheUninterruptedOne) {
  const std::string model = testing::SmolLM2Path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf unavailable";
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(model, 2, {"--kv-blocks", "128"}, &why)) << why;
  InferenceClient client(server.address());
  struct Message {
    std::vector<int32_t> ids;
    std::string text;
  };
  auto run = [&](const pb::GenerateRequest& req, std::vector<Message>* msgs, pb::GenerateResponse* last) {
    return client.Generate(
        req,
        [&](const pb::GenerateResponse& m) {
          msgs->push_back({{m.token_ids().begin(), m.token_ids().end()}, m.text()});
          if (m.finish_reason() != pb::FINISH_REASON_UNSPECIFIED) *last = m;
          return true;
        },
        seconds(120));
  };
  auto base = [](const char* prompt) {
    pb::GenerateRequest r;
    r.set_prompt(prompt);
    r.set_max_tokens(28);
    r.set_ignore_eos(true);
    return r;
  };
  std::vector<std::pair<std::string, pb::GenerateRequest>> cases;
  cases.push_back({"greedy", base("The capital of France is")});
  cases.back().second.mutable_sampling()->set_temperature(0.0f);
  // Japanese text: its characters are split over byte tokens, so the text
  // stream holds bytes back across the cut.
  cases.push_back({"sampled", base("Write one sentence in Japanese about the sea:")});
  cases.back().second.mutable_sampling()->set_temperature(0.9f);
  cases.back().second.mutable_sampling()->set_top_p(0.95f);
  cases.back().second.mutable_sampling()->set_seed(11);
  cases.back().second.set_logprobs(true);
  {
    // A stop string taken from the middle of the greedy text, so that some
    // cuts fall inside it.
    std::vector<Message> m;
    pb::GenerateResponse last;
    ASSERT_TRUE(run(cases[0].second, &m, &last).ok());
    std::string text;
    for (const Message& x : m) text += x.text;
    ASSERT_GT(text.size(), 40u) << text;
    pb::GenerateRequest r = cases[0].second;
    r.add_stop(text.substr(text.size() / 2, 6));
    cases.push_back({"stop \"" + r.stop(0) + "\"", r});
  }
  for (const auto& [name, req] : cases) {
    std::vector<Message> whole;
    pb::GenerateResponse whole_last;
    ASSERT_TRUE(run(req, &whole, &whole_last).ok()) << name;
    int n_ids = 0;
    for (const Message& x : whole) n_ids += static_cast<int>(x.ids.size());
    ASSERT_GT(n_ids, 4) << name;
    for (int k : {1, n_ids / 3, n_ids - 2}) {
      pb::GenerateRequest resumed = req;
      std::string head_text, tail_text;
      std::vector<int32_t> tail_ids, got_ids;
      int given = 0;
      for (const Message& x : whole) {
        if (given < k) {
          resumed.mutable_resume_token_ids()->Add(x.ids.begin(), x.ids.end());
          given += static_cast<int>(x.ids.size());
          head_text += x.text;
        } else {
          tail_ids.insert(tail_ids.end(), x.ids.begin(), x.ids.end());
          tail_text += x.text;
        }
      }
      std::vector<Message> rest;
      pb::GenerateResponse rest_last;
      const grpc::Status st = run(resumed, &rest, &rest_last);
      ASSERT_TRUE(st.ok()) << name << " k=" << k << ": " << st.error_message();
      std::string got_text;
      for (const Message& x : rest) {
        got_ids.insert(got_ids.end(), x.ids.begin(), x.ids.end());
        got_text += x.text;
      }
      EXPECT_EQ(got_ids, tail_ids) << name << " k=" << k;
      EXPECT_EQ(head_text + got_text, head_text + tail_text) << name << " k=" << k;
      EXPECT_EQ(rest_last.finish_reason(), whole_last.finish_reason()) << name << " k=" << k;
      EXPECT_EQ(rest_last.usage().completion_tokens(), whole_last.usage().completion_tokens())
          << name << " k=" << k;
      EXPECT_EQ(rest_last.usage().prompt_tokens(), whole_last.usage().prompt_tokens()) << name;
    }
  }
  // Resumed tokens are checked like a prompt.
  pb::GenerateRequest bad = cases[0].second;
  bad.add_resume_token_ids(-3);
  std::vector<Message> none;
  pb::GenerateResponse unused;
  grpc::Status st = run(bad, &none, &unused);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("resume_token_ids[0]"), std::string::npos) << st.error_message();
  bad = cases[0].second;
  for (int i = 0; i < bad.max_tokens(); ++i) bad.add_resume_token_ids(5);
  st = run(bad, &none, &unused);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("resume_token_ids"), std::string::npos) << st.error_message();
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
}

TEST(ServeE2E, SmallCacheForcesPreemptionAndStaysCorrect) {
  testing::ServerProcess server;
  std::string why;
  // 16 blocks of 16 tokens: about four of these sequences (~60 tokens) at once.
  ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 2,
                           {"--kv-blocks", "16", "--block-size", "16"}, &why))
      << why;
  InferenceClient client(server.address());
  std::vector<pb::GenerateRequest> reqs = MixedRequests(false, 40);
  for (auto& r : reqs) r.set_max_tokens(36);
  ExpectConcurrentMatchesAlone(client, reqs);
  const pb::ModelInfoResponse info = InfoWhenAllBlocksFree(client);
  EXPECT_GT(info.preemptions(), 0);
  EXPECT_EQ(info.kv_free_blocks(), 16);
  // Whether the concurrent run found cached blocks depends on arrival order
  // and eviction (SchedulerTest covers a preempted sequence's hits exactly).
  // After that churn the cache must still serve a repeated prompt: request 9
  // has 25 prompt tokens, one full block, which its second run must find.
  ASSERT_GE(reqs[9].prompt_token_ids_size(), 16);
  const Outcome first = RunRequest(client, reqs[9]);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  const int64_t hits_before = InfoWhenAllBlocksFree(client).prefix_hit_tokens();
  const Outcome again = RunRequest(client, reqs[9]);
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.ids, first.ids);
  const pb::ModelInfoResponse after = InfoWhenAllBlocksFree(client);
  EXPECT_EQ(after.prefix_hit_tokens() - hits_before, 16);
  EXPECT_EQ(after.kv_free_blocks(), 16);
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
}

// Requests sharing leading tokens, through a server with the prefix cache and
// one started with --no-prefix-cache: the same tokens, and ModelInfo counts
// exactly the blocks that were reused.
TEST(ServeE2E, PrefixCacheReusesBlocksAndNoPrefixCacheTurnsItOff) {
  std::mt19937 rng(5);
  std::vector<int32_t> base;
  for (int i = 0; i < 70; ++i) base.push_back(3 + static_cast<int>(rng() % 250));
  auto request = [](const std::vector<int32_t>& ids) {
    pb::GenerateRequest r;
    for (int32_t t : ids) r.add_prompt_token_ids(t);
    r.set_max_tokens(12);
    r.set_ignore_eos(true);
    r.mutable_sampling()->set_temperature(0.0f);
    return r;
  };
  std::vector<int32_t> other(base.begin(), base.begin() + 40);  // 2 blocks of 16 shared
  for (int i = 0; i < 9; ++i) other.push_back(253 - i);
  const std::vector<pb::GenerateRequest> reqs = {request(base), request(base), request(other)};
  std::vector<std::vector<int32_t>> outputs[2];
  for (const bool cache : {true, false}) {
    SCOPED_TRACE(cache ? "prefix cache" : "--no-prefix-cache");
    testing::ServerProcess server;
    std::string why;
    std::vector<std::string> args = {"--kv-blocks", "64", "--block-size", "16"};
    if (!cache) args.push_back("--no-prefix-cache");
    ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 2, args, &why)) << why;
    InferenceClient client(server.address());
    for (const auto& r : reqs) {
      Outcome o = RunRequest(client, r);
      ASSERT_TRUE(o.status.ok()) << o.status.error_message();
      ASSERT_EQ(o.ids.size(), 12u);
      outputs[cache ? 0 : 1].push_back(o.ids);
    }
    pb::ModelInfoResponse info = Info(client);
    for (int i = 0; i < 20 && info.kv_free_blocks() != info.kv_total_blocks(); ++i) {
      std::this_thread::sleep_for(milliseconds(50));
      info = Info(client);
    }
    EXPECT_EQ(info.kv_free_blocks(), info.kv_total_blocks()) << "no block referenced at the end";
    EXPECT_EQ(info.prefix_cache(), cache);
    EXPECT_EQ(info.prefix_query_tokens(), 70 + 70 + 49);
    if (cache) {
      // The second finds the first's 4 full blocks, the third its first 2;
      // what the first computed, output included, stays cached: 81 tokens
      // computed (70 + 11 decoded) make 5 full blocks.
      EXPECT_EQ(info.prefix_hit_tokens(), 64 + 32);
      EXPECT_GE(info.kv_cached_blocks(), 5);
    } else {
      EXPECT_EQ(info.prefix_hit_tokens(), 0);
      EXPECT_EQ(info.kv_cached_blocks(), 0);
    }
    EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  ASSERT_EQ(outputs[0].size(), 3u);
  EXPECT_EQ(outputs[0][0], outputs[0][1]);
}

// The same with a q8_0 cache (a third of fp32's bytes): preemption and
// recomputation are blind to the dtype. ModelInfo and the start-up log say it.
TEST(ServeE2E, SmallQ8_0CacheForcesPreemptionAndStaysCorrect) {
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 2,
                           {"--kv-blocks", "16", "--block-size", "16", "--kv-dtype", "q8_0"}, &why))
      << why;
  InferenceClient client(server.address());
  std::vector<pb::GenerateRequest> reqs = MixedRequests(false, 40);
  for (auto& r : reqs) r.set_max_tokens(36);
  ExpectConcurrentMatchesAlone(client, reqs);
  const pb::ModelInfoResponse info = InfoWhenAllBlocksFree(client);
  EXPECT_GT(info.preemptions(), 0);
  EXPECT_EQ(info.kv_free_blocks(), 16);
  EXPECT_EQ(info.kv_dtype(), "q8_0");
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
  EXPECT_NE(server.Log().find("16 KV blocks of 16 tokens in q8_0"), std::string::npos)
      << server.Log();
}

// --kv-cache-mb buys blocks by the cache's bytes: g9x3 (2 layers, 3 groups
// of head_dim 32) needs 2·2·3 rows per token of 128 B (f32), 64 B (f16) or
// 34 B (q8_0, one block of 32), so 1 MiB holds 42, 85 or 160 blocks of 16.
TEST(ServeE2E, KvCacheMbHoldsMoreBlocksOfSmallerDTypes) {
  struct Case {
    const char* dtype;
    int64_t bytes_per_token;
    int blocks;
  };
  for (const Case& c : {Case{"f32", 1536, 42}, Case{"f16", 768, 85}, Case{"q8_0", 408, 160}}) {
    SCOPED_TRACE(c.dtype);
    testing::ServerProcess server;
    std::string why;
    ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 1,
                             {"--kv-cache-mb", "1", "--block-size", "16", "--kv-dtype", c.dtype},
                             &why))
        << why;
    InferenceClient client(server.address());
    const pb::ModelInfoResponse info = Info(client);
    EXPECT_EQ(info.kv_dtype(), c.dtype);
    EXPECT_EQ(info.kv_bytes_per_token_rank0(), c.bytes_per_token);
    EXPECT_EQ(info.kv_total_blocks(), c.blocks);
    EXPECT_EQ(info.kv_total_blocks(), (1 << 20) / (c.bytes_per_token * 16));
    EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
  }
}

TEST(ServeE2E, DisconnectFreesBlocksWithinOneSecond) {
  const std::string model = testing::SmolLM2Path();
  if (model.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf unavailable";
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(model, 2, {"--kv-blocks", "128"}, &why)) << why;
  InferenceClient client(server.address());
  pb::GenerateRequest req;
  req.set_prompt("Tell me a long story about the sea.");
  req.set_max_tokens(1000);
  req.set_ignore_eos(true);
  int seen = 0;
  pb::ModelInfoResponse during;
  grpc::Status st = client.Generate(req, [&](const pb::GenerateResponse& m) {
    if (++seen < 5) return true;
    during = Info(client);
    return false;  // walk away mid-stream
  });
  const auto t_cancel = Clock::now();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(during.kv_free_blocks(), during.kv_total_blocks());
  EXPECT_EQ(during.running(), 1);
  pb::ModelInfoResponse after;
  while (Clock::now() - t_cancel < seconds(1)) {
    after = Info(client);
    if (after.kv_free_blocks() == after.kv_total_blocks()) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(after.kv_free_blocks(), after.kv_total_blocks());
  EXPECT_EQ(after.running(), 0);
  EXPECT_LT(after.steps(), during.steps() + 100);  // it did not run to the end
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
}

TEST(ServeE2E, SigtermDrainsStreamsRefusesNewAndExitsZero) {
  std::string model = testing::SmolLM2Path();
  int n_tokens = 48;
  if (model.empty()) {
    model = testing::DataPath("models/g9x3.gguf");
    n_tokens = 200;
  }
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(model, 2, {"--kv-blocks", "256", "--drain-seconds", "50"}, &why)) << why;
  InferenceClient client(server.address());
  std::atomic<int> started{0};
  std::vector<Outcome> outs(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      pb::GenerateRequest req;
      req.add_prompt_token_ids(1);
      req.add_prompt_token_ids(40 + i);
      req.set_max_tokens(n_tokens);
      req.set_ignore_eos(true);
      bool counted = false;
      outs[i].status = client.Generate(req, [&](const pb::GenerateResponse& m) {
        outs[i].ids.insert(outs[i].ids.end(), m.token_ids().begin(), m.token_ids().end());
        if (!counted) started.fetch_add(1), counted = true;
        return true;
      }, seconds(120));
    });
  }
  const auto t0 = Clock::now();
  while (started.load() < 8 && Clock::now() - t0 < seconds(60)) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_EQ(started.load(), 8);
  std::thread terminator([&] { EXPECT_EQ(server.TerminateLeader(seconds(90)), 0) << server.Log(); });
  // New requests are refused while the old ones drain (or once it is gone).
  // Sent once the server says it is draining (or has gone): a loaded
  // machine may take a while to deliver the signal.
  InferenceClient probe(server.address());
  for (const auto t_term = Clock::now(); Clock::now() - t_term < seconds(30);) {
    pb::ModelInfoResponse info;
    const grpc::Status st = probe.ModelInfo(&info);
    if (!st.ok() || info.draining()) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  pb::GenerateRequest late;
  late.set_prompt("too late");
  late.set_max_tokens(4);
  InferenceClient late_client(server.address());
  const Outcome refused = RunRequest(late_client, late);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.status.error_message();
  for (auto& t : threads) t.join();
  terminator.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(outs[i].status.ok()) << i << ": " << outs[i].status.error_message();
    EXPECT_EQ(static_cast<int>(outs[i].ids.size()), n_tokens) << i;
  }
}

}  // namespace
}  // namespace gs
