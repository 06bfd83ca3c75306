// What bounds the quantized products on the CPU at hand: the throughput of
// the vector instructions they are made of, alone and mixed (the integer
// multiplies, the float multiply-add, the int-to-float conversion and the
// sign operation of Q8_0), against a plain vector add; the kernels
// themselves on weights resident in L2, in multiply-adds per second (and
// bytes of weights per second); whole one-token products of every dtype on
// weights streamed from memory, against the probe on one thread; and the
// fixed cost of a small product on one and two threads (BM_SmallProduct).
//
//   build/bin/quant_kernels_bench [--benchmark_filter=...]
//
// Each instruction benchmark runs eight independent chains, so latency does
// not limit it; items_per_second counts instructions. Dividing two of them
// compares their throughput without knowing the clock (the vector add issues
// up to four per cycle on current x86 cores).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/bandwidth_probe.h"
#include "kernels/dtype.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "kernels/weight_arena.h"
#include "kernels/weight_matrix.h"
#include "kernels/cpu/quant_dot.h"

namespace gs {
namespace {

constexpr int kRounds = 1024;

// Keeps v in a register the compiler cannot see through.
#define GS_KEEP(v) asm volatile("" : "+x"(v))

// Eight independent chains of op per round (a0..a7), or four of op_a and
// four of op_b interleaved: enough chains that latency does not limit them.
template <class OpA, class OpB>
void Chains(benchmark::State& state, OpA op_a, OpB op_b) {
  __m256i a0 = _mm256_set1_epi8(1), a1 = _mm256_set1_epi8(2), a2 = _mm256_set1_epi8(3),
          a3 = _mm256_set1_epi8(4), a4 = _mm256_set1_epi8(5), a5 = _mm256_set1_epi8(6),
          a6 = _mm256_set1_epi8(7), a7 = _mm256_set1_epi8(8);
  for (auto _ : state) {
    for (int r = 0; r < kRounds; ++r) {
      a0 = op_a(a0);
      a1 = op_b(a1);
      a2 = op_a(a2);
      a3 = op_b(a3);
      a4 = op_a(a4);
      a5 = op_b(a5);
      a6 = op_a(a6);
      a7 = op_b(a7);
      GS_KEEP(a0);
      GS_KEEP(a1);
      GS_KEEP(a2);
      GS_KEEP(a3);
      GS_KEEP(a4);
      GS_KEEP(a5);
      GS_KEEP(a6);
      GS_KEEP(a7);
    }
  }
  // A copy, so the chains themselves stay in registers.
  const __m256i x01 = _mm256_xor_si256(a0, a1), x23 = _mm256_xor_si256(a2, a3);
  const __m256i x45 = _mm256_xor_si256(a4, a5), x67 = _mm256_xor_si256(a6, a7);
  __m256i sum = _mm256_xor_si256(_mm256_xor_si256(x01, x23), _mm256_xor_si256(x45, x67));
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kRounds * 8);
}

__m256i AddOp(__m256i v) { return _mm256_add_epi32(v, _mm256_set1_epi8(1)); }
__m256i MaddubsOp(__m256i v) { return _mm256_maddubs_epi16(v, _mm256_set1_epi8(1)); }
__m256i MaddOp(__m256i v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }
__m256i SignOp(__m256i v) { return _mm256_sign_epi8(v, _mm256_set1_epi8(1)); }
__m256i CvtOp(__m256i v) { return _mm256_castps_si256(_mm256_cvtepi32_ps(v)); }
__m256i FmaOp(__m256i v) {
  const __m256 f = _mm256_castsi256_ps(v);
  return _mm256_castps_si256(_mm256_fmadd_ps(f, f, f));
}

void BM_Add(benchmark::State& s) { Chains(s, AddOp, AddOp); }
void BM_Maddubs(benchmark::State& s) { Chains(s, MaddubsOp, MaddubsOp); }
void BM_Madd(benchmark::State& s) { Chains(s, MaddOp, MaddOp); }
void BM_Sign(benchmark::State& s) { Chains(s, SignOp, SignOp); }
void BM_Cvt(benchmark::State& s) { Chains(s, CvtOp, CvtOp); }
void BM_Fma(benchmark::State& s) { Chains(s, FmaOp, FmaOp); }
// Mixed, as chains: four chains of each kind, so these are bound by the
// chains' latency (3-4 cycles) and do not show which kinds share ports; the
// BM_Issue* forms below do.
void BM_MaddubsWithFma(benchmark::State& s) { Chains(s, MaddubsOp, FmaOp); }
void BM_MaddubsWithSign(benchmark::State& s) { Chains(s, MaddubsOp, SignOp); }
void BM_MaddubsWithCvt(benchmark::State& s) { Chains(s, MaddubsOp, CvtOp); }
void BM_MaddubsWithAdd(benchmark::State& s) { Chains(s, MaddubsOp, AddOp); }
BENCHMARK(BM_Add);
BENCHMARK(BM_Maddubs);
BENCHMARK(BM_Madd);
BENCHMARK(BM_Sign);
BENCHMARK(BM_Cvt);
BENCHMARK(BM_Fma);
BENCHMARK(BM_MaddubsWithFma);
BENCHMARK(BM_MaddubsWithSign);
BENCHMARK(BM_MaddubsWithCvt);
BENCHMARK(BM_MaddubsWithAdd);

// Throughput form: every instruction reads ymm0 and ymm1 and writes a
// register of its own, so none waits for another. A round is four of one
// kind (a) and four of another (b); items count instructions. Two kinds that
// share their ports run no faster together than one of them alone; kinds on
// different ports add up. vfmadd231ps reads its destination, so each one
// first gets a fresh copy of ymm0 (a register move, which the renamer
// absorbs on current cores).
#define GS_ISSUE_4(op, r0, r1, r2, r3)                                            \
  op " %%ymm0, %%ymm1, %%ymm" #r0 "\n\t" op " %%ymm0, %%ymm1, %%ymm" #r1 "\n\t" op \
     " %%ymm0, %%ymm1, %%ymm" #r2 "\n\t" op " %%ymm0, %%ymm1, %%ymm" #r3 "\n\t"
#define GS_FMA_4(r0, r1, r2, r3)                                                      \
  "vmovaps %%ymm0, %%ymm" #r0 "\n\tvfmadd231ps %%ymm0, %%ymm1, %%ymm" #r0 "\n\t"       \
  "vmovaps %%ymm0, %%ymm" #r1 "\n\tvfmadd231ps %%ymm0, %%ymm1, %%ymm" #r1 "\n\t"       \
  "vmovaps %%ymm0, %%ymm" #r2 "\n\tvfmadd231ps %%ymm0, %%ymm1, %%ymm" #r2 "\n\t"       \
  "vmovaps %%ymm0, %%ymm" #r3 "\n\tvfmadd231ps %%ymm0, %%ymm1, %%ymm" #r3 "\n\t"
#define GS_ISSUE_BENCH(name, a4, b4)                                                    \
  void name(benchmark::State& state) {                                                \
    asm volatile("vpxor %%ymm0, %%ymm0, %%ymm0\n\tvpxor %%ymm1, %%ymm1, %%ymm1" ::     \
                     : "xmm0", "xmm1");                                                 \
    for (auto _ : state) {                                                            \
      for (int r = 0; r < kRounds; ++r) {                                             \
        asm volatile(a4 b4::                                                          \
                         : "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9"); \
      }                                                                               \
    }                                                                                 \
    state.SetItemsProcessed(state.iterations() * kRounds * 8);                        \
  }                                                                                   \
  BENCHMARK(name)

GS_ISSUE_BENCH(BM_IssueAdd, GS_ISSUE_4("vpaddd", 2, 3, 4, 5), GS_ISSUE_4("vpaddd", 6, 7, 8, 9));
GS_ISSUE_BENCH(BM_IssueMaddubs, GS_ISSUE_4("vpmaddubsw", 2, 3, 4, 5),
               GS_ISSUE_4("vpmaddubsw", 6, 7, 8, 9));
GS_ISSUE_BENCH(BM_IssueMaddubsMadd, GS_ISSUE_4("vpmaddubsw", 2, 3, 4, 5),
               GS_ISSUE_4("vpmaddwd", 6, 7, 8, 9));
GS_ISSUE_BENCH(BM_IssueMaddubsFma, GS_ISSUE_4("vpmaddubsw", 2, 3, 4, 5), GS_FMA_4(6, 7, 8, 9));
GS_ISSUE_BENCH(BM_IssueMaddubsCvt, GS_ISSUE_4("vpmaddubsw", 2, 3, 4, 5),
               "vcvtdq2ps %%ymm0, %%ymm6\n\tvcvtdq2ps %%ymm0, %%ymm7\n\t"
               "vcvtdq2ps %%ymm0, %%ymm8\n\tvcvtdq2ps %%ymm0, %%ymm9\n\t");
GS_ISSUE_BENCH(BM_IssueMaddubsAdd, GS_ISSUE_4("vpmaddubsw", 2, 3, 4, 5),
               GS_ISSUE_4("vpaddd", 6, 7, 8, 9));
GS_ISSUE_BENCH(BM_IssueFmaCvt, GS_FMA_4(2, 3, 4, 5),
               "vcvtdq2ps %%ymm0, %%ymm6\n\tvcvtdq2ps %%ymm0, %%ymm7\n\t"
               "vcvtdq2ps %%ymm0, %%ymm8\n\tvcvtdq2ps %%ymm0, %%ymm9\n\t");

// The kernel: `rows` x `cols` weights (L2-resident) against n tokens.
void QuantRows(benchmark::State& state, DType t, int64_t n, int64_t rows, int64_t cols) {
  const int64_t nb = cols / 32;
  std::mt19937 rng(1);
  std::vector<uint8_t> gguf(rows * RowBytes(t, cols));
  for (uint8_t& b : gguf) b = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < gguf.size(); i += BlockBytes(t)) {
    const uint16_t half_scale = 0x2000;  // small positive fp16 scales (and Q4_1 offsets)
    std::memcpy(&gguf[i], &half_scale, 2);
    if (t == DType::kQ4_1) std::memcpy(&gguf[i + 2], &half_scale, 2);
  }
  const int64_t rb = kernels::cpu::PairedRowBytes(t, cols);
  std::vector<uint8_t> w(rows * rb);
  kernels::cpu::PackPairedRows(t, gguf.data(), rows, cols, w.data());
  std::vector<float> x(n * cols);
  for (float& v : x) v = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f;
  const int64_t np = kernels::cpu::PairsOf(nb);
  std::vector<kernels::cpu::Q8ActPair> xq(n * np);
  for (int64_t i = 0; i < n; ++i) kernels::cpu::QuantizeRowQ8(&x[i * cols], cols, &xq[i * np]);
  if (kernels::cpu::ReadsTransposedGroups(t)) {
    const std::vector<kernels::cpu::Q8ActPair> pairs = xq;
    for (int64_t i = 0; i < n; ++i) {
      kernels::cpu::TransposeQ4Groups(&pairs[i * np], np, &xq[i * np]);
    }
  }
  std::vector<float> y(n * rows);
  const auto fn = kernels::cpu::PickQuantRows(t);
  for (auto _ : state) {
    fn(w.data(), rb, xq.data(), np, n, rows, y.data(), 0, rows);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows * cols * n);  // multiply-adds
  state.counters["weight_bytes_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * rows * rb,
                         benchmark::Counter::kIsRate);
  state.SetLabel(std::string(DTypeName(t)) + " tokens " + std::to_string(n) + " columns " +
                 std::to_string(cols));
}

