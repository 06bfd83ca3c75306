#include "core/cost_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace gs {

namespace {

// "<number><unit>" with the unit looked up (lowercased) in `units`.
StatusOr<double> ParseWithUnit(const std::string& text, const char* what,
                               const std::vector<std::pair<std::string, double>>& units,
                               const char* examples) {
  const char* s = text.c_str();
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  std::string unit(end);
  for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (end == s || !std::isfinite(v) || v < 0) {
    return Status::InvalidArgument(std::string("bad ") + what + " '" + text +
                                   "': expected a non-negative number and a unit, e.g. " +
                                   examples);
  }
  for (const auto& [name, scale] : units) {
    if (unit == name) return v * scale;
  }
  return Status::InvalidArgument(std::string("bad ") + what + " '" + text + "': unknown unit '" +
                                 std::string(end) + "', e.g. " + examples);
}

// The broadcasts StepChannel::Send makes for one decode token of a
// sequence at `context` tokens: one token, its block table, one logit row.
StepChannel::MessageBytes DecodeStepMessages(int64_t context, int block_size) {
  const int64_t blocks = (context + block_size - 1) / block_size;
  return StepChannel::StepMessageBytes(1, blocks, 1);
}

double Ms(double s) { return 1e3 * s; }

}  // namespace

DecodeStepLoad StepLoad(const PlanReport& plan, const StepChannel::MessageBytes& step) {
  DecodeStepLoad t;
  const int P = plan.tp_size;
  if (P == 1) return t;
  // Each all-reduce: what the rank that sends the most sends (ranks whose
  // reduce-scatter chunk is larger send more), 2L + 1 times.
  const int64_t calls = 2LL * plan.config.n_layers + 1;
  Traffic one;
  for (int r = 0; r < P; ++r) {
    const Traffic tr = AllReduceSumTraffic(plan.config.hidden_size, P, r);
    one.messages = std::max(one.messages, tr.messages);
    one.bytes = std::max(one.bytes, tr.bytes);
  }
  t.all_reduce = {calls * one.messages, calls * one.bytes};
  // Every other rank's vocabulary slice arrives over rank 0's link.
  for (const RankReport& r : plan.ranks) {
    t.gather += GatherVTraffic(r.shard.vocab_rows.size(), r.shard.tp_rank, 0);
  }
  t.broadcast = BroadcastTraffic(step.first, P, 0, 0);
  t.broadcast += BroadcastTraffic(step.rest, P, 0, 0);
  return t;
}

StatusOr<double> ParseLinkRate(const std::string& text) {
  GS_ASSIGN_OR_RETURN(
      double v,
      ParseWithUnit(text, "link rate",
                    {{"bit", 1.0}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"tbit", 1e12}},
                    "100gbit, 10gbit, 800mbit"));
  if (v <= 0) return Status::InvalidArgument("bad link rate '" + text + "': must be positive");
  return v;
}

StatusOr<double> ParseLatency(const std::string& text) {
  return ParseWithUnit(text, "latency", {{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}},
                       "5us, 50us, 0.2ms");
}

StatusOr<LinkSpec> ParseNetwork(const std::string& text) {
  const size_t comma = text.find(',');
  if (comma == std::string::npos) {
    return Status::InvalidArgument("bad network '" + text +
                                   "': expected RATE,LATENCY, e.g. 10gbit,50us");
  }
  LinkSpec link;
  GS_ASSIGN_OR_RETURN(link.bits_per_s, ParseLinkRate(text.substr(0, comma)));
  GS_ASSIGN_OR_RETURN(link.latency_s, ParseLatency(text.substr(comma + 1)));
  return link;
}

double CollectiveSeconds(const Traffic& t, const LinkSpec& link) {
  return static_cast<double>(t.messages) * link.latency_s +
         static_cast<double>(t.bytes) / link.bytes_per_s();
}

DecodeCost PredictDecode(const PlanReport& plan, const CostInputs& in) {
  DecodeCost c;
  c.tp_size = plan.tp_size;
  // Ranks run in lock step (every collective waits for all): the rank with
  // the most to read sets the pace. The embedding is read one row per token.
  int64_t most = -1;
  for (const RankReport& r : plan.ranks) {
    const int64_t w = r.weights.total() - r.weights.embedding;
    const int64_t kv = r.kv_bytes_per_token * in.context;
    if (w + kv > most) {
      most = w + kv;
      c.slowest_rank = r.shard.tp_rank;
      c.weight_bytes = w;
      c.kv_bytes = kv;
    }
  }
  c.memory_s = static_cast<double>(c.weight_bytes + c.kv_bytes) / in.memory_bytes_per_s;
  c.traffic = StepLoad(plan, DecodeStepMessages(in.context, in.block_size));
  c.all_reduce_latency_s = static_cast<double>(c.traffic.all_reduce.messages) * in.link.latency_s;
  c.all_reduce_bandwidth_s =
      static_cast<double>(c.traffic.all_reduce.bytes) / in.link.bytes_per_s();
  c.gather_s = CollectiveSeconds(c.traffic.gather, in.link);
  c.broadcast_s = CollectiveSeconds(c.traffic.broadcast, in.link);
  return c;
}

