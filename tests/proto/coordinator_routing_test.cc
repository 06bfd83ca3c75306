// The coordinator in front of fake backends: least-work routing with ties
// in turn, health removal within 3 s and return, the coordinator's own
// health, retry before the first token, explicit failure after it.
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
  EXPECT_NE(r.status.error_message().find("0 token(s)"), std::string::npos) << r.status.error_message();
}

TEST_F(CoordinatorRoutingTest, BackendKilledUnderLoadLosesNothing) {
  StartCoordinator();
  a_.split_hang = true;  // on a: half wait for their first token, half hang after 3
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
    } else if (results[i].status.error_code() == grpc::StatusCode::UNAVAILABLE &&
               results[i].status.error_message().find("after 3 token(s)") != std::string::npos &&
               results[i].ids.size() == 3) {
      ++failed;
    } else {
      ++lost;
      ADD_FAILURE() << i << ": " << results[i].status.error_message() << " ids=" << results[i].ids.size();
    }
  }
  const std::string m = coord_->MetricsText();
  const std::string key = "\ngroupshard_retries_total ";
  const size_t at = m.find(key);
  ASSERT_NE(at, std::string::npos) << m;
  const long long n_retried = std::stoll(m.substr(at + key.size()));
  std::printf("completed=%d retried=%lld failed-explicitly=%d lost=%d\n", completed, n_retried, failed, lost);
  EXPECT_EQ(lost, 0);
  EXPECT_GT(failed, 0);
  EXPECT_GT(n_retried, 0);
  EXPECT_EQ(completed + failed, 32);
  // Requests sent after the kill all succeed on the other backend.
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(Complete(Generate(*stub_, Request(i, 2)), Request(i, 2)));
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
}

}  // namespace
}  // namespace gs
