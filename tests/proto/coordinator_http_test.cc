// The coordinator's HTTP side over fake backends: OpenAI-shaped completions
// (streamed as server-sent events and whole), /v1/models, /health, errors
// in OpenAI's shape, and /metrics parsed as Prometheus text whose counters
// match the requests sent.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "proto/coordinator_server.h"
#include "tests/proto/coordinator_fake_backend.h"
#include "tests/test_util.h"

#ifdef GS_HAVE_HTTPLIB
#include <httplib.h>
#endif

namespace gs {
namespace {

#ifdef GS_HAVE_HTTPLIB

using nlohmann::json;
using testing::FakeBackend;

class CoordinatorHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.Start());
    ASSERT_TRUE(b_.Start());
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.http_listen = "127.0.0.1:0";
    o.backends = {a_.address(), b_.address()};
    auto c = Coordinator::Start(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    coord_ = std::move(c).value();
    const std::string addr = coord_->http_address();
    port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }

  FakeBackend a_, b_;
  std::unique_ptr<Coordinator> coord_;
  int port_ = 0;
};

// The fake's reply to a text prompt: tokens 1000..1000+n-1, each "<id> ".
std::string ExpectedText(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += std::to_string(1000 + i) + " ";
  return s;
}

TEST_F(CoordinatorHttpTest, StreamedChatCompletionIsServerSentEvents) {
  httplib::Client c = Client();
  json body = {{"model", "fake"},
               {"messages", {{{"role", "user"}, {"content", "Hello"}}}},
               {"max_tokens", 5},
               {"stream", true}};
  auto res = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  // Events are "data: <json>\n\n"; the last one is "data: [DONE]".
  std::vector<std::string> events;
  size_t at = 0;
  while (at < res->body.size()) {
    const size_t end = res->body.find("\n\n", at);
    ASSERT_NE(end, std::string::npos) << "unterminated event in: " << res->body;
    const std::string ev = res->body.substr(at, end - at);
    ASSERT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    events.push_back(ev.substr(6));
    at = end + 2;
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string content;
  std::string finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json j = json::parse(events[i]);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    EXPECT_EQ(j["model"], "fake");
    const json& ch = j["choices"][0];
    if (i == 0) {
      EXPECT_EQ(ch["delta"]["role"], "assistant");
    }
    if (ch["delta"].contains("content")) content += ch["delta"]["content"].get<std::string>();
    if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"];
  }
  EXPECT_EQ(content, ExpectedText(5));
  EXPECT_EQ(finish, "length");
}

TEST_F(CoordinatorHttpTest, WholeCompletionModelsHealthAndErrors) {
  httplib::Client c = Client();
  auto res = c.Post("/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 4}}.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], ExpectedText(4));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
  EXPECT_EQ(j["model"], "fake.gguf");

  res = c.Get("/v1/models");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  j = json::parse(res->body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "fake.gguf");

  res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  auto expect_error = [](const httplib::Result& r, int status, const std::string& param) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    json e = json::parse(r->body);
    ASSERT_TRUE(e.contains("error")) << r->body;
    for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(e["error"].contains(k)) << k;
    if (!param.empty()) {
      EXPECT_EQ(e["error"]["param"], param) << r->body;
    }
  };
  expect_error(c.Post("/v1/completions", "{not json", "application/json"), 400, "body");
  expect_error(c.Post("/v1/chat/completions", json{{"messages", 3}}.dump(), "application/json"), 400,
               "messages");
  // Refused by the backend: the status comes through, before any event.
  expect_error(c.Post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 0}, {"stream", true}}.dump(),
                      "application/json"),
               400, "max_tokens");
  expect_error(c.Get("/v1/nothing"), 404, "");

  a_.Kill();
  b_.Kill();
  const auto t0 = std::chrono::steady_clock::now();
  while (coord_->pool().AnyHealthy() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  expect_error(c.Post("/v1/completions", json{{"prompt", "Hi"}}.dump(), "application/json"), 503, "");
}

// A small check of the text exposition format: every sample line is
// name{labels} value, its family was declared by # TYPE, and histogram
// buckets are cumulative up to +Inf = _count.
std::map<std::string, double> ParsePrometheus(const std::string& text) {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (\S+)$)");
  std::istringstream in(text);
  std::string line;
  double last_bucket = -1;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      types[name] = type;
      last_bucket = -1;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, sample)) << "bad line: " << line;
    if (m.empty()) continue;
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (family.size() > s.size() && family.compare(family.size() - s.size(), s.size(), s) == 0 &&
          types.count(family.substr(0, family.size() - s.size()))) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    EXPECT_TRUE(types.count(family)) << "no # TYPE for " << line;
    const double v = std::stod(m[5]);
    if (std::string(m[1]).find("_bucket") != std::string::npos) {
      EXPECT_GE(v, last_bucket) << "buckets not cumulative: " << line;
      last_bucket = v;
    }
    samples[std::string(m[1]) + std::string(m[2].matched ? std::string(m[2]) : "")] = v;
  }
  return samples;
}

