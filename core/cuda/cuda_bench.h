// Single-GPU throughput of LlamaModel on CUDA ops, on random weights generated
// on the device (no files): decode steps at given batch sizes and one
// prefill step, with achieved memory bandwidth against the GPU's peak.
#pragma once

#include <string>
#include <vector>

#include "core/model_config.h"

namespace gs::gpu_bench {

struct BenchOptions {
  ModelConfig config = Llama3_8BShape();
  std::vector<int> decode_batches = {1, 16};
  int context = 1024;         // cached tokens per sequence before the timed decode steps
  int decode_steps = 32;      // timed steps per batch size
  int prefill_tokens = 2048;  // tokens of the prefill step (4 sequences)
  double peak_gbps = 4800;    // H200 HBM3e
  bool cuda_graphs = true;    // capture decode steps in a CUDA graph
};

struct BenchRow {
  std::string phase;  // "decode" or "prefill"
  int batch = 0;      // sequences in the step
  int tokens = 0;     // tokens per step
  double ms_per_step = 0;
  double tokens_per_s = 0;
  double gbytes_per_step = 0;  // weights + KV read (decode); weights (prefill)
  double achieved_gbps = 0;
  double roofline_pct = 0;
};

// Runs on the current device. Aborts (CUDA_CHECK) on device errors.
std::vector<BenchRow> RunBench(const BenchOptions& opt);
std::string FormatBench(const std::vector<BenchRow>& rows, const BenchOptions& opt);

}  // namespace gs::gpu_bench
