#include "core/cuda/cuda_bench.h"

#include <cstdio>
#include <memory>
#include <sstream>

#include "core/kv_cache.h"
#include "core/llama_model.h"
#include "core/model_input.h"
#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "parallel/communicator.h"
#include "parallel/shard_plan.h"

namespace gs::gpu_bench {
namespace {

constexpr int kBlockSize = 16;

// n_seqs sequences, each owning a contiguous run of blocks; every sequence
// gets `n_new` tokens at positions past..past+n_new-1.
ModelInput MakeStep(int n_seqs, int past, int n_new, int max_blocks, int vocab) {
  ModelInput in;
  in.max_blocks = max_blocks;
  for (int s = 0; s < n_seqs; ++s) {
    for (int b = 0; b < max_blocks; ++b) in.block_tables.push_back(s * max_blocks + b);
    const int32_t* table = in.block_tables.data() + static_cast<size_t>(s) * max_blocks;
    for (int j = 0; j < n_new; ++j) {
      const int p = past + j;
      in.tokens.push_back((s * 7919 + p * 104729) % vocab);
      in.positions.push_back(p);
      in.token_seq.push_back(s);
      in.slots.push_back(KvSlot(table, kBlockSize, p));
    }
    in.logit_rows.push_back(static_cast<int32_t>(in.tokens.size()) - 1);
  }
  return in;
}

float ElapsedMs(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

}  // namespace

std::vector<BenchRow> RunBench(const BenchOptions& opt) {
  const ModelConfig& c = opt.config;
  auto plan = ShardPlan::Make(c, 1);
  CHECK(plan.ok()) << plan.status().ToString();
  LocalCommunicator comm;
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto model = LlamaModel::Random(c, *plan, comm, std::make_unique<kernels::cuda::CudaOps>(stream),
                                  /*seed=*/1234);
  int max_batch = 4;
  for (int b : opt.decode_batches) max_batch = std::max(max_batch, b);
  const int max_ctx = std::max(opt.context + opt.decode_steps + 8, opt.prefill_tokens / 4);
  const int max_blocks = (max_ctx + kBlockSize - 1) / kBlockSize;
  std::unique_ptr<KvCache> cache = model->MakeKvCache(max_batch * max_blocks, kBlockSize);
  const int64_t kv_bytes_per_token = KvBytesPerToken(c, c.n_kv_heads, cache->dtype());
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<BenchRow> rows;
  // Every matrix and norm once per step; of the embedding only the step's rows.
  const WeightBytes& wb = model->weight_bytes();
  const double weight_bytes = static_cast<double>(wb.total() - wb.embedding);

  // Prefill: 4 sequences of prefill_tokens / 4 fresh tokens each.
  {
    const int per_seq = opt.prefill_tokens / 4;
    const ModelInput in = MakeStep(4, 0, per_seq, max_blocks, c.vocab_size);
    model->Upload(in);
    model->Run(*cache, per_seq);  // warm-up (cuBLAS heuristics, allocations)
    const int reps = 3;
    CUDA_CHECK(cudaEventRecord(e0, stream));
    for (int r = 0; r < reps; ++r) model->Run(*cache, per_seq);
    CUDA_CHECK(cudaEventRecord(e1, stream));
    CUDA_CHECK(cudaEventSynchronize(e1));
    BenchRow row;
    row.phase = "prefill";
    row.batch = 4;
    row.tokens = 4 * per_seq;
    row.ms_per_step = ElapsedMs(e0, e1) / reps;
    row.gbytes_per_step = weight_bytes / 1e9;
    rows.push_back(row);
  }
  for (int batch : opt.decode_batches) {
    // Timed steps read a context of `context` .. context + steps tokens; the
    // cache content is whatever the allocation held (zeros): speed does not
    // depend on it.
    const int bound = opt.context + opt.decode_steps + 1;
    ModelInput in = MakeStep(batch, opt.context, 1, max_blocks, c.vocab_size);
    model->Upload(in);
    model->Run(*cache, bound);  // warm-up, sizes the attention workspace for `bound`
    cudaGraphExec_t exec = nullptr;
    if (opt.cuda_graphs) {
      cudaGraph_t graph;
      CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      model->Run(*cache, bound);
      CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
      CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      CUDA_CHECK(cudaGraphDestroy(graph));
    }
    double kv_read = 0;
    CUDA_CHECK(cudaStreamSynchronize(stream));
    CUDA_CHECK(cudaEventRecord(e0, stream));
    for (int step = 0; step < opt.decode_steps; ++step) {
      in = MakeStep(batch, opt.context + step, 1, max_blocks, c.vocab_size);
      model->Upload(in);  // same shapes, so the same device addresses
      if (exec != nullptr) {
        CUDA_CHECK(cudaGraphLaunch(exec, stream));
      } else {
        model->Run(*cache, bound);
      }
      kv_read += static_cast<double>(batch) * (opt.context + step + 1) *
                 static_cast<double>(kv_bytes_per_token);
    }
    CUDA_CHECK(cudaEventRecord(e1, stream));
    CUDA_CHECK(cudaEventSynchronize(e1));
    if (exec != nullptr) CUDA_CHECK(cudaGraphExecDestroy(exec));
    BenchRow row;
    row.phase = "decode";
    row.batch = batch;
    row.tokens = batch;
    row.ms_per_step = ElapsedMs(e0, e1) / opt.decode_steps;
    row.gbytes_per_step = (weight_bytes + kv_read / opt.decode_steps) / 1e9;
    rows.push_back(row);
  }
  for (BenchRow& r : rows) {
    r.tokens_per_s = r.tokens / (r.ms_per_step / 1e3);
    r.achieved_gbps = r.gbytes_per_step / (r.ms_per_step / 1e3);
    r.roofline_pct = 100.0 * r.achieved_gbps / opt.peak_gbps;
  }
  CUDA_CHECK(cudaEventDestroy(e0));
  CUDA_CHECK(cudaEventDestroy(e1));
  cache.reset();
  model.reset();
  CUDA_CHECK(cudaStreamDestroy(stream));
  return rows;
}

std::string FormatBench(const std::vector<BenchRow>& rows, const BenchOptions& opt) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof(line), "%-8s %6s %7s %10s %12s %10s %10s %9s\n", "phase", "batch",
                "tokens", "ms/step", "tokens/s", "GB/step", "GB/s", "%HBM");
  os << line;
  for (const BenchRow& r : rows) {
    std::snprintf(line, sizeof(line), "%-8s %6d %7d %10.3f %12.1f %10.2f %10.1f %8.1f%%\n",
                  r.phase.c_str(), r.batch, r.tokens, r.ms_per_step, r.tokens_per_s,
                  r.gbytes_per_step, r.achieved_gbps, r.roofline_pct);
    os << line;
  }
  std::snprintf(line, sizeof(line),
                "(peak %.0f GB/s; decode context %d tokens/sequence; CUDA graphs %s; prefill "
                "%%HBM is weights only and not a target)\n",
                opt.peak_gbps, opt.context, opt.cuda_graphs ? "on" : "off");
  os << line;
  return os.str();
}

}  // namespace gs::gpu_bench
