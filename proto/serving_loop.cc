#include "proto/serving_loop.h"

#include <utility>

namespace gs {

namespace {
using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

ServingLoop::ServingLoop(Engine& engine, const Tokenizer& tokenizer, ServingQueue& queue)
    : engine_(engine), tokenizer_(tokenizer), queue_(queue) {
  Publish(false);
}

void ServingLoop::Admit(std::shared_ptr<ActiveRequest> req) {
  const uint64_t id = req->engine_request.id;
  Status st = engine_.Add(req->engine_request);
  auto [it, inserted] = live_.emplace(id, Live{req, TextStream(tokenizer_, req->stop), 0, 0, {}, {}});
  Live& l = it->second;
  if (!st.ok()) {
    l.error = st.ToString();
    Finish(l, FinishReason::kError, StreamChunk());
    return;
  }
  // A resumed stream: its client has the text of these tokens already. The
  // text stream takes them in so that it holds back exactly what the first
  // group held back (a cut character, a possible start of a stop string).
  bool stopped = false;
  for (int32_t t : req->engine_request.resume) l.text.Push(t, &stopped);
  l.completion = l.resumed = static_cast<int>(req->engine_request.resume.size());
  if (stopped) {
    // The tokens given already complete a stop string: the first group
    // ended the stream there, so nothing follows.
    std::vector<TokenEvent> ignored;
    engine_.Cancel(id, FinishReason::kStop, &ignored);
    Finish(l, FinishReason::kStop, StreamChunk());
  }
}

void ServingLoop::Finish(Live& live, FinishReason finish, StreamChunk chunk) {
  const auto now = Clock::now();
  chunk.finish = finish;
  if (finish == FinishReason::kError) chunk.error = live.error;
  chunk.prompt_tokens = static_cast<int>(live.req->engine_request.prompt.size());
  chunk.completion_tokens = live.completion;
  chunk.ttft_s = live.completion > live.resumed ? Seconds(live.req->arrival, live.first_token) : 0.0;
  chunk.total_s = Seconds(live.req->arrival, now);
  const uint64_t id = live.req->engine_request.id;
  live.req->Push(std::move(chunk));
  live_.erase(id);  // `live` is gone from here on
  queue_.Finished();
}

void ServingLoop::Route(const TokenEvent& e) {
  auto it = live_.find(e.id);
  if (it == live_.end()) return;
  Live& l = it->second;
  StreamChunk chunk;
  FinishReason finish = e.finish;
  bool stopped = false;
  if (e.token >= 0) {
    if (l.completion == l.resumed) l.first_token = Clock::now();
    ++l.completion;
    chunk.token_ids.push_back(e.token);
    if (l.req->logprobs) chunk.logprobs.push_back(e.logprob);
    chunk.text = l.text.Push(e.token, &stopped);
    if (stopped && finish == FinishReason::kNone) {
      std::vector<TokenEvent> ignored;  // the request ends here; its event is ours
      engine_.Cancel(e.id, FinishReason::kStop, &ignored);
    }
    if (stopped) finish = FinishReason::kStop;
  }
  if (finish == FinishReason::kNone) {
    l.req->Push(std::move(chunk));
    return;
  }
  if (!l.text.stopped()) {
    chunk.text += l.text.Flush(&stopped);
    if (stopped) finish = FinishReason::kStop;
  }
  Finish(l, finish, std::move(chunk));
}

void ServingLoop::Publish(bool draining) {
  ServingStats s;
  s.kv_total_blocks = engine_.total_blocks();
  s.kv_free_blocks = engine_.free_blocks();
  s.kv_cached_blocks = engine_.cached_blocks();
  s.prefix_hit_tokens = engine_.prefix_hit_tokens();
  s.prefix_query_tokens = engine_.prefix_query_tokens();
  s.prefix_cache = engine_.prefix_cache();
  s.kv_block_size = engine_.block_size();
  s.queue_depth = engine_.n_waiting() + queue_.pending();
  s.running = engine_.n_running();
  s.preemptions = engine_.n_preemptions();
  s.steps = engine_.n_steps();
  for (const auto& [id, l] : live_) {
    const GenerateRequest& r = l.req->engine_request;
    s.load += r.max_tokens - l.completion;
    if (l.completion == l.resumed) s.load += static_cast<int64_t>(r.prompt.size()) + l.resumed;
  }
  s.draining = draining;
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_ = s;
}

ServingStats ServingLoop::Stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void ServingLoop::Run(const std::atomic<bool>& stop, std::chrono::milliseconds drain_timeout,
                      const std::function<void()>& on_drain) {
  bool draining = false;
  Clock::time_point drain_deadline;
  std::vector<std::shared_ptr<ActiveRequest>> submitted;
  std::vector<uint64_t> cancelled;
  while (true) {
    if (!draining && stop.load()) {
      // Close before the Take below: nothing can be accepted after it.
      queue_.Close();
      draining = true;
      drain_deadline = Clock::now() + drain_timeout;
      if (on_drain) on_drain();
    }
    submitted.clear();
    cancelled.clear();
    queue_.Take(&submitted, &cancelled);
    for (auto& r : submitted) Admit(std::move(r));
    events_.clear();
    for (uint64_t id : cancelled) engine_.Cancel(id, FinishReason::kCancelled, &events_);
    if (draining && Clock::now() >= drain_deadline) {
      const std::string why = "the server shut down: the drain time of " +
                              std::to_string(drain_timeout.count() / 1000.0) + " s ran out";
      for (auto& [id, l] : live_) l.error = why;
      std::vector<uint64_t> ids;
      for (const auto& [id, l] : live_) ids.push_back(id);
      for (uint64_t id : ids) engine_.Cancel(id, FinishReason::kError, &events_);
    }
    for (const TokenEvent& e : events_) Route(e);
    if (engine_.HasWork()) {
      events_.clear();
      engine_.Step(&events_);
      for (const TokenEvent& e : events_) Route(e);
    }
    Publish(draining);
    if (draining && live_.empty()) break;
    queue_.WaitForWork(engine_.HasWork(), std::chrono::milliseconds(200));
  }
  engine_.Shutdown();
}

}  // namespace gs