// 128 rows of 576 columns (the 135M shapes' hidden size) against n tokens.
void BM_QuantRows(benchmark::State& state) {
  QuantRows(state, static_cast<DType>(state.range(0)), state.range(1), 128, 576);
}
// One token against rows of 2048 columns (the 1B shape's; longer rows pay a
// row's fixed costs less often) or 14336 (Llama-3-8B's down): 64 or 16
// rows, in L2. The kernel's own rate on long rows, to hold against
// BM_ShapeFromMemory's.
void BM_QuantRowsLong(benchmark::State& state) {
  const int64_t cols = state.range(1);
  QuantRows(state, static_cast<DType>(state.range(0)), 1, std::max<int64_t>(16, 131072 / cols),
            cols);
}
BENCHMARK(BM_QuantRowsLong)
    ->ArgsProduct({{static_cast<int64_t>(DType::kQ8_0), static_cast<int64_t>(DType::kQ4_0),
                    static_cast<int64_t>(DType::kQ4_1)},
                   {2048, 14336}});
BENCHMARK(BM_QuantRows)
    ->ArgsProduct({{static_cast<int64_t>(DType::kQ8_0), static_cast<int64_t>(DType::kQ4_0),
                    static_cast<int64_t>(DType::kQ4_1)},
                   {1, 4, 16}});

