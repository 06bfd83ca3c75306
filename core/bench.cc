#include "core/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "kernels/bandwidth_probe.h"
#include "kernels/check.h"

namespace gs {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A fixed token stream: the benchmark does not sample, so every rank knows
// the next input without a broadcast.
int32_t TokenAt(int s, int pos, int64_t vocab) {
  return static_cast<int32_t>((1000003LL * s + 7919LL * pos + 11) % vocab);
}

void PrefillInput(int s, int n, int max_blocks, int block_size, int64_t vocab, ModelInput* in) {
  in->Clear();
  // Sequence s owns blocks [s * max_blocks, (s + 1) * max_blocks).
  for (int b = 0; b < max_blocks; ++b) in->block_tables.push_back(s * max_blocks + b);
  for (int p = 0; p < n; ++p) {
    in->tokens.push_back(TokenAt(s, p, vocab));
    in->positions.push_back(p);
    in->slots.push_back(KvSlot(in->block_tables.data(), block_size, p));
    in->token_seq.push_back(0);
  }
  in->max_blocks = max_blocks;
  in->logit_rows.push_back(n - 1);
}

void DecodeInput(int batch, int pos, int max_blocks, int block_size, int64_t vocab,
                 ModelInput* in) {
  in->Clear();
  for (int s = 0; s < batch; ++s) {
    for (int b = 0; b < max_blocks; ++b) in->block_tables.push_back(s * max_blocks + b);
    in->tokens.push_back(TokenAt(s, pos, vocab));
    in->positions.push_back(pos);
    in->slots.push_back(KvSlot(in->block_tables.data() + s * max_blocks, block_size, pos));
    in->token_seq.push_back(s);
    in->logit_rows.push_back(s);
  }
  in->max_blocks = max_blocks;
}

int64_t SumOverRanks(Communicator& comm, int64_t v) {
  std::vector<int64_t> all(comm.size());
  comm.AllGather(&v, sizeof(v), all.data());
  int64_t s = 0;
  for (int64_t x : all) s += x;
  return s;
}

double MaxOverRanks(Communicator& comm, double v) {
  std::vector<double> all(comm.size());
  comm.AllGather(&v, sizeof(v), all.data());
  return *std::max_element(all.begin(), all.end());
}

// Mean and 99th percentile (nearest rank) of `ms`.
StepStat Stat(std::vector<double> ms) {
  StepStat s;
  if (ms.empty()) return s;
  double sum = 0;
  for (double x : ms) sum += x;
  s.mean = sum / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  const size_t k = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(ms.size())));
  s.p99 = ms[std::max<size_t>(k, 1) - 1];
  return s;
}

// Per-step samples of one decode run on this rank.
struct StepSamples {
  std::vector<double> step_ms, collective_ms, compute_ms;
  Traffic sent;
};

DecodeStepTimes Summarize(const StepSamples& s, int steps) {
  DecodeStepTimes t;
  t.step_ms = Stat(s.step_ms);
  t.collective_ms = Stat(s.collective_ms);
  t.compute_ms = Stat(s.compute_ms);
  t.messages = s.sent.messages / steps;
  t.bytes = s.sent.bytes / steps;
  return t;
}

DecodeStepTimes MaxOverRanks(Communicator& comm, const DecodeStepTimes& t) {
  const double mine[8] = {t.step_ms.mean,       t.step_ms.p99,
                          t.collective_ms.mean, t.collective_ms.p99,
                          t.compute_ms.mean,    t.compute_ms.p99,
                          static_cast<double>(t.messages), static_cast<double>(t.bytes)};
  std::vector<double> all(8 * static_cast<size_t>(comm.size()));
  comm.AllGather(mine, sizeof(mine), all.data());
  double mx[8];
  std::copy(mine, mine + 8, mx);
  for (int r = 0; r < comm.size(); ++r) {
    for (int k = 0; k < 8; ++k) mx[k] = std::max(mx[k], all[8 * r + k]);
  }
  DecodeStepTimes m;
  m.step_ms = {mx[0], mx[1]};
  m.collective_ms = {mx[2], mx[3]};
  m.compute_ms = {mx[4], mx[5]};
  m.messages = static_cast<int64_t>(mx[6]);
  m.bytes = static_cast<int64_t>(mx[7]);
  return m;
}

