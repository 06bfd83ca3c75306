// The coordinator in front of fake backends: least-work routing with ties
// in turn, health removal within 3 s and return, the coordinator's own
// health, retry before the first token, and streams continued on another
// backend when theirs dies after it.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "proto/coordinator_server.h"
#include "proto/health.grpc.pb.h"
#include "tests/proto/coordinator_fake_backend.h"

namespace gs {
namespace {

namespace pb = groupshard::v1;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::FakeBackend;
using testing::FakeToken;

struct Result {
  grpc::Status status;
  std::vector<int32_t> ids;
};

pb::GenerateRequest Request(int first_id, int max_tokens) {
  pb::GenerateRequest r;
  r.add_prompt_token_ids(first_id);
  r.set_max_tokens(max_tokens);
  return r;
}

Result Generate(pb::Inference::Stub& stub, const pb::GenerateRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  Result r;
  auto reader = stub.Generate(&ctx, req);
  pb::GenerateResponse m;
  while (reader->Read(&m)) r.ids.insert(r.ids.end(), m.token_ids().begin(), m.token_ids().end());
  r.status = reader->Finish();
  return r;
}

bool Complete(const Result& r, const pb::GenerateRequest& req) {
  if (!r.status.ok() || static_cast<int>(r.ids.size()) != req.max_tokens()) return false;
  for (int i = 0; i < req.max_tokens(); ++i) {
    if (r.ids[i] != FakeToken(req, i)) return false;
  }
  return true;
}

class CoordinatorRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.Start());
    ASSERT_TRUE(b_.Start());
  }
  void StartCoordinator(milliseconds interval = milliseconds(1000)) {
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.backends = {a_.address(), b_.address()};
    o.check_interval = interval;
    auto c = Coordinator::Start(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    coord_ = std::move(c).value();
    channel_ = grpc::CreateChannel(coord_->address(), grpc::InsecureChannelCredentials());
    stub_ = pb::Inference::NewStub(channel_);
  }
  bool Healthy(size_t i) { return coord_->pool().Gauges()[i].healthy; }
  // Waits up to `limit` for backend i to reach `healthy`; returns the time taken.
  double WaitHealth(size_t i, bool healthy, milliseconds limit) {
    const auto t0 = Clock::now();
    while (Healthy(i) != healthy && Clock::now() - t0 < limit) std::this_thread::sleep_for(milliseconds(20));
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
  grpc::health::v1::HealthCheckResponse::ServingStatus CoordinatorHealth() {
    auto h = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    EXPECT_TRUE(h->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp).ok());
    return resp.status();
  }

  FakeBackend a_, b_;
  std::unique_ptr<Coordinator> coord_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Inference::Stub> stub_;
};

TEST_F(CoordinatorRoutingTest, ThirtyTwoConcurrentRequestsSpreadOverBothBackends) {
  StartCoordinator();
  a_.token_delay_ms = 20;
  b_.token_delay_ms = 20;
  std::vector<Result> results(32);
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&, i] { results[i] = Generate(*stub_, Request(i, 8)); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 32; ++i) EXPECT_TRUE(Complete(results[i], Request(i, 8))) << i << ": " << results[i].status.error_message();
  std::printf("backend calls: a=%lld b=%lld\n", static_cast<long long>(a_.generate_calls.load()),
              static_cast<long long>(b_.generate_calls.load()));
  EXPECT_EQ(a_.generate_calls + b_.generate_calls, 32);
  EXPECT_GE(a_.generate_calls, 12);
  EXPECT_GE(b_.generate_calls, 12);
}

TEST_F(CoordinatorRoutingTest, TiesGoInTurnAndLoadSteersAway) {
  StartCoordinator(milliseconds(100));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Complete(Generate(*stub_, Request(i, 2)), Request(i, 2)));
  EXPECT_EQ(a_.generate_calls, 3);
  EXPECT_EQ(b_.generate_calls, 3);
  a_.load = 100000;  // reported through ModelInfo at the next check
  std::this_thread::sleep_for(milliseconds(400));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Complete(Generate(*stub_, Request(i, 2)), Request(i, 2)));
  EXPECT_EQ(a_.generate_calls, 3);
  EXPECT_EQ(b_.generate_calls, 9);
}

