// The decode cost model behind `plan --network`: how long one decode step
// (batch 1) takes on P ranks, one rank per host, from the bytes each rank
// streams from memory and the messages and bytes the step's collectives put
// on each host's link. A first-order model (no overlap of compute and
// communication, no compute bound): time = memory + collectives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/plan_report.h"
#include "core/step_protocol.h"
#include "kernels/status.h"
#include "parallel/collective_traffic.h"

namespace gs {

// The collectives of one decode step of one token at P ranks, counted with
// parallel/collective_traffic.h: the embedding's all-reduce and two per
// layer (H floats each) as the rank that sends the most sends them, the
// logits' GatherV as rank 0 receives them (every other rank's vocabulary
// slice over its link), and the step's broadcast as rank 0 sends it.
struct DecodeStepLoad {
  Traffic all_reduce;  // all 2L + 1 together
  Traffic gather;
  Traffic broadcast;
};
DecodeStepLoad StepLoad(const PlanReport& plan, const StepChannel::MessageBytes& step);

// One host's link: its rate and the one-way latency each message pays.
struct LinkSpec {
  double bits_per_s = 0;
  double latency_s = 0;
  double bytes_per_s() const { return bits_per_s / 8; }
};

// "100gbit", "10Gbit", "800mbit", "1gbit" (bit, kbit, mbit, gbit, tbit;
// decimal, any case) in bits per second.
StatusOr<double> ParseLinkRate(const std::string& text);
// "5us", "0.2ms", "50us", "100ns", "0s" in seconds.
StatusOr<double> ParseLatency(const std::string& text);
// "RATE,LATENCY", as `plan --network` takes it.
StatusOr<LinkSpec> ParseNetwork(const std::string& text);

struct CostInputs {
  LinkSpec link;
  double memory_bytes_per_s = 0;  // each host's read bandwidth
  int64_t context = 0;            // tokens of KV the step's sequence reads
  int block_size = 16;            // KV block size (the step header lists the blocks)
};

// The parts of one decode step's time, for one token of one sequence.
struct DecodeCost {
  int tp_size = 1;
  int slowest_rank = 0;               // the rank with the most bytes to stream
  int64_t weight_bytes = 0;           // that rank's matrices and norms (no embedding)
  int64_t kv_bytes = 0;               // and its K/V rows at `context`
  double memory_s = 0;                // (weight + kv bytes) / memory bandwidth
  DecodeStepLoad traffic;             // the step's collectives
  double all_reduce_latency_s = 0;    // messages x latency of the 2L + 1 all-reduces
  double all_reduce_bandwidth_s = 0;  // their bytes / link rate
  double gather_s = 0;                // the logits to rank 0
  double broadcast_s = 0;             // the step from rank 0
  double collectives_s() const {
    return all_reduce_latency_s + all_reduce_bandwidth_s + gather_s + broadcast_s;
  }
  double step_s() const { return memory_s + collectives_s(); }
  double tokens_per_s() const { return 1.0 / step_s(); }
};

// Time of a collective: messages x latency + bytes / rate.
double CollectiveSeconds(const Traffic& t, const LinkSpec& link);

DecodeCost PredictDecode(const PlanReport& plan, const CostInputs& in);

// PredictDecode for every P that ShardPlan accepts for the model.
StatusOr<std::vector<DecodeCost>> ScanTpSizes(const WeightSource& src, DType kv_dtype,
                                              const CostInputs& in);
// The P beyond which more hosts no longer speed decode up: the smallest P no
// larger P beats. `scan` ascending in P and not empty.
int NoFurtherSpeedupTp(const std::vector<DecodeCost>& scan);

std::string FormatCostText(const DecodeCost& c, const CostInputs& in,
                           const std::vector<DecodeCost>& scan);
nlohmann::json CostJson(const DecodeCost& c, const CostInputs& in,
                        const std::vector<DecodeCost>& scan);

}  // namespace gs
