#include "proto/metrics.h"

#include <cmath>
#include <cstdio>

namespace gs {

namespace {

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

void Header(const char* name, const char* type, const char* help, std::string* out) {
  *out += std::string("# HELP ") + name + " " + help + "\n";
  *out += std::string("# TYPE ") + name + " " + type + "\n";
}

void Line(const std::string& name, const std::string& labels, double v, std::string* out) {
  *out += name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += " " + FormatDouble(v) + "\n";
}

}  // namespace

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    Line(name + "_bucket", "le=\"" + FormatDouble(le) + "\"", static_cast<double>(cumulative), out);
  }
  Line(name + "_sum", "", sum_, out);
  Line(name + "_count", "", static_cast<double>(count_), out);
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {}

void Metrics::CountRequest(Outcome outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outcomes_[static_cast<int>(outcome)];
}

void Metrics::CountRetry() {
  std::lock_guard<std::mutex> lock(mu_);
  ++retries_;
}

void Metrics::CountResume() {
  std::lock_guard<std::mutex> lock(mu_);
  ++resumes_;
}

void Metrics::AddTokens(int64_t prompt_tokens, int64_t completion_tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  tokens_in_ += static_cast<uint64_t>(prompt_tokens);
  tokens_out_ += static_cast<uint64_t>(completion_tokens);
}

void Metrics::AddInFlight(int delta) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ += delta;
}

std::string Metrics::Render(const std::vector<BackendGauges>& backends) const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Header("groupshard_requests_total", "counter", "Generate requests by how they ended.", &out);
    const char* names[] = {"completed", "failed", "rejected", "cancelled"};
    for (int i = 0; i < 4; ++i) {
      Line("groupshard_requests_total", std::string("outcome=\"") + names[i] + "\"",
           static_cast<double>(outcomes_[i]), &out);
    }
    Header("groupshard_retries_total", "counter",
           "Requests sent again to another backend after theirs failed before the first token.",
           &out);
    Line("groupshard_retries_total", "", static_cast<double>(retries_), &out);
    Header("groupshard_resumed_total", "counter",
           "Streams continued on another backend, from the tokens already delivered, after "
           "theirs failed mid-stream.",
           &out);
    Line("groupshard_resumed_total", "", static_cast<double>(resumes_), &out);
    Header("groupshard_prompt_tokens_total", "counter", "Prompt tokens of completed requests.",
           &out);
    Line("groupshard_prompt_tokens_total", "", static_cast<double>(tokens_in_), &out);
    Header("groupshard_completion_tokens_total", "counter", "Tokens streamed to clients.", &out);
    Line("groupshard_completion_tokens_total", "", static_cast<double>(tokens_out_), &out);
    Header("groupshard_requests_in_flight", "gauge", "Generate calls open on this process.", &out);
    Line("groupshard_requests_in_flight", "", static_cast<double>(in_flight_), &out);
  }
  Header("groupshard_time_to_first_token_seconds", "histogram",
         "From arrival to the first token sent to the client.", &out);
  ttft_.Render("groupshard_time_to_first_token_seconds", &out);
  Header("groupshard_inter_token_latency_seconds", "histogram",
         "Time between successive streamed messages, per token.", &out);
  itl_.Render("groupshard_inter_token_latency_seconds", &out);

  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
    int64_t BackendGauges::*field;
  };
  const Gauge gauges[] = {
      {"groupshard_backend_requests_total", "counter", "Requests routed to the backend.",
       &BackendGauges::routed},
      {"groupshard_backend_in_flight", "gauge", "Requests open on the backend.",
       &BackendGauges::in_flight},
      {"groupshard_backend_load_tokens", "gauge", "Outstanding tokens the backend reported.",
       &BackendGauges::load},
      {"groupshard_backend_queue_depth", "gauge", "Requests waiting in the backend's queue.",
       &BackendGauges::queue_depth},
      {"groupshard_backend_running", "gauge", "Sequences in the backend's running set.",
       &BackendGauges::running},
      {"groupshard_backend_kv_blocks_free", "gauge",
       "KV-cache blocks no sequence references, cached ones included (each rank).",
       &BackendGauges::kv_free_blocks},
      {"groupshard_backend_kv_blocks_cached", "gauge",
       "KV-cache blocks holding a cached prompt prefix (each rank).",
       &BackendGauges::kv_cached_blocks},
      {"groupshard_backend_prefix_hit_tokens_total", "counter",
       "Prompt tokens found in the backend's prefix cache.", &BackendGauges::prefix_hit_tokens},
      {"groupshard_backend_prefix_query_tokens_total", "counter",
       "Prompt tokens looked up in the backend's prefix cache.",
       &BackendGauges::prefix_query_tokens},
  };
  Header("groupshard_backend_healthy", "gauge", "1 when the backend passes its health checks.",
         &out);
  for (const BackendGauges& b : backends) {
    Line("groupshard_backend_healthy", "backend=\"" + EscapeLabelValue(b.address) + "\"",
         b.healthy ? 1 : 0, &out);
  }
  for (const Gauge& g : gauges) {
    Header(g.name, g.type, g.help, &out);
    for (const BackendGauges& b : backends) {
      Line(g.name, "backend=\"" + EscapeLabelValue(b.address) + "\"",
           static_cast<double>(b.*(g.field)), &out);
    }
  }
  Header("groupshard_backend_kv_blocks_used", "gauge",
         "KV-cache blocks referenced by a sequence (each rank).", &out);
  for (const BackendGauges& b : backends) {
    Line("groupshard_backend_kv_blocks_used", "backend=\"" + EscapeLabelValue(b.address) + "\"",
         static_cast<double>(b.kv_total_blocks - b.kv_free_blocks), &out);
  }
  Header("groupshard_backend_prefix_hit_rate", "gauge",
         "Prefix-cache hit tokens over prompt tokens looked up, since the backend started.", &out);
  for (const BackendGauges& b : backends) {
    const double rate = b.prefix_query_tokens > 0 ? static_cast<double>(b.prefix_hit_tokens) /
                                                        static_cast<double>(b.prefix_query_tokens)
                                                  : 0.0;
    Line("groupshard_backend_prefix_hit_rate", "backend=\"" + EscapeLabelValue(b.address) + "\"",
         rate, &out);
  }
  return out;
}

}  // namespace gs
