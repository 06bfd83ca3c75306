#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "launcher/commands.h"
#include "proto/client.h"

namespace gs::launcher {

namespace {

namespace pb = groupshard::v1;
using Clock = std::chrono::steady_clock;

struct BenchServeOpts {
  std::string server = "127.0.0.1:50051";
  int streams = 1;
  int tokens = 128;
  int rounds = 1;
  std::string prompt = "Write a short story about a lighthouse keeper.";
  bool json = false;
  double timeout_s = 600;
  int shared_prefix_tokens = 0;  // 0: every request sends `prompt`
  int question_tokens = 32;
  float temperature = 0.0f;  // 0: greedy
  float top_p = 1.0f;
  int top_k = 0;
};

constexpr const char* kSystemText =
    "You are a careful assistant for a public library. Answer questions about opening hours, "
    "borrowing rules, the reading rooms, the archive of local newspapers and the children's "
    "section. Be brief and polite, say when you do not know, and never invent a rule. ";

std::vector<int32_t> Tokenize(InferenceClient& client, const std::string& text, bool special,
                              grpc::Status* st) {
  pb::TokenizeRequest req;
  req.set_text(text);
  req.set_add_special(special);
  pb::TokenizeResponse resp;
  *st = client.Tokenize(req, &resp);
  return std::vector<int32_t>(resp.token_ids().begin(), resp.token_ids().end());
}

// --shared-prefix-tokens: one system prompt of exactly `n_prefix` tokens,
// then a question of exactly `n_question` tokens for each request, different
// from its first token on, as token ids so that the requests share exactly
// the prefix.
grpc::Status SharedPrefixPrompts(InferenceClient& client, int n_requests, int n_prefix,
                                 int n_question, std::vector<std::vector<int32_t>>* out) {
  grpc::Status st;
  std::vector<int32_t> prefix = Tokenize(client, kSystemText, true, &st);
  const std::vector<int32_t> more = Tokenize(client, kSystemText, false, &st);
  if (!st.ok()) return st;
  if (more.empty()) return grpc::Status(grpc::StatusCode::INTERNAL, "the system prompt has no tokens");
  while (static_cast<int>(prefix.size()) < n_prefix) prefix.insert(prefix.end(), more.begin(), more.end());
  prefix.resize(static_cast<size_t>(n_prefix));
  const std::vector<int32_t> filler = Tokenize(client, " Please answer in one sentence.", false, &st);
  if (!st.ok()) return st;
  for (int i = 0; i < n_requests; ++i) {
    std::vector<int32_t> q =
        Tokenize(client, std::to_string(i + 1) + ". Does the library open at " +
                             std::to_string(7 + i % 5) + " on day " + std::to_string(i) + "?",
                 false, &st);
    if (!st.ok()) return st;
    while (static_cast<int>(q.size()) < n_question) q.insert(q.end(), filler.begin(), filler.end());
    q.resize(static_cast<size_t>(n_question));
    std::vector<int32_t> p = prefix;
    p.insert(p.end(), q.begin(), q.end());
    out->push_back(std::move(p));
  }
  return grpc::Status::OK;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int RunBenchServe(const BenchServeOpts& o) {
  InferenceClient client(o.server);
  if (!client.WaitForReady(std::chrono::seconds(10))) {
    std::cerr << "groupshard bench serve: cannot connect to " << o.server << "\n";
    return 1;
  }
  const int n_requests = o.streams * o.rounds;
  std::vector<std::vector<int32_t>> prompts;
  if (o.shared_prefix_tokens > 0) {
    grpc::Status st = SharedPrefixPrompts(client, n_requests, o.shared_prefix_tokens,
                                          o.question_tokens, &prompts);
    if (!st.ok()) {
      std::cerr << "groupshard bench serve: tokenizing the prompts: " << st.error_message() << "\n";
      return 1;
    }
  }
  // The server's prefix-cache counters before and after: what prefill computed.
  pb::ModelInfoResponse before, after;
  if (grpc::Status st = client.ModelInfo(&before); !st.ok()) {
    std::cerr << "groupshard bench serve: ModelInfo: " << st.error_message() << "\n";
    return 1;
  }
  std::mutex mu;
  std::vector<double> ttft, itl;
  int64_t tokens = 0;
  int failures = 0;
  std::string first_error;
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int s = 0; s < o.streams; ++s) {
    threads.emplace_back([&, s] {
      for (int r = 0; r < o.rounds; ++r) {
        pb::GenerateRequest req;
        req.set_request_id("bench-" + std::to_string(s) + "-" + std::to_string(r));
        if (prompts.empty()) {
          req.set_prompt(o.prompt);
        } else {
          for (int32_t t : prompts[static_cast<size_t>(s * o.rounds + r)]) req.add_prompt_token_ids(t);
        }
        req.set_max_tokens(o.tokens);
        req.set_ignore_eos(true);
        req.mutable_sampling()->set_temperature(o.temperature);
        req.mutable_sampling()->set_top_p(o.top_p);
        req.mutable_sampling()->set_top_k(o.top_k);
        req.mutable_sampling()->set_seed(static_cast<uint64_t>(s * o.rounds + r + 1));
        std::vector<double> my_itl;
        double my_ttft = -1;
        int64_t my_tokens = 0;
        const auto start = Clock::now();
        auto last = start;
        grpc::Status st = client.Generate(
            req,
            [&](const pb::GenerateResponse& m) {
              const int n = m.token_ids_size();
              if (n == 0) return true;
              const auto now = Clock::now();
              if (my_ttft < 0) {
                my_ttft = std::chrono::duration<double>(now - start).count();
              } else {
                // Tokens that arrive together share the gap.
                const double gap = std::chrono::duration<double>(now - last).count() / n;
                for (int i = 0; i < n; ++i) my_itl.push_back(gap);
              }
              last = now;
              my_tokens += n;
              return true;
            },
            std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000)));
        std::lock_guard<std::mutex> lock(mu);
        if (!st.ok()) {
          if (failures++ == 0) first_error = GrpcCodeName(st.error_code()) + (": " + st.error_message());
          continue;
        }
        if (my_ttft >= 0) ttft.push_back(my_ttft);
        itl.insert(itl.end(), my_itl.begin(), my_itl.end());
        tokens += my_tokens;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double tps = wall > 0 ? static_cast<double>(tokens) / wall : 0.0;
  if (grpc::Status st = client.ModelInfo(&after); !st.ok()) {
    std::cerr << "groupshard bench serve: ModelInfo: " << st.error_message() << "\n";
    return 1;
  }
  const int64_t query = after.prefix_query_tokens() - before.prefix_query_tokens();
  const int64_t hit = after.prefix_hit_tokens() - before.prefix_hit_tokens();
  const int64_t shared = static_cast<int64_t>(o.shared_prefix_tokens) * n_requests;
  if (o.json) {
    nlohmann::json j = {{"streams", o.streams},
                        {"requests", o.streams * o.rounds},
                        {"failures", failures},
                        {"completion_tokens", tokens},
                        {"wall_s", wall},
                        {"tokens_per_s", tps},
                        {"ttft_p50_s", Percentile(ttft, 0.5)},
                        {"ttft_p99_s", Percentile(ttft, 0.99)},
                        {"itl_p50_s", Percentile(itl, 0.5)},
                        {"itl_p99_s", Percentile(itl, 0.99)},
                        {"prefix_cache", after.prefix_cache()},
                        {"prompt_tokens_admitted", query},
                        {"prompt_tokens_computed", query - hit},
                        {"prefix_hit_tokens", hit},
                        {"shared_prefix_tokens", shared},
                        {"temperature", o.temperature},
                        {"top_p", o.top_p},
                        {"top_k", o.top_k}};
    std::cout << j.dump() << std::endl;
  } else {
    std::printf("streams %d, requests %d (%d failed), %lld tokens in %.2f s\n", o.streams,
                o.streams * o.rounds, failures, static_cast<long long>(tokens), wall);
    if (o.temperature > 0) {
      std::printf("sampling        temperature %g, top-p %g, top-k %d\n", o.temperature, o.top_p,
                  o.top_k);
    } else {
      std::printf("sampling        greedy\n");
    }
    std::printf("aggregate       %.1f tokens/s\n", tps);
    std::printf("time to first   p50 %.1f ms   p99 %.1f ms\n", 1e3 * Percentile(ttft, 0.5),
                1e3 * Percentile(ttft, 0.99));
    std::printf("inter-token     p50 %.1f ms   p99 %.1f ms\n", 1e3 * Percentile(itl, 0.5),
                1e3 * Percentile(itl, 0.99));
    std::printf("prompt tokens   %lld admitted, %lld computed, %lld from the prefix cache (%s)\n",
                static_cast<long long>(query), static_cast<long long>(query - hit),
                static_cast<long long>(hit), after.prefix_cache() ? "on" : "off");
    if (shared > 0) {
      std::printf("shared prefix   %lld tokens in all, %.1f%% not recomputed\n",
                  static_cast<long long>(shared),
                  100.0 * static_cast<double>(std::min(hit, shared)) / static_cast<double>(shared));
    }
  }
  if (failures > 0) {
    std::cerr << "groupshard bench serve: " << failures << " request(s) failed, first: "
              << first_error << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

RunFn AddBenchServeCommand(CLI::App& app) {
  auto o = std::make_shared<BenchServeOpts>();
  app.add_option("--server", o->server, "host:port of the server")->capture_default_str();
  app.add_option("--streams", o->streams, "Concurrent streams (C)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--tokens", o->tokens, "Tokens generated per request (N), end-of-sequence ignored")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rounds", o->rounds, "Requests each stream sends, one after another")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* prompt = app.add_option("--prompt", o->prompt, "Prompt of every request");
  app.add_option("--shared-prefix-tokens", o->shared_prefix_tokens,
                 "Every request starts with the same system prompt of N tokens, followed by a "
                 "question of its own (--question-tokens); sent as token ids")
      ->check(CLI::NonNegativeNumber)
      ->excludes(prompt);
  app.add_option("--question-tokens", o->question_tokens,
                 "With --shared-prefix-tokens: tokens of each request's own question")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--timeout", o->timeout_s, "Deadline per request in seconds")
      ->capture_default_str();
  app.add_option("--temperature", o->temperature,
                 "Sampling temperature of every request (0: greedy)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--top-p", o->top_p, "Nucleus sampling mass of every request")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  app.add_option("--top-k", o->top_k, "Top-k of every request (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--json", o->json, "Print one JSON object");
  return [o](int*, char***) { return RunBenchServe(*o); };
}

}  // namespace gs::launcher