// Rounding one token's activations to 8 bits (Q8ActPair), once per product
// and on the calling thread before the others start: items are values.
void BM_QuantizeRow(benchmark::State& state) {
  const int64_t cols = state.range(0);
  std::mt19937 rng(2);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> x(cols);
  for (float& v : x) v = gauss(rng);
  std::vector<kernels::cpu::Q8ActPair> xq(kernels::cpu::PairsOf(cols / 32));
  for (auto _ : state) {
    kernels::cpu::QuantizeRowQ8(x.data(), cols, xq.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * cols);
}
BENCHMARK(BM_QuantizeRow)->Arg(576)->Arg(1536)->Arg(2048);

// `count` matrices of rows x cols in dtype t, back to back in `arena` as the
// loader places them: random bytes with a small positive fp16 scale at the
// start of each block, or small bf16/f16/f32 values. Their speed, not their
// values, is what the benchmarks below measure.
std::vector<WeightMatrix> ArenaMatrices(DType t, int64_t rows, int64_t cols, int64_t count,
                                        WeightArena* arena) {
  std::mt19937 rng(3);
  std::vector<uint8_t> gguf(rows * RowBytes(t, cols));
  for (uint8_t& b : gguf) b = static_cast<uint8_t>(rng());
  const size_t step = BlockElems(t) > 1 ? BlockBytes(t) : 2;
  for (size_t i = 0; i < gguf.size(); i += step) {
    const uint16_t half = 0x2000;
    std::memcpy(&gguf[i], &half, 2);
  }
  std::vector<WeightMatrix> mats(count);
  for (WeightMatrix& w : mats) {
    w.dtype = t;
    w.rows = rows;
    w.cols = cols;
    kernels::PackForCpu(&w, gguf, arena);
  }
  return mats;
}

// One-token products against mats in turn, on `pool` (nullptr: this
// thread alone), as bytes of weights read per second.
void StreamProducts(benchmark::State& state, const std::vector<WeightMatrix>& mats,
                    ThreadPool* pool) {
  std::mt19937 rng(4);
  std::vector<float> x(mats[0].cols), y(mats[0].rows);
  for (float& v : x) v = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f;
  size_t m = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    kernels::MatMul(x.data(), 1, mats[m], y.data(), pool);
    benchmark::ClobberMemory();
    bytes += static_cast<int64_t>(mats[m].data.size());
    m = (m + 1) % mats.size();
  }
  state.counters["weight_bytes_per_s"] =
      benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsRate);
}

