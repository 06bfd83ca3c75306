// Counters and histograms of the coordinator, rendered in the Prometheus
// text exposition format (version 0.0.4) for GET /metrics.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace gs {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Appends the _bucket/_sum/_count lines of metric `name`.
  void Render(const std::string& name, std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// What one backend looked like at its last health check.
struct BackendGauges {
  std::string address;
  bool healthy = false;
  int64_t in_flight = 0;  // requests this coordinator has open on it
  int64_t routed = 0;     // requests ever sent to it
  int64_t load = 0;       // tokens of outstanding work it reported
  int64_t queue_depth = 0;
  int64_t running = 0;
  int64_t kv_total_blocks = 0;
  int64_t kv_free_blocks = 0;    // referenced by no sequence, cached ones included
  int64_t kv_cached_blocks = 0;  // holding a cached prefix block
  int64_t prefix_hit_tokens = 0;
  int64_t prefix_query_tokens = 0;
};

// Thread-safe; every method may be called from any thread.
class Metrics {
 public:
  // How a Generate call ended, as the client saw it.
  enum class Outcome { kCompleted, kFailed, kRejected, kCancelled };

  Metrics();
  void CountRequest(Outcome outcome);
  void CountRetry();
  void CountResume();
  void AddTokens(int64_t prompt_tokens, int64_t completion_tokens);
  void ObserveTimeToFirstToken(double seconds) { ttft_.Observe(seconds); }
  void ObserveInterTokenLatency(double seconds) { itl_.Observe(seconds); }
  void AddInFlight(int delta);

  std::string Render(const std::vector<BackendGauges>& backends) const;

 private:
  mutable std::mutex mu_;
  uint64_t outcomes_[4] = {0, 0, 0, 0};
  uint64_t retries_ = 0;
  uint64_t resumes_ = 0;
  uint64_t tokens_in_ = 0;
  uint64_t tokens_out_ = 0;
  int64_t in_flight_ = 0;
  Histogram ttft_;
  Histogram itl_;
};

// A label value with \, " and newline escaped as the text format asks.
std::string EscapeLabelValue(const std::string& v);

}  // namespace gs
