// The speed benchmark behind `groupshard bench`: prefill and batched decode
// through LlamaModel::Forward on every rank of a tensor-parallel group, with
// the bytes each decode step streams and the machine's own read bandwidth,
// so decode speed reads as a fraction of the memory roofline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/llama_model.h"
#include "parallel/communicator.h"

namespace gs {

struct BenchOptions {
  int prompt_tokens = 128;
  int gen_tokens = 64;
  int batch = 1;       // sequences decoded together
  int block_size = 16;
  // Prefill and decode each run this many times over the same positions
  // (rewriting the same K/V); the best run is reported, as is the best of
  // 2 * repeat probe passes. Machines shared with other work are noisy.
  int repeat = 3;
  int64_t probe_bytes = int64_t{1} << 30;  // over all ranks
};

// A per-step time over the decode steps of the fastest run, in ms.
struct StepStat {
  double mean = 0;
  double p99 = 0;
};

// One rank's decode steps: the wall time of each LlamaModel::Forward, the
// time inside collectives (CountingCommunicator::seconds) and the time
// inside device operations (LlamaModel::compute_seconds), measured apart:
// compute + collectives <= step, the rest being host work between them. And
// what the rank sent per step (collective_traffic.h); the benchmark feeds
// every rank the same inputs, so a bench step has no step broadcast.
struct DecodeStepTimes {
  StepStat step_ms, collective_ms, compute_ms;
  int64_t messages = 0;
  int64_t bytes = 0;
};

// One part of rank 0's decode step, per step over the decode steps of the
// fastest run.
struct StepPart {
  std::string kind;
  double ms = 0;
  double calls = 0;
};

struct BenchResult {
  int tp_size = 1;
  int threads = 1;  // per rank
  int batch = 1;
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;     // all sequences together
  double decode_step_ms = 0;
  int64_t weight_bytes_per_step = 0;  // matrices + norms every step reads, all ranks
  int64_t kv_bytes_per_step = 0;      // mean K/V bytes a step reads, all ranks
  double achieved_gb_per_s = 0;       // (weights + KV) per step / step time
  double probe_gb_per_s = 0;          // the machine's read bandwidth, all ranks at once
  double roofline_fraction = 0;
  DecodeStepTimes rank0;
  DecodeStepTimes max_over_ranks;  // each figure's maximum over the ranks
  // Where rank 0's decode step goes: each kind of device call that ran
  // (LlamaModel::compute_by_kind; together they are rank0.compute_ms.mean),
  // then "collectives" (rank0.collective_ms.mean, calls of any collective)
  // and "other" (the step's rest, no calls: host work between the calls,
  // such as Forward's bookkeeping and the thread pool's hand-offs).
  std::vector<StepPart> breakdown;
};

// Collective: every rank of `comm` calls it with the same options; the
// result is complete on rank 0. `model` runs with the threads it was given
// (LlamaModel::SetThreads) and must have been built over `comm` (whose
// meters time its collectives); RunBench turns on its compute timing.
BenchResult RunBench(LlamaModel& model, CountingCommunicator& comm, const BenchOptions& opts);

std::string FormatBenchText(const BenchResult& r, const BenchOptions& opts);
nlohmann::json BenchJson(const BenchResult& r, const BenchOptions& opts);

}  // namespace gs
