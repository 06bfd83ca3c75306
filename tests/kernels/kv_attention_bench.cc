// Decode attention alone over caches of each dtype, with SmolLM2-135M's
// shape (30 layers, 9 query heads in 3 groups, head_dim 64, blocks of 16
// scattered by the block table): one token at a context of 128, 512 or 2048,
// all layers' K/V in one huge-page allocation as the engine's cache keeps
// them, so at 2048 (94 MB of fp32 K/V per token) the rows come from memory as
// they do in a real decode step. With
// cold:1 a 64 MB buffer is read (untimed) before each pass, as a decode
// step's weights would: shorter caches then come from memory too, and the
// figure shows how well the kernel hides memory latency. wide:0 forces the
// 8-lane kernels where the CPU has AVX-512 (wide:1 takes the 16-lane ones
// there, and the 8-lane ones elsewhere).
//
//   build/bin/kv_attention_bench [--benchmark_filter=...]
//
// bytes_per_second counts the K/V bytes read: a memory-bound kernel reads its
// stored bytes at the machine's bandwidth whatever the dtype, so the smaller
// dtypes should take proportionally less time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/dtype.h"
#include "kernels/huge_pages.h"
#include "kernels/thread_pool.h"

namespace gs {
namespace {

constexpr int kLayers = 30, kGroups = 3, kHeads = 9, kHeadDim = 64, kBlock = 16;

// Times all 30 layers' attention for one token of each sequence s at
// positions[s], over a cache of n_blocks blocks per layer in the dtype of
// argument 0 (sequence s's blocks: table[s * max_blocks ...]), on argument
// 2's threads, with argument 3 (cold) reading 64 MB before each pass.
void TimeAttention(benchmark::State& state, const std::vector<int32_t>& positions,
                   const std::vector<int32_t>& table, int max_blocks, int n_blocks) {
  const DType dtype = static_cast<DType>(state.range(0));
  const int threads = static_cast<int>(state.range(2));
  const bool cold = state.range(3) != 0;
  const bool wide = state.range(4) != 0;
  const int64_t n = static_cast<int64_t>(positions.size());
  const int64_t row = RowBytes(dtype, kHeadDim);
  const int64_t layer_bytes = static_cast<int64_t>(n_blocks) * kGroups * kBlock * row;
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 1.0f);
  // Layer il's keys at 2 il * layer_bytes, its values right after.
  StreamedBytes cache(2 * kLayers * layer_bytes);
  std::vector<float> x(kHeadDim);
  for (int64_t r = 0; r < 2 * kLayers * layer_bytes / row; ++r) {
    for (float& e : x) e = g(rng);
    QuantizeRow(dtype, x.data(), cache.data() + r * row, kHeadDim);
  }
  std::vector<float> q(n * kHeads * kHeadDim), out(q.size());
  for (float& e : q) e = g(rng);
  std::vector<int32_t> head_group(kHeads), seq(n);
  for (int h = 0; h < kHeads; ++h) head_group[h] = h / (kHeads / kGroups);
  for (int64_t s = 0; s < n; ++s) seq[s] = static_cast<int32_t>(s);
  kernels::AttentionBatch b;
  b.n_tokens = n;
  b.positions = positions.data();
  b.token_seq = seq.data();
  b.block_tables = table.data();
  b.max_blocks = max_blocks;
  ThreadPool pool(threads);
  std::vector<int64_t> flush(cold ? (64 << 20) / sizeof(int64_t) : 0, 1);
  int64_t flushed = 0;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      for (int64_t i = 0; i < static_cast<int64_t>(flush.size()); i += 8) flushed += flush[i];
      benchmark::DoNotOptimize(flushed);
      state.ResumeTiming();
    }
    for (int il = 0; il < kLayers; ++il) {
      kernels::KvLayer kv;
      kv.k = cache.data() + 2 * il * layer_bytes;
      kv.v = cache.data() + (2 * il + 1) * layer_bytes;
      kv.dtype = dtype;
      kv.n_groups = kGroups;
      kv.block_size = kBlock;
      kv.head_dim = kHeadDim;
      kernels::PagedAttention(q.data(), kv, b, head_group.data(), kHeads, 0.125f, out.data(),
                              threads > 1 ? &pool : nullptr, wide);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(DTypeLowerName(dtype));
}

void BM_DecodeAttention(benchmark::State& state) {
  const int ctx = static_cast<int>(state.range(1));
  const int n_blocks = (ctx + kBlock - 1) / kBlock;
  std::vector<int32_t> table(n_blocks);
  for (int i = 0; i < n_blocks; ++i) table[i] = (i * 7) % n_blocks;
  TimeAttention(state, {ctx - 1}, table, n_blocks, n_blocks);
  const int64_t row = RowBytes(static_cast<DType>(state.range(0)), kHeadDim);
  state.SetBytesProcessed(state.iterations() * 2 * kLayers * static_cast<int64_t>(ctx) * kGroups *
                          row);
}

void Args(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    for (int ctx : {128, 2048}) {
      for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
        for (int wide : {0, 1}) b->Args({static_cast<int64_t>(t), ctx, threads, 0, wide});
      }
    }
    for (int ctx : {128, 512}) {
      for (DType t : {DType::kF16, DType::kQ8_0})
        b->Args({static_cast<int64_t>(t), ctx, threads, 1, 1});
    }
  }
  b->ArgNames({"dtype", "ctx", "threads", "cold", "wide"})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}
BENCHMARK(BM_DecodeAttention)->Apply(Args);

// A batched decode step's attention as serving runs it: 16 sequences, one
// token each, at contexts spread evenly over [ctx/4, 7 ctx/4) (mean ctx), all
// 30 layers, SmolLM2's shape, blocks handed out in the order the sequences
// grew (interleaved, as a block manager hands them out to sequences decoding
// together). items_per_second counts (token, group) pairs.
void BM_BatchAttention(benchmark::State& state) {
  const int ctx = static_cast<int>(state.range(1));
  constexpr int kSeqs = 16;
  std::vector<int32_t> pos(kSeqs);
  int max_blocks = 0;
  for (int s = 0; s < kSeqs; ++s) {
    pos[s] = ctx / 4 + (3 * ctx / 2) * s / kSeqs;
    max_blocks = std::max(max_blocks, pos[s] / kBlock + 1);
  }
  // Block b of every sequence, then block b + 1 of every sequence, ...
  std::vector<int32_t> table(kSeqs * max_blocks, 0);
  int32_t n_blocks = 0;
  for (int b = 0; b < max_blocks; ++b) {
    for (int s = 0; s < kSeqs; ++s) {
      if (b <= pos[s] / kBlock) table[s * max_blocks + b] = n_blocks++;
    }
  }
  TimeAttention(state, pos, table, max_blocks, n_blocks);
  state.SetItemsProcessed(state.iterations() * kLayers * kSeqs * kGroups);
}

void BatchArgs(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    for (int ctx : {40, 160, 640}) {
      for (int cold : {0, 1}) {
        for (DType t : {DType::kF16, DType::kQ8_0}) {
          for (int wide : {0, 1}) b->Args({static_cast<int64_t>(t), ctx, threads, cold, wide});
        }
      }
    }
  }
  b->ArgNames({"dtype", "ctx", "threads", "cold", "wide"})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}
BENCHMARK(BM_BatchAttention)->Apply(BatchArgs);

}  // namespace
}  // namespace gs

BENCHMARK_MAIN();
