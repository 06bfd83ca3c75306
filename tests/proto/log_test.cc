// The log: rate limiting keeps a flood of bad requests to a few lines, and
// a backend that refuses the coordinator's token is logged as that, not as
// a dead backend.
#include "proto/log.h"

#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <thread>

#include "proto/coordinator_server.h"
#include "tests/proto/coordinator_fake_backend.h"

namespace gs {
namespace {

// Routes the "groupshard" logger to a string for the test's lifetime.
class CapturedLog {
 public:
  CapturedLog() {
    Log();  // the process logger exists, so it is the one replaced
    spdlog::drop("groupshard");
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("groupshard", sink);
    logger->set_pattern("%l %v");
    spdlog::register_logger(logger);
  }
  ~CapturedLog() { spdlog::drop("groupshard"); }
  std::string text() const { return out_.str(); }
  int Count(const std::string& what) const {
    const std::string t = text();
    int n = 0;
    for (size_t at = t.find(what); at != std::string::npos; at = t.find(what, at + 1)) ++n;
    return n;
  }

 private:
  std::ostringstream out_;
};

TEST(RateLimitedLogTest, KeepsABurstPerKeyAndCountsTheRest) {
  CapturedLog log;
  RateLimitedLog limited(3, std::chrono::milliseconds(300));
  for (int i = 0; i < 20; ++i) limited.Write(spdlog::level::warn, "a", "flood");
  limited.Write(spdlog::level::warn, "b", "other");
  EXPECT_EQ(log.Count("flood"), 3) << log.text();
  EXPECT_EQ(log.Count("other"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  limited.Write(spdlog::level::warn, "a", "flood again");
  EXPECT_NE(log.text().find("flood again (17 more like it not logged)"), std::string::npos)
      << log.text();
}

TEST(BackendHealthLogTest, ATokenMismatchIsNotADeadBackend) {
  testing::FakeBackend a;
  ASSERT_TRUE(a.Start());
  // A coordinator that wants a token, behind one that presents the wrong one.
  CoordinatorOptions inner;
  inner.listen = "127.0.0.1:0";
  inner.backends = {a.address()};
  inner.auth_token = "right";
  auto backend = Coordinator::Start(inner);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  CapturedLog log;
  CoordinatorOptions outer;
  outer.listen = "127.0.0.1:0";
  outer.backends = {(*backend)->address()};
  outer.backend_token = "wrong";
  auto front = Coordinator::Start(outer);
  ASSERT_TRUE(front.ok()) << front.status().ToString();
  const std::string want = "backend " + (*backend)->address() +
                           " is not healthy: it refused the coordinator's token (UNAUTHENTICATED";
  EXPECT_NE(log.text().find(want), std::string::npos) << log.text();
  EXPECT_EQ(log.text().find("health check failed"), std::string::npos) << log.text();
  (*front)->Shutdown(std::chrono::milliseconds(100));
  (*backend)->Shutdown(std::chrono::milliseconds(100));
}

TEST(BackendHealthLogTest, ADeadBackendIsLoggedWithItsStatus) {
  testing::FakeBackend a;
  ASSERT_TRUE(a.Start());
  CapturedLog log;
  CoordinatorOptions o;
  o.listen = "127.0.0.1:0";
  o.backends = {a.address()};
  o.check_interval = std::chrono::milliseconds(100);
  auto c = Coordinator::Start(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(log.Count("backend " + a.address() + " is healthy"), 1) << log.text();
  a.Kill();
  for (int i = 0; i < 50 && log.Count("is not healthy") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(log.text().find("backend " + a.address() + " is not healthy: health check failed: UNAVAILABLE"),
            std::string::npos)
      << log.text();
  (*c)->Shutdown(std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace gs