int64_t CollectiveCalls(const CountingCommunicator& comm) {
  return comm.all_reduces() + comm.all_gathers() + comm.gathers() + comm.broadcasts() +
         comm.barriers();
}

// Per step, what each kind of device call took between `before` and `after`
// (the same model's compute_by_kind at the two ends of a run): the kinds
// that ran, in the model's order.
std::vector<StepPart> ComputeParts(const std::vector<kernels::TimedOps::KindTotals>& before,
                                   const std::vector<kernels::TimedOps::KindTotals>& after,
                                   int steps) {
  std::vector<StepPart> parts;
  for (size_t k = 0; k < after.size(); ++k) {
    const double s0 = k < before.size() ? before[k].seconds : 0.0;
    const int64_t c0 = k < before.size() ? before[k].calls : 0;
    const int64_t calls = after[k].calls - c0;
    if (calls == 0) continue;
    parts.push_back(
        {after[k].name, 1e3 * (after[k].seconds - s0) / steps, static_cast<double>(calls) / steps});
  }
  return parts;
}

}  // namespace

BenchResult RunBench(LlamaModel& model, CountingCommunicator& comm, const BenchOptions& o) {
  CHECK(o.prompt_tokens >= 1 && o.gen_tokens >= 1 && o.batch >= 1);
  const ModelConfig& c = model.config();
  const int64_t vocab = c.vocab_size;
  const int max_ctx = o.prompt_tokens + o.gen_tokens + 1;
  const int max_blocks = (max_ctx + o.block_size - 1) / o.block_size;
  std::unique_ptr<KvCache> cache = model.MakeKvCache(o.batch * max_blocks, o.block_size);
  std::vector<float> logits(static_cast<size_t>(std::max(o.batch, 1)) * vocab);
  ModelInput in;

  BenchResult r;
  r.tp_size = comm.size();
  r.threads = model.threads();
  r.batch = o.batch;
  model.MeasureCompute();

  // Warm-up (thread start, first touch of scratch): overwritten below.
  PrefillInput(0, std::min(o.prompt_tokens, 16), max_blocks, o.block_size, vocab, &in);
  model.Forward(in, *cache, logits.data());

  const int repeat = std::max(1, o.repeat);
  double prefill_s = 1e30;
  for (int rep = 0; rep < repeat; ++rep) {
    comm.Barrier();
    const auto t0 = Clock::now();
    for (int s = 0; s < o.batch; ++s) {
      PrefillInput(s, o.prompt_tokens, max_blocks, o.block_size, vocab, &in);
      model.Forward(in, *cache, logits.data());
    }
    comm.Barrier();
    prefill_s = std::min(prefill_s, MaxOverRanks(comm, Since(t0)));
  }
  r.prefill_tokens_per_s = static_cast<double>(o.batch) * o.prompt_tokens / prefill_s;

  // Inputs are built before timing each step so only Forward is measured.
  std::vector<ModelInput> steps(o.gen_tokens);
  for (int i = 0; i < o.gen_tokens; ++i) {
    DecodeInput(o.batch, o.prompt_tokens + i, max_blocks, o.block_size, vocab, &steps[i]);
  }
  // The roofline is measured beside each decode run (every rank streams its
  // share of the probe buffer at once), and the fastest run is held against
  // the faster of the passes just before and after it: on a machine shared
  // with other work, bandwidth moves from one second to the next.
  const int64_t share = o.probe_bytes / comm.size();
  BandwidthProbe probe(share, model.thread_pool());
  auto probe_pass = [&] {
    comm.Barrier();
    return MaxOverRanks(comm, probe.Pass());
  };
  double before = probe_pass();
  double decode_s = 1e30, probe_s = 1e30;
  StepSamples best, run;
  std::vector<StepPart> best_parts;
  int64_t best_collective_calls = 0;
  for (int rep = 0; rep < repeat; ++rep) {
    run = StepSamples();
    comm.Barrier();
    const std::vector<kernels::TimedOps::KindTotals> kinds0 = model.compute_by_kind();
    const int64_t calls0 = CollectiveCalls(comm);
    const auto t0 = Clock::now();
    for (int i = 0; i < o.gen_tokens; ++i) {
      const double coll0 = comm.seconds(), comp0 = model.compute_seconds();
      const Traffic sent0 = comm.sent();
      const auto ts = Clock::now();
      model.Forward(steps[i], *cache, logits.data());
      run.step_ms.push_back(1e3 * Since(ts));
      run.collective_ms.push_back(1e3 * (comm.seconds() - coll0));
      run.compute_ms.push_back(1e3 * (model.compute_seconds() - comp0));
      run.sent.messages += comm.sent().messages - sent0.messages;
      run.sent.bytes += comm.sent().bytes - sent0.bytes;
    }
    std::vector<StepPart> parts = ComputeParts(kinds0, model.compute_by_kind(), o.gen_tokens);
    const int64_t collective_calls = CollectiveCalls(comm) - calls0;
    comm.Barrier();
    const double run_s = MaxOverRanks(comm, Since(t0));
    const double after = probe_pass();
    if (run_s < decode_s) {
      decode_s = run_s;
      probe_s = std::min(before, after);
      best = run;
      best_parts = std::move(parts);
      best_collective_calls = collective_calls;
    }
    before = after;
  }
  r.rank0 = Summarize(best, o.gen_tokens);
  r.max_over_ranks = MaxOverRanks(comm, r.rank0);
  r.breakdown = std::move(best_parts);
  r.breakdown.push_back({"collectives", r.rank0.collective_ms.mean,
                         static_cast<double>(best_collective_calls) / o.gen_tokens});
  // Compute and collectives are timed apart inside each step, so the rest
  // is >= 0 up to rounding.
  r.breakdown.push_back(
      {"other",
       std::max(0.0, r.rank0.step_ms.mean - r.rank0.compute_ms.mean - r.rank0.collective_ms.mean),
       0.0});
  r.decode_tokens_per_s = static_cast<double>(o.batch) * o.gen_tokens / decode_s;
  r.decode_step_ms = 1e3 * decode_s / o.gen_tokens;

  // Every step reads every matrix and norm once; the embedding only one row
  // per token (left out).
  const WeightBytes& wb = model.weight_bytes();
  r.weight_bytes_per_step = SumOverRanks(comm, wb.total() - wb.embedding);
  const double mean_ctx = o.prompt_tokens + (o.gen_tokens + 1) / 2.0;
  const int64_t kv_local = static_cast<int64_t>(
      o.batch * mean_ctx *
      KvBytesPerToken(c, model.shard().n_local_groups(), model.ops().kv_dtype()));
  r.kv_bytes_per_step = SumOverRanks(comm, kv_local);
  r.achieved_gb_per_s =
      1e-9 * static_cast<double>(r.weight_bytes_per_step + r.kv_bytes_per_step) /
      (decode_s / o.gen_tokens);

  r.probe_gb_per_s = 1e-9 * static_cast<double>(probe.bytes() * comm.size()) / probe_s;
  r.roofline_fraction = r.achieved_gb_per_s / r.probe_gb_per_s;
  return r;
}