TEST_F(CoordinatorHttpTest, MetricsParseAndCountersMatchRequestsSent) {
  httplib::Client c = Client();
  const int kCompleted = 5, kTokens = 3;
  for (int i = 0; i < kCompleted; ++i) {
    auto r = c.Post("/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", kTokens}}.dump(), "application/json");
    ASSERT_TRUE(r && r->status == 200);
  }
  auto bad = c.Post("/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 0}}.dump(), "application/json");
  ASSERT_TRUE(bad && bad->status == 400);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // a health check refreshes the gauges
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  std::map<std::string, double> s = ParsePrometheus(res->body);
  EXPECT_EQ(s["groupshard_requests_total{outcome=\"completed\"}"], kCompleted);
  EXPECT_EQ(s["groupshard_requests_total{outcome=\"rejected\"}"], 1);
  EXPECT_EQ(s["groupshard_requests_total{outcome=\"failed\"}"], 0);
  EXPECT_EQ(s["groupshard_completion_tokens_total"], kCompleted * kTokens);
  EXPECT_EQ(s["groupshard_prompt_tokens_total"], kCompleted * 2);  // the fake counts bytes
  EXPECT_EQ(s["groupshard_time_to_first_token_seconds_count"], kCompleted);
  EXPECT_EQ(s["groupshard_time_to_first_token_seconds_bucket{le=\"+Inf\"}"], kCompleted);
  EXPECT_EQ(s["groupshard_inter_token_latency_seconds_count"], kCompleted * (kTokens - 1));
  const std::string ba = "{backend=\"" + a_.address() + "\"}", bb = "{backend=\"" + b_.address() + "\"}";
  // /v1/completions without a model asks ModelInfo for the name: also routed.
  EXPECT_GE(s["groupshard_backend_requests_total" + ba] + s["groupshard_backend_requests_total" + bb],
            kCompleted + 1);
  EXPECT_EQ(s["groupshard_backend_healthy" + ba], 1);
  EXPECT_EQ(s["groupshard_backend_kv_blocks_used" + ba], 10);
  EXPECT_EQ(s["groupshard_backend_kv_blocks_free" + bb], 90);
  EXPECT_EQ(s["groupshard_backend_kv_blocks_cached" + ba], 40);
  EXPECT_EQ(s["groupshard_backend_prefix_hit_tokens_total" + bb], 300);
  EXPECT_EQ(s["groupshard_backend_prefix_query_tokens_total" + ba], 400);
  EXPECT_DOUBLE_EQ(s["groupshard_backend_prefix_hit_rate" + ba], 0.75);

  // A parser we did not write, when it is installed.
  std::string out;
  const std::string py = gs::testing::Python();
  if (gs::testing::RunCommand(py + " -c 'import prometheus_client' 2>&1", &out) != 0) {
    GTEST_SKIP() << py << " has no prometheus_client (scripts/setup installs it); C++ check only";
  }
  const std::string dir = gs::testing::TempDir();
  std::ofstream(dir + "/metrics.txt") << res->body;
  const std::string script =
      "import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}\n"
      "req = {s.labels['outcome']: s.value for s in fams['groupshard_requests'].samples if s.name.endswith('_total')}\n"
      "tok = [s.value for s in fams['groupshard_completion_tokens'].samples if s.name.endswith('_total')][0]\n"
      "h = fams['groupshard_time_to_first_token_seconds']\n"
      "cnt = [s.value for s in h.samples if s.name.endswith('_count')][0]\n"
      "print(int(req['completed']), int(req['rejected']), int(tok), int(cnt), h.type)\n";
  std::ofstream(dir + "/check.py") << script;
  ASSERT_EQ(
      gs::testing::RunCommand(py + " " + dir + "/check.py " + dir + "/metrics.txt 2>&1", &out), 0)
      << out;
  EXPECT_EQ(out, std::to_string(kCompleted) + " 1 " + std::to_string(kCompleted * kTokens) + " " +
                     std::to_string(kCompleted) + " histogram\n");
}

TEST_F(CoordinatorHttpTest, OpenAiPythonClientStreamsAChatCompletion) {
  std::string out;
  const std::string py = gs::testing::Python();
  if (gs::testing::RunCommand(py + " -c 'import openai' 2>&1", &out) != 0) {
    GTEST_SKIP() << py << " has no openai (scripts/setup installs it; the plain-HTTP test covers "
                          "the format)";
  }
  const std::string dir = gs::testing::TempDir();
  std::ofstream(dir + "/chat.py")
      << "import sys, openai\n"
         "c = openai.OpenAI(base_url='http://127.0.0.1:' + sys.argv[1] + '/v1', api_key='none', max_retries=0)\n"
         "s = c.chat.completions.create(model='fake', messages=[{'role': 'user', 'content': 'Hi'}],\n"
         "                              max_tokens=4, stream=True)\n"
         "text, finish = '', None\n"
         "for ch in s:\n"
         "    if ch.choices and ch.choices[0].delta.content: text += ch.choices[0].delta.content\n"
         "    if ch.choices and ch.choices[0].finish_reason: finish = ch.choices[0].finish_reason\n"
         "print(repr(text), finish)\n";
  ASSERT_EQ(
      gs::testing::RunCommand(py + " " + dir + "/chat.py " + std::to_string(port_) + " 2>&1", &out),
      0)
      << out;
  EXPECT_EQ(out, "'" + ExpectedText(4) + "' length\n");
}

#else

TEST(CoordinatorHttpTest, NeedsHttplib) { GTEST_SKIP() << "built without cpp-httplib"; }

#endif  // GS_HAVE_HTTPLIB

}  // namespace
}  // namespace gs