TEST_F(CoordinatorRoutingTest, DeadBackendOutWithinThreeSecondsAndBackWhenHealthy) {
  StartCoordinator();  // the default one-second checks
  // Both up first: on a loaded machine the first check can miss its deadline.
  WaitHealth(0, true, milliseconds(5000));
  WaitHealth(1, true, milliseconds(5000));
  ASSERT_TRUE(Healthy(0) && Healthy(1));
  EXPECT_EQ(CoordinatorHealth(), grpc::health::v1::HealthCheckResponse::SERVING);
  const int port = a_.port();
  a_.Kill();
  const double out_after = WaitHealth(0, false, milliseconds(5000));
  std::printf("dead backend taken out after %.2f s\n", out_after);
  EXPECT_FALSE(Healthy(0));
  EXPECT_LT(out_after, 3.0);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Complete(Generate(*stub_, Request(i, 2)), Request(i, 2)));
  EXPECT_EQ(b_.generate_calls, 4);

  b_.SetServing(false);  // NOT_SERVING counts as down too
  EXPECT_LT(WaitHealth(1, false, milliseconds(5000)), 3.0);
  EXPECT_EQ(CoordinatorHealth(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Generate(*stub_, Request(1, 2)).status.error_code(), grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE(a_.Start(port));
  const double back_after = WaitHealth(0, true, milliseconds(8000));
  std::printf("restarted backend back after %.2f s\n", back_after);
  EXPECT_TRUE(Healthy(0));
  EXPECT_EQ(CoordinatorHealth(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(Complete(Generate(*stub_, Request(5, 3)), Request(5, 3)));
}

TEST_F(CoordinatorRoutingTest, FailureBeforeFirstTokenIsRetriedOnce) {
  StartCoordinator(milliseconds(100));
  a_.mode = FakeBackend::Mode::kFailBeforeFirstToken;
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(Complete(Generate(*stub_, Request(i, 3)), Request(i, 3))) << i;
  EXPECT_GE(a_.generate_calls, 1);
  EXPECT_EQ(b_.generate_calls, 8);
  // Both failing: one retry, then an explicit error naming both.
  b_.mode = FakeBackend::Mode::kFailBeforeFirstToken;
  std::this_thread::sleep_for(milliseconds(300));  // let both be checked healthy again
  Result r = Generate(*stub_, Request(1, 3));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  for (const FakeBackend* f : {&a_, &b_}) {
    EXPECT_NE(r.status.error_message().find("backend " + f->address() + " failed first"),
              std::string::npos)
        << r.status.error_message();
  }
  EXPECT_TRUE(r.ids.empty());
}

long long Counter(const std::string& metrics, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = metrics.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(metrics.substr(at + key.size()));
}

// Half of a's streams hang before their first token, half after three; a
// is killed. The first kind is sent again to b, the second continued on b
// from its three tokens: every client sees one complete, correct stream.
TEST_F(CoordinatorRoutingTest, BackendKilledUnderLoadEveryStreamCompletes) {
  StartCoordinator();
  a_.split_hang = true;
  b_.token_delay_ms = 10;
  std::vector<Result> results(32);
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&, i] { results[i] = Generate(*stub_, Request(i, 6)); });
  }
  std::this_thread::sleep_for(milliseconds(700));
  a_.Kill();
  for (auto& t : threads) t.join();
  int completed = 0, failed = 0, lost = 0;
  for (int i = 0; i < 32; ++i) {
    if (Complete(results[i], Request(i, 6))) {
      ++completed;
    } else if (results[i].status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      ++failed;
      ADD_FAILURE() << i << " failed: " << results[i].status.error_message();
    } else {
      ++lost;
      ADD_FAILURE() << i << ": " << results[i].status.error_message() << " ids=" << results[i].ids.size();
    }
  }
  const std::string m = coord_->MetricsText();
  const long long retried = Counter(m, "groupshard_retries_total");
  const long long resumed = Counter(m, "groupshard_resumed_total");
  std::printf("completed=%d retried=%lld resumed=%lld failed=%d lost=%d\n", completed, retried,
              resumed, failed, lost);
  EXPECT_EQ(completed, 32);
  EXPECT_GT(retried, 0);
  EXPECT_GT(resumed, 0);
  EXPECT_EQ(b_.resumed_calls.load(), resumed);
  EXPECT_EQ(Counter(m, "groupshard_completion_tokens_total"), 32 * 6);
  // Requests sent after the kill all succeed on the other backend.
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(Complete(Generate(*stub_, Request(i, 2)), Request(i, 2)));
}