std::string FormatBenchText(const BenchResult& r, const BenchOptions& o) {
  const DecodeStepTimes& a = r.rank0;
  const DecodeStepTimes& m = r.max_over_ranks;
  char buf[2048];
  std::snprintf(
      buf, sizeof(buf),
      "ranks %d x threads %d, batch %d, prompt %d, generated %d\n"
      "prefill: %.1f tokens/s\n"
      "decode:  %.2f tokens/s (%.2f ms/step, batch %d)\n"
      "bytes per decode step: weights %.1f MiB + KV %.1f MiB (all ranks)\n"
      "achieved %.2f GB/s of %.2f GB/s measured read bandwidth: %.1f%% of roofline\n"
      "decode step ms, mean / p99, rank 0 (most of any rank):\n"
      "  step %.3f / %.3f (%.3f / %.3f), collectives %.3f / %.3f (%.3f / %.3f), "
      "compute %.3f / %.3f (%.3f / %.3f)\n"
      "sent per decode step, rank 0 (most of any rank): %lld messages (%lld), %.1f KiB (%.1f)\n",
      r.tp_size, r.threads, r.batch, o.prompt_tokens, o.gen_tokens, r.prefill_tokens_per_s,
      r.decode_tokens_per_s, r.decode_step_ms, r.batch, r.weight_bytes_per_step / 1048576.0,
      r.kv_bytes_per_step / 1048576.0, r.achieved_gb_per_s, r.probe_gb_per_s,
      100.0 * r.roofline_fraction, a.step_ms.mean, a.step_ms.p99, m.step_ms.mean, m.step_ms.p99,
      a.collective_ms.mean, a.collective_ms.p99, m.collective_ms.mean, m.collective_ms.p99,
      a.compute_ms.mean, a.compute_ms.p99, m.compute_ms.mean, m.compute_ms.p99,
      static_cast<long long>(a.messages), static_cast<long long>(m.messages), a.bytes / 1024.0,
      m.bytes / 1024.0);
  std::string text = buf;
  if (!r.breakdown.empty() && a.step_ms.mean > 0) {
    text += "decode step by kind, rank 0: ms/step, % of step, calls/step\n";
    std::vector<StepPart> parts = r.breakdown;
    std::stable_sort(parts.begin(), parts.end(),
                     [](const StepPart& x, const StepPart& y) { return x.ms > y.ms; });
    for (const StepPart& p : parts) {
      std::snprintf(buf, sizeof(buf), "  %-15s %9.3f %6.1f%% %8.1f\n", p.kind.c_str(), p.ms,
                    100.0 * p.ms / a.step_ms.mean, p.calls);
      text += buf;
    }
  }
  return text;
}