StatusOr<std::vector<DecodeCost>> ScanTpSizes(const WeightSource& src, DType kv_dtype,
                                              const CostInputs& in) {
  std::vector<DecodeCost> scan;
  for (int p : ShardPlan::ValidTpSizes(src.config())) {
    GS_ASSIGN_OR_RETURN(PlanReport rep, MakePlanReport(src, p, kv_dtype));
    scan.push_back(PredictDecode(rep, in));
  }
  return scan;
}

int NoFurtherSpeedupTp(const std::vector<DecodeCost>& scan) {
  for (size_t i = 0; i < scan.size(); ++i) {
    bool beaten = false;
    for (size_t j = i + 1; j < scan.size(); ++j) beaten |= scan[j].step_s() < scan[i].step_s();
    if (!beaten) return scan[i].tp_size;
  }
  return scan.back().tp_size;
}

std::string FormatCostText(const DecodeCost& c, const CostInputs& in,
                           const std::vector<DecodeCost>& scan) {
  std::ostringstream o;
  char line[512];
  std::snprintf(line, sizeof(line),
                "\ndecode cost model (batch 1, one rank per host): link %.3g Gbit/s, latency "
                "%.3g us, memory %.3g GB/s per host, context %lld\n",
                in.link.bits_per_s * 1e-9, in.link.latency_s * 1e6, in.memory_bytes_per_s * 1e-9,
                static_cast<long long>(in.context));
  o << line;
  const DecodeStepLoad& t = c.traffic;
  std::snprintf(
      line, sizeof(line),
      "  memory                 %9.3f ms  (rank %d reads %.1f MiB weights + %.1f MiB KV)\n"
      "  all-reduce latency     %9.3f ms  (%lld messages)\n"
      "  all-reduce bandwidth   %9.3f ms  (%lld bytes)\n"
      "  logits gather          %9.3f ms  (%lld messages, %lld bytes)\n"
      "  step broadcast         %9.3f ms  (%lld messages, %lld bytes)\n"
      "  per token              %9.3f ms  = %.2f tokens/s at P=%d\n",
      Ms(c.memory_s), c.slowest_rank, c.weight_bytes / 1048576.0, c.kv_bytes / 1048576.0,
      Ms(c.all_reduce_latency_s), static_cast<long long>(t.all_reduce.messages),
      Ms(c.all_reduce_bandwidth_s), static_cast<long long>(t.all_reduce.bytes), Ms(c.gather_s),
      static_cast<long long>(t.gather.messages), static_cast<long long>(t.gather.bytes),
      Ms(c.broadcast_s), static_cast<long long>(t.broadcast.messages),
      static_cast<long long>(t.broadcast.bytes), Ms(c.step_s()), c.tokens_per_s(), c.tp_size);
  o << line;
  o << "P     memory ms  collectives ms  ms/token  tokens/s\n";
  for (const DecodeCost& s : scan) {
    std::snprintf(line, sizeof(line), "%-5d %9.3f  %14.3f  %8.3f  %8.2f\n", s.tp_size,
                  Ms(s.memory_s), Ms(s.collectives_s()), Ms(s.step_s()), s.tokens_per_s());
    o << line;
  }
  if (!scan.empty()) {
    o << "no further speedup beyond P=" << NoFurtherSpeedupTp(scan) << "\n";
  }
  return o.str();
}

nlohmann::json CostJson(const DecodeCost& c, const CostInputs& in,
                        const std::vector<DecodeCost>& scan) {
  auto traffic = [](const Traffic& t) {
    return nlohmann::json{{"messages", t.messages}, {"bytes", t.bytes}};
  };
  auto one = [&](const DecodeCost& d) {
    return nlohmann::json{{"tp_size", d.tp_size},
                          {"memory_ms", Ms(d.memory_s)},
                          {"all_reduce_latency_ms", Ms(d.all_reduce_latency_s)},
                          {"all_reduce_bandwidth_ms", Ms(d.all_reduce_bandwidth_s)},
                          {"gather_ms", Ms(d.gather_s)},
                          {"broadcast_ms", Ms(d.broadcast_s)},
                          {"collectives_ms", Ms(d.collectives_s())},
                          {"ms_per_token", Ms(d.step_s())},
                          {"tokens_per_s", d.tokens_per_s()}};
  };
  nlohmann::json j = one(c);
  j["link_bits_per_s"] = in.link.bits_per_s;
  j["link_latency_us"] = in.link.latency_s * 1e6;
  j["memory_gb_per_s"] = in.memory_bytes_per_s * 1e-9;
  j["context"] = in.context;
  j["slowest_rank"] = c.slowest_rank;
  j["weight_bytes_per_step"] = c.weight_bytes;
  j["kv_bytes_per_step"] = c.kv_bytes;
  j["all_reduce"] = traffic(c.traffic.all_reduce);
  j["gather"] = traffic(c.traffic.gather);
  j["broadcast"] = traffic(c.traffic.broadcast);
  nlohmann::json s = nlohmann::json::array();
  for (const DecodeCost& d : scan) s.push_back(one(d));
  j["scan"] = s;
  if (!scan.empty()) j["no_further_speedup_tp"] = NoFurtherSpeedupTp(scan);
  return j;
}

}  // namespace gs