// With no backend left to continue on, the stream ends with an explicit
// error that says how much was delivered; the client has exactly that much.
TEST_F(CoordinatorRoutingTest, StreamWithNoBackendLeftEndsWithExplicitError) {
  StartCoordinator(milliseconds(100));
  a_.mode = FakeBackend::Mode::kHangAfterThreeTokens;
  b_.mode = FakeBackend::Mode::kHangAfterThreeTokens;
  std::this_thread::sleep_for(milliseconds(300));
  Result r;
  std::thread t([&] { r = Generate(*stub_, Request(4, 9)); });
  // The stream hangs on its first backend after 3 tokens, is continued on
  // the second, and hangs there after 3 more; then both die.
  for (int k = 0; k < 200 && a_.generate_calls + b_.generate_calls < 1; ++k) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(300));
  FakeBackend& first = a_.generate_calls > 0 ? a_ : b_;
  FakeBackend& second = &first == &a_ ? b_ : a_;
  first.Kill();
  for (int k = 0; k < 200 && second.resumed_calls == 0; ++k) std::this_thread::sleep_for(milliseconds(20));
  std::this_thread::sleep_for(milliseconds(300));
  second.Kill();
  t.join();
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(r.status.error_message().find("after 6 token(s)"), std::string::npos)
      << r.status.error_message();
  ASSERT_EQ(r.ids.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(r.ids[i], FakeToken(Request(4, 9), i));
}

TEST_F(CoordinatorRoutingTest, TokenizeDetokenizeAndModelInfoAreForwarded) {
  StartCoordinator();
  a_.load = 7;
  b_.load = 5;
  std::this_thread::sleep_for(milliseconds(1300));
  grpc::ClientContext c1;
  pb::TokenizeRequest tq;
  tq.set_text("hi");
  pb::TokenizeResponse tr;
  ASSERT_TRUE(stub_->Tokenize(&c1, tq, &tr).ok());
  ASSERT_EQ(tr.token_ids_size(), 2);
  EXPECT_EQ(tr.token_ids(0), 'h');
  grpc::ClientContext c2;
  pb::DetokenizeRequest dq;
  dq.add_token_ids('o');
  dq.add_token_ids('k');
  pb::DetokenizeResponse dr;
  ASSERT_TRUE(stub_->Detokenize(&c2, dq, &dr).ok());
  EXPECT_EQ(dr.text(), "ok");
  grpc::ClientContext c3;
  pb::ModelInfoResponse mi;
  ASSERT_TRUE(stub_->ModelInfo(&c3, pb::ModelInfoRequest(), &mi).ok());
  EXPECT_EQ(mi.model(), "/models/fake.gguf");
  EXPECT_EQ(mi.load(), 12);
  EXPECT_EQ(mi.kv_total_blocks(), 200);
  EXPECT_EQ(mi.kv_cached_blocks(), 80) << "summed over the healthy backends";
  EXPECT_EQ(mi.prefix_hit_tokens(), 600);
  EXPECT_EQ(mi.prefix_query_tokens(), 800);
  EXPECT_TRUE(mi.prefix_cache());
}

}  // namespace
}  // namespace gs