namespace {
nlohmann::json StepJson(const DecodeStepTimes& t) {
  auto stat = [](const StepStat& s) { return nlohmann::json{{"mean", s.mean}, {"p99", s.p99}}; };
  return {{"step_ms", stat(t.step_ms)},
          {"collective_ms", stat(t.collective_ms)},
          {"compute_ms", stat(t.compute_ms)},
          {"messages", t.messages},
          {"bytes", t.bytes}};
}

// {kind: {"ms": per step, "calls": per step}}.
nlohmann::json BreakdownJson(const std::vector<StepPart>& parts) {
  nlohmann::json j = nlohmann::json::object();
  for (const StepPart& p : parts) j[p.kind] = {{"ms", p.ms}, {"calls", p.calls}};
  return j;
}
}  // namespace

nlohmann::json BenchJson(const BenchResult& r, const BenchOptions& o) {
  return {{"tp_size", r.tp_size},
          {"threads", r.threads},
          {"batch", r.batch},
          {"prompt_tokens", o.prompt_tokens},
          {"gen_tokens", o.gen_tokens},
          {"prefill_tokens_per_s", r.prefill_tokens_per_s},
          {"decode_tokens_per_s", r.decode_tokens_per_s},
          {"decode_step_ms", r.decode_step_ms},
          {"weight_bytes_per_step", r.weight_bytes_per_step},
          {"weight_bytes_per_token", r.weight_bytes_per_step / r.batch},
          {"kv_bytes_per_step", r.kv_bytes_per_step},
          {"achieved_gb_per_s", r.achieved_gb_per_s},
          {"probe_gb_per_s", r.probe_gb_per_s},
          {"roofline_fraction", r.roofline_fraction},
          {"decode_step",
           {{"rank0", StepJson(r.rank0)},
            {"max_over_ranks", StepJson(r.max_over_ranks)},
            {"breakdown", BreakdownJson(r.breakdown)}}}};
}

}  // namespace gs
