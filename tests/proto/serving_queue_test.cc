#include "proto/serving_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace gs {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST(ServingQueue, BoundsRequestsInFlightAndRefusesAfterClose) {
  ServingQueue q({2});
  auto a = std::make_shared<ActiveRequest>();
  auto b = std::make_shared<ActiveRequest>();
  auto c = std::make_shared<ActiveRequest>();
  ASSERT_TRUE(q.Submit(a).ok());
  ASSERT_TRUE(q.Submit(b).ok());
  EXPECT_NE(a->engine_request.id, b->engine_request.id);
  EXPECT_EQ(q.Submit(c).code(), StatusCode::kResourceExhausted);
  std::vector<std::shared_ptr<ActiveRequest>> taken;
  std::vector<uint64_t> cancelled;
  q.Take(&taken, &cancelled);
  EXPECT_EQ(taken.size(), 2u);
  // Taken by the loop is still in flight until Finished.
  EXPECT_EQ(q.Submit(c).code(), StatusCode::kResourceExhausted);
  q.Finished();
  EXPECT_TRUE(q.Submit(c).ok());
  q.Cancel(a->engine_request.id);
  taken.clear();
  q.Take(&taken, &cancelled);
  EXPECT_EQ(taken.size(), 1u);
  EXPECT_EQ(cancelled, std::vector<uint64_t>{a->engine_request.id});
  q.Finished();
  q.Close();
  EXPECT_EQ(q.Submit(std::make_shared<ActiveRequest>()).code(), StatusCode::kUnavailable);
}

TEST(ServingQueue, IdleWaitSleepsAndWakesOnSubmit) {
  ServingQueue q({8});
  auto t0 = Clock::now();
  q.WaitForWork(false, milliseconds(150));
  EXPECT_GE(Clock::now() - t0, milliseconds(140));  // slept: nothing to do
  t0 = Clock::now();
  q.WaitForWork(true, milliseconds(2000));
  EXPECT_LT(Clock::now() - t0, milliseconds(100));  // engine busy: no wait
  std::thread submitter([&] {
    std::this_thread::sleep_for(milliseconds(50));
    ASSERT_TRUE(q.Submit(std::make_shared<ActiveRequest>()).ok());
  });
  t0 = Clock::now();
  q.WaitForWork(false, milliseconds(5000));
  EXPECT_LT(Clock::now() - t0, milliseconds(2000));
  submitter.join();
}

TEST(ActiveRequest, PopWaitsForChunksAndTakesThemAll) {
  ActiveRequest r;
  std::vector<StreamChunk> out;
  EXPECT_FALSE(r.Pop(milliseconds(20), &out));
  StreamChunk c;
  c.text = "a";
  r.Push(c);
  c.text = "b";
  r.Push(c);
  ASSERT_TRUE(r.Pop(milliseconds(20), &out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text + out[1].text, "ab");
}

}  // namespace
}  // namespace gs