// Decode's case: one token against weights that stream from memory, on this
// thread alone. 96 matrices of 1536 x 576 (an MLP input of the 135M shapes),
// 85-340 MB by dtype, far beyond the caches, back to back in a WeightArena as
// the loader places them; each iteration multiplies the next one.
// weight_bytes_per_s is to be held against BM_ReadMemory's bytes_per_second
// in the same run: one core's share of the roofline.
constexpr int64_t kStreamMats = 96, kStreamRows = 1536, kStreamCols = 576;

void BM_MatMulFromMemory(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  WeightArena arena;
  const std::vector<WeightMatrix> mats =
      ArenaMatrices(t, kStreamRows, kStreamCols, kStreamMats, &arena);
  StreamProducts(state, mats, nullptr);
  state.SetLabel(DTypeName(t));
}
BENCHMARK(BM_MatMulFromMemory)
    ->Arg(static_cast<int64_t>(DType::kBF16))
    ->Arg(static_cast<int64_t>(DType::kF16))
    ->Arg(static_cast<int64_t>(DType::kF32))
    ->Arg(static_cast<int64_t>(DType::kQ8_0))
    ->Arg(static_cast<int64_t>(DType::kQ4_0))
    ->Arg(static_cast<int64_t>(DType::kQ4_1));

