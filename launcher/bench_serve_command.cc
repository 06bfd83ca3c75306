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
};

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
        req.set_prompt(o.prompt);
        req.set_max_tokens(o.tokens);
        req.set_ignore_eos(true);
        req.mutable_sampling()->set_temperature(0.0f);
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
                        {"itl_p99_s", Percentile(itl, 0.99)}};
    std::cout << j.dump() << std::endl;
  } else {
    std::printf("streams %d, requests %d (%d failed), %lld tokens in %.2f s\n", o.streams,
                o.streams * o.rounds, failures, static_cast<long long>(tokens), wall);
    std::printf("aggregate       %.1f tokens/s\n", tps);
    std::printf("time to first   p50 %.1f ms   p99 %.1f ms\n", 1e3 * Percentile(ttft, 0.5),
                1e3 * Percentile(ttft, 0.99));
    std::printf("inter-token     p50 %.1f ms   p99 %.1f ms\n", 1e3 * Percentile(itl, 0.5),
                1e3 * Percentile(itl, 0.99));
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
  app.add_option("--prompt", o->prompt, "Prompt of every request");
  app.add_option("--timeout", o->timeout_s, "Deadline per request in seconds")
      ->capture_default_str();
  app.add_flag("--json", o->json, "Print one JSON object");
  return [o](int*, char***) { return RunBenchServe(*o); };
}

}  // namespace gs::launcher