// Decode's products by shape, from memory, on a pool of 1 or 2 threads:
// Llama-3-8B's down (4096 x 14336) and gate/up (14336 x 4096) and a 135M
// MLP input (1536 x 576); arguments dtype, rows, columns, threads. Long
// rows are where weights prefetched into L1 alone fell short of memory
// (Q4_0 down on one thread: 14 GB/s against 22-27 for gate/up); see
// kernels/cpu/prefetch.h.
void BM_ShapeFromMemory(benchmark::State& state) {
  const auto t = static_cast<DType>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2);
  const int64_t count = std::max<int64_t>(4, (int64_t{512} << 20) / (rows * RowBytes(t, cols)));
  WeightArena arena;
  const std::vector<WeightMatrix> mats = ArenaMatrices(t, rows, cols, count, &arena);
  ThreadPool pool(static_cast<int>(state.range(3)));
  StreamProducts(state, mats, &pool);
  state.SetLabel(DTypeName(t));
}
constexpr int64_t kQ4_0 = static_cast<int64_t>(DType::kQ4_0);
constexpr int64_t kQ8_0 = static_cast<int64_t>(DType::kQ8_0);
constexpr int64_t kBF16 = static_cast<int64_t>(DType::kBF16);
BENCHMARK(BM_ShapeFromMemory)
    ->ArgsProduct({{kQ4_0, kQ8_0, kBF16}, {4096}, {14336}, {1, 2}})
    ->ArgsProduct({{kQ4_0, kQ8_0}, {14336}, {4096}, {1}})
    ->ArgsProduct({{kQ4_0, kQ8_0, kBF16}, {1536}, {576}, {1, 2}})
    ->ArgNames({"dtype", "rows", "cols", "threads"})
    ->UseRealTime();

// A decode step is about a hundred one-token products, and the small ones
// (k, v, o: 192-576 rows) pay a fixed cost per call: the activation
// rounding on the calling thread, the hand-off to the pool's other thread
// and back (the rounded activations and the outputs cross between cores),
// and the first misses of each weight stream. Q4_0 matrices of `rows` x 576
// on a pool of `threads`, hot (one matrix, in cache) or cold (matrices back
// to back in a weight arena, 256 MB, as BM_MatMulFromMemory). The time per
// product (µs) against rows shows the fixed part (the time at zero rows).
void BM_SmallProduct(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const bool cold = state.range(2) != 0;
  constexpr int64_t kCols = 576;
  const DType t = DType::kQ4_0;
  const int64_t bytes = rows * RowBytes(t, kCols);
  const int64_t n_mats = cold ? std::max<int64_t>(8, (int64_t{256} << 20) / bytes) : 1;
  WeightArena arena;
  const std::vector<WeightMatrix> mats = ArenaMatrices(t, rows, kCols, n_mats, &arena);
  ThreadPool pool(threads);
  StreamProducts(state, mats, &pool);
}
BENCHMARK(BM_SmallProduct)
    ->ArgsProduct({{64, 192, 576, 1536}, {1, 2}, {0, 1}})
    ->ArgNames({"rows", "threads", "cold"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// What one thread reads from memory (the probe `bench` holds decode against,
// on this thread alone).
void BM_ReadMemory(benchmark::State& state) {
  BandwidthProbe probe(256 << 20, nullptr);
  for (auto _ : state) state.SetIterationTime(probe.Pass());
  state.SetBytesProcessed(state.iterations() * probe.bytes());
}
BENCHMARK(BM_ReadMemory)->UseManualTime();

}  // namespace
}  // namespace gs

BENCHMARK_MAIN();
