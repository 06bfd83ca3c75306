// CPU paged attention against a direct softmax(q·kᵀ)·v in double precision,
// on a step that mixes a prompt chunk with decode tokens of other sequences,
// for GQA, MQA with more heads than one run takes, and head sizes the vector
// path takes (multiples of 8) and the scalar one (others); and the thread
// pool's split of (token, head) pairs changes no bit. Then the same over
// caches of f16, bf16 and q8_0, and the 16-lane kernels give the 8-lane ones'
// bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/dtype.h"
#include "kernels/thread_pool.h"

namespace gs {
namespace {

struct Step {
  int n_heads = 9, n_groups = 3, hd = 16, block = 4, max_blocks = 8;
  std::vector<int32_t> head_group, positions, token_seq, tables, slots;
  std::vector<float> k_cache, v_cache, q;
  int64_t n_tokens() const { return static_cast<int64_t>(positions.size()); }
};

// Three sequences: seq 0 prefills 11 tokens in this step; seqs 1 and 2 decode
// one token each at positions block * max_blocks - 12 (20 by default) and 5
// (their earlier K/V already cached).
Step MakeStep(std::mt19937& rng, int hd = 16, int n_heads = 9, int n_groups = 3, int block = 4,
              int max_blocks = 8) {
  Step s;
  s.hd = hd;
  s.n_heads = n_heads;
  s.n_groups = n_groups;
  s.block = block;
  s.max_blocks = max_blocks;
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int h = 0; h < s.n_heads; ++h) s.head_group.push_back(h / (s.n_heads / s.n_groups));
  const int n_seqs = 3;
  s.tables.resize(n_seqs * s.max_blocks);
  for (int i = 0; i < n_seqs * s.max_blocks; ++i) s.tables[i] = (i * 7) % (n_seqs * s.max_blocks);
  const size_t cache = static_cast<size_t>(n_seqs * s.max_blocks) * s.n_groups * s.block * s.hd;
  s.k_cache.resize(cache);
  s.v_cache.resize(cache);
  for (float& x : s.k_cache) x = g(rng);
  for (float& x : s.v_cache) x = g(rng);
  for (int p = 0; p < 11; ++p) {
    s.positions.push_back(p);
    s.token_seq.push_back(0);
  }
  s.positions.push_back(s.block * s.max_blocks - 12);
  s.token_seq.push_back(1);
  s.positions.push_back(5);
  s.token_seq.push_back(2);
  s.q.resize(static_cast<size_t>(s.n_tokens()) * s.n_heads * s.hd);
  for (float& x : s.q) x = g(rng);
  return s;
}

// The step's attention over its fp32 cache, or over k/v rows of `dtype`
// laid out as the fp32 cache is (allow_wide false: the 8-lane kernels).
std::vector<float> Attend(const Step& s, ThreadPool* pool, DType dtype = DType::kF32,
                          const void* k = nullptr, const void* v = nullptr,
                          bool allow_wide = true) {
  kernels::KvLayer kv;
  kv.k = const_cast<void*>(k != nullptr ? k : s.k_cache.data());
  kv.v = const_cast<void*>(v != nullptr ? v : s.v_cache.data());
  kv.dtype = dtype;
  kv.n_groups = s.n_groups;
  kv.block_size = s.block;
  kv.head_dim = s.hd;
  kernels::AttentionBatch b;
  b.n_tokens = s.n_tokens();
  b.positions = s.positions.data();
  b.token_seq = s.token_seq.data();
  b.block_tables = s.tables.data();
  b.max_blocks = s.max_blocks;
  std::vector<float> out(s.q.size(), NAN);
  kernels::PagedAttention(s.q.data(), kv, b, s.head_group.data(), s.n_heads,
                          1.0f / std::sqrt(static_cast<float>(s.hd)), out.data(), pool, allow_wide);
  return out;
}

struct Shape {
  int hd, n_heads, n_groups;
};
void PrintTo(const Shape& s, std::ostream* os) {
  *os << "hd " << s.hd << ", " << s.n_heads << " heads, " << s.n_groups << " groups";
}

class PagedAttentionShapes : public ::testing::TestWithParam<Shape> {};

// softmax(q·kᵀ / sqrt(hd))·v in double precision for every token and head of
// step s over the caches k and v (laid out as s's fp32 cache), and `out`
// within 1e-5 of it.
void ExpectDirectSoftmax(const Step& s, const std::vector<float>& k, const std::vector<float>& v,
                         const std::vector<float>& out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.hd));
  auto row = [&](const std::vector<float>& cache, int seq, int pos, int g) {
    const int blk = s.tables[seq * s.max_blocks + pos / s.block];
    return cache.data() +
           ((static_cast<int64_t>(blk) * s.n_groups + g) * s.block + pos % s.block) * s.hd;
  };
  for (int64_t t = 0; t < s.n_tokens(); ++t) {
    for (int h = 0; h < s.n_heads; ++h) {
      const int g = s.head_group[h], seq = s.token_seq[t], ctx = s.positions[t] + 1;
      const float* qv = s.q.data() + (t * s.n_heads + h) * s.hd;
      std::vector<double> w(ctx);
      double mx = -1e300, sum = 0;
      for (int p = 0; p < ctx; ++p) {
        double d = 0;
        for (int i = 0; i < s.hd; ++i) d += static_cast<double>(qv[i]) * row(k, seq, p, g)[i];
        w[p] = d * scale;
        mx = std::max(mx, w[p]);
      }
      for (double& x : w) sum += (x = std::exp(x - mx));
      for (int i = 0; i < s.hd; ++i) {
        double ref = 0;
        for (int p = 0; p < ctx; ++p) ref += w[p] / sum * row(v, seq, p, g)[i];
        ASSERT_NEAR(out[(t * s.n_heads + h) * s.hd + i], ref, 1e-5) << "token " << t << " head " << h;
      }
    }
  }
}

TEST_P(PagedAttentionShapes, MatchesDirectSoftmaxOnAMixedStep) {
  std::mt19937 rng(3);
  const Step s = MakeStep(rng, GetParam().hd, GetParam().n_heads, GetParam().n_groups);
  ThreadPool pool(2);
  ExpectDirectSoftmax(s, s.k_cache, s.v_cache, Attend(s, &pool));
}

// 16, 40 and 64 take the vector path, 12 the scalar one; 20 heads on one
// group are two runs of heads. Heads meet the rows in passes of three: 4 a
// group make passes of 3 + 1, 5 of 3 + 2; head_dim 40 leaves pieces of 16
// and 8 dimensions after the passes' 24 and 32.
INSTANTIATE_TEST_SUITE_P(Heads, PagedAttentionShapes,
                         ::testing::Values(Shape{16, 9, 3}, Shape{64, 8, 2}, Shape{12, 6, 3},
                                           Shape{16, 20, 1}, Shape{40, 10, 2}),
                         [](const ::testing::TestParamInfo<Shape>& i) {
                           return "hd" + std::to_string(i.param.hd) + "_heads" +
                                  std::to_string(i.param.n_heads) + "_groups" +
                                  std::to_string(i.param.n_groups);
                         });

TEST_P(PagedAttentionShapes, ThreadSplitChangesNoBit) {
  std::mt19937 rng(5);
  const Step s = MakeStep(rng, GetParam().hd, GetParam().n_heads, GetParam().n_groups);
  const std::vector<float> alone = Attend(s, nullptr);
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(Attend(s, &pool), alone) << threads << " threads";
  }
}

// --- KV caches in f16, bf16 and q8_0 -------------------------------------------------
// Attention reads each dtype as stored. Two properties for each:
// (1) it gives exactly the bits of the fp32 cache holding the widened values
//     (so the only error is the format's rounding of K and V), and
// (2) against the fp32 inputs it stays within the bound that rounding allows:
//     with each key element off by at most ek and each value element by ev,
//     a score moves by at most δ = scale · Σ_i |q_i| ek_i, the softmax
//     weights by a factor within e^{±2δ}, so each output element by at most
//     (e^{2δ} - 1) · max_p |v'_p| + max_p ev_p (plus 1e-5 of fp32 arithmetic).
// Per element: f16 ek = max(2^-11 |x|, 2^-25); bf16 2^-8 |x|; q8_0
// 0.5625 · amax / 127 of its block of 32 (tests/kernels/kv_rows_test.cc).

struct KvCase {
  DType dtype;
  Shape shape;
  bool long_context;  // blocks of 16: contexts past one value tile (32 rows)
};

void PrintTo(const KvCase& c, std::ostream* os) {
  *os << DTypeLowerName(c.dtype) << " ";
  PrintTo(c.shape, os);
}

// The step's fp32 K/V written into a cache of `dtype` by KvAppend (every
// slot), and the widened values of what was written, in the fp32 layout.
struct TypedCache {
  std::vector<uint8_t> k, v;
  std::vector<float> k_wide, v_wide;
};

TypedCache Store(const Step& s, DType dtype) {
  const int64_t n_slots = static_cast<int64_t>(s.tables.size()) * s.block;
  const int64_t hd = s.hd, G = s.n_groups, row = RowBytes(dtype, hd);
  // KvAppend's input: [slot][group][head_dim].
  std::vector<float> k_in(n_slots * G * hd), v_in(n_slots * G * hd);
  std::vector<int32_t> slots(n_slots);
  for (int64_t sl = 0; sl < n_slots; ++sl) {
    slots[sl] = static_cast<int32_t>(sl);
    for (int64_t g = 0; g < G; ++g) {
      const int64_t src = ((sl / s.block * G + g) * s.block + sl % s.block) * hd;
      std::copy_n(s.k_cache.data() + src, hd, k_in.data() + (sl * G + g) * hd);
      std::copy_n(s.v_cache.data() + src, hd, v_in.data() + (sl * G + g) * hd);
    }
  }
  TypedCache c;
  c.k.resize(n_slots * G * row);
  c.v.resize(n_slots * G * row);
  kernels::KvLayer kv;
  kv.k = c.k.data();
  kv.v = c.v.data();
  kv.dtype = dtype;
  kv.n_groups = s.n_groups;
  kv.block_size = s.block;
  kv.head_dim = s.hd;
  kernels::KvAppend(k_in.data(), v_in.data(), n_slots, slots.data(), kv);
  c.k_wide.resize(s.k_cache.size());
  c.v_wide.resize(s.v_cache.size());
  for (int64_t r = 0; r < n_slots * G; ++r) {
    DequantizeRow(dtype, c.k.data() + r * row, c.k_wide.data() + r * hd, hd);
    DequantizeRow(dtype, c.v.data() + r * row, c.v_wide.data() + r * hd, hd);
  }
  return c;
}

// Bound on |stored - x| for each element of `cache` (rows of head_dim).
std::vector<float> ElementBound(const std::vector<float>& cache, int hd, DType dtype) {
  std::vector<float> e(cache.size());
  for (size_t i = 0; i < cache.size(); ++i) {
    const float a = std::fabs(cache[i]);
    switch (dtype) {
      case DType::kF32:
        e[i] = 0;
        break;
      case DType::kF16:
        e[i] = std::max(a * 0x1p-11f, 0x1p-25f);
        break;
      case DType::kBF16:
        e[i] = a * 0x1p-8f;
        break;
      default: {
        const size_t b0 = i / 32 * 32;
        float amax = 0;
        for (size_t j = b0; j < b0 + 32; ++j) amax = std::max(amax, std::fabs(cache[j]));
        e[i] = 0.5625f * amax / 127;
      }
    }
  }
  return e;
}

class PagedAttentionDTypes : public ::testing::TestWithParam<KvCase> {
 protected:
  Step MakeCaseStep(int seed) const {
    std::mt19937 rng(seed);
    const Shape& sh = GetParam().shape;
    return GetParam().long_context ? MakeStep(rng, sh.hd, sh.n_heads, sh.n_groups, 16, 8)
                                   : MakeStep(rng, sh.hd, sh.n_heads, sh.n_groups);
  }
};

TEST_P(PagedAttentionDTypes, GivesTheBitsOfTheWidenedValuesInFp32) {
  const Step s = MakeCaseStep(7);
  const TypedCache c = Store(s, GetParam().dtype);
  ThreadPool pool(2);
  Step wide = s;
  wide.k_cache = c.k_wide;
  wide.v_cache = c.v_wide;
  const std::vector<float> want = Attend(wide, &pool);
  const std::vector<float> got = Attend(s, &pool, GetParam().dtype, c.k.data(), c.v.data());
  EXPECT_EQ(got, want);
  if (GetParam().dtype != DType::kF32) {
    EXPECT_NE(c.k_wide, s.k_cache) << "the cache holds the fp32 inputs exactly: was it converted?";
  }
}

TEST_P(PagedAttentionDTypes, StaysWithinTheFormatsBoundOfTheFp32Inputs) {
  const Step s = MakeCaseStep(9);
  const DType dtype = GetParam().dtype;
  const TypedCache c = Store(s, dtype);
  ThreadPool pool(2);
  const std::vector<float> out = Attend(s, &pool, dtype, c.k.data(), c.v.data());
  const std::vector<float> ek = ElementBound(s.k_cache, s.hd, dtype);
  const std::vector<float> ev = ElementBound(s.v_cache, s.hd, dtype);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.hd));
  auto at = [&](int seq, int pos, int g) {
    const int blk = s.tables[seq * s.max_blocks + pos / s.block];
    return ((static_cast<int64_t>(blk) * s.n_groups + g) * s.block + pos % s.block) * s.hd;
  };
  double worst = 0;  // largest error as a fraction of its bound
  for (int64_t t = 0; t < s.n_tokens(); ++t) {
    for (int h = 0; h < s.n_heads; ++h) {
      const int g = s.head_group[h], seq = s.token_seq[t], ctx = s.positions[t] + 1;
      const float* qv = s.q.data() + (t * s.n_heads + h) * s.hd;
      std::vector<double> w(ctx);
      double mx = -1e300, sum = 0, delta = 0;
      for (int p = 0; p < ctx; ++p) {
        double d = 0, dk = 0;
        for (int i = 0; i < s.hd; ++i) {
          d += static_cast<double>(qv[i]) * s.k_cache[at(seq, p, g) + i];
          dk += std::fabs(static_cast<double>(qv[i])) * ek[at(seq, p, g) + i];
        }
        w[p] = d * scale;
        delta = std::max(delta, dk * scale);
        mx = std::max(mx, w[p]);
      }
      for (double& x : w) sum += (x = std::exp(x - mx));
      for (int i = 0; i < s.hd; ++i) {
        double ref = 0, vmax = 0, evmax = 0;
        for (int p = 0; p < ctx; ++p) {
          const int64_t e = at(seq, p, g) + i;
          ref += w[p] / sum * s.v_cache[e];
          vmax = std::max(vmax, std::fabs(static_cast<double>(s.v_cache[e])) + ev[e]);
          evmax = std::max(evmax, static_cast<double>(ev[e]));
        }
        const double bound = std::expm1(2 * delta) * vmax + evmax + 1e-5;
        const double err = std::fabs(out[(t * s.n_heads + h) * s.hd + i] - ref);
        ASSERT_LE(err, bound) << "token " << t << " head " << h << " element " << i;
        worst = std::max(worst, err / bound);
      }
    }
  }
  std::printf("[kv %s] largest error %.3f of its bound\n", DTypeLowerName(dtype), worst);
}

// The step's attention over cache c on the calling thread alone, after
// checking that pools of 2, 3 and 4 threads give the same bits.
std::vector<float> SameOnAnyThreads(const Step& s, DType dtype, const TypedCache& c) {
  const std::vector<float> alone = Attend(s, nullptr, dtype, c.k.data(), c.v.data());
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(Attend(s, &pool, dtype, c.k.data(), c.v.data()), alone) << threads << " threads";
  }
  return alone;
}

TEST_P(PagedAttentionDTypes, ThreadSplitChangesNoBit) {
  const Step s = MakeCaseStep(5);
  SameOnAnyThreads(s, GetParam().dtype, Store(s, GetParam().dtype));
}

// One sequence decoding one token after `ctx - 1` cached positions, in
// blocks of 16 scattered by the block table: many rounds of value rows
// (kValueRows), and a group's heads split between threads.
Step MakeLongDecode(std::mt19937& rng, int hd, int n_heads, int n_groups, int ctx) {
  Step s;
  s.hd = hd;
  s.n_heads = n_heads;
  s.n_groups = n_groups;
  s.block = 16;
  s.max_blocks = (ctx + s.block - 1) / s.block;
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int h = 0; h < n_heads; ++h) s.head_group.push_back(h / (n_heads / n_groups));
  for (int i = 0; i < s.max_blocks; ++i) s.tables.push_back((i * 7) % s.max_blocks);
  const size_t cache = static_cast<size_t>(s.max_blocks) * n_groups * s.block * hd;
  s.k_cache.resize(cache);
  s.v_cache.resize(cache);
  for (float& x : s.k_cache) x = g(rng);
  for (float& x : s.v_cache) x = g(rng);
  s.positions.push_back(ctx - 1);
  s.token_seq.push_back(0);
  s.q.resize(static_cast<size_t>(n_heads) * hd);
  for (float& x : s.q) x = 2.0f * g(rng);  // sharper weights than N(0, 1)
  return s;
}

TEST_P(PagedAttentionDTypes, LongDecodeThreadSplitChangesNoBit) {
  const Shape& sh = GetParam().shape;
  std::mt19937 rng(11);
  const Step s = MakeLongDecode(rng, sh.hd, sh.n_heads, sh.n_groups, 1000);
  const TypedCache c = Store(s, GetParam().dtype);
  const std::vector<float> alone = SameOnAnyThreads(s, GetParam().dtype, c);
  // And alone is the attention over the widened values.
  ExpectDirectSoftmax(s, c.k_wide, c.v_wide, alone);
}

// A step of long contexts, taken in pieces (kPieceRows, 512 positions) and
// merged: sequence 0 decodes at position 1299, sequence 1 at 699 and
// sequence 2 at 40, and sequence 3 prefills positions 500..523, across the
// first piece boundary. Blocks of 16, scattered by the block table.
Step MakeLongBatch(std::mt19937& rng, int hd, int n_heads, int n_groups) {
  Step s;
  s.hd = hd;
  s.n_heads = n_heads;
  s.n_groups = n_groups;
  s.block = 16;
  s.max_blocks = 1300 / 16 + 1;
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int h = 0; h < n_heads; ++h) s.head_group.push_back(h / (n_heads / n_groups));
  const int n_seqs = 4, n_blocks = n_seqs * s.max_blocks;
  for (int i = 0; i < n_blocks; ++i) s.tables.push_back((i * 7) % n_blocks);
  const size_t cache = static_cast<size_t>(n_blocks) * n_groups * s.block * hd;
  s.k_cache.resize(cache);
  s.v_cache.resize(cache);
  for (float& x : s.k_cache) x = g(rng);
  for (float& x : s.v_cache) x = g(rng);
  auto add = [&s](int pos, int seq) {
    s.positions.push_back(pos);
    s.token_seq.push_back(seq);
  };
  add(1299, 0);
  add(699, 1);
  add(40, 2);
  for (int p = 500; p < 524; ++p) add(p, 3);
  s.q.resize(static_cast<size_t>(s.n_tokens()) * n_heads * hd);
  for (float& x : s.q) x = 2.0f * g(rng);
  return s;
}

// Token t of step s alone in a step of its own.
Step Alone(const Step& s, int64_t t) {
  Step one = s;
  one.positions = {s.positions[t]};
  one.token_seq = {s.token_seq[t]};
  const int64_t per_token = static_cast<int64_t>(s.n_heads) * s.hd;
  one.q.assign(s.q.begin() + t * per_token, s.q.begin() + (t + 1) * per_token);
  return one;
}

// Every token of a batch of long contexts gets the bits it gets alone, on any
// threads, and the attention of the direct softmax.
TEST_P(PagedAttentionDTypes, LongContextsInABatchGiveTheirBitsAlone) {
  const Shape& sh = GetParam().shape;
  std::mt19937 rng(17);
  const Step s = MakeLongBatch(rng, sh.hd, sh.n_heads, sh.n_groups);
  const TypedCache c = Store(s, GetParam().dtype);
  const std::vector<float> batch = SameOnAnyThreads(s, GetParam().dtype, c);
  ExpectDirectSoftmax(s, c.k_wide, c.v_wide, batch);
  ThreadPool pool(2);
  const int64_t per_token = static_cast<int64_t>(s.n_heads) * s.hd;
  for (int64_t t = 0; t < s.n_tokens(); ++t) {
    const std::vector<float> alone =
        Attend(Alone(s, t), &pool, GetParam().dtype, c.k.data(), c.v.data());
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batch.begin() + t * per_token))
        << "token " << t << " at position " << s.positions[t];
  }
}

// With a budget that holds one or two long tokens' pieces, the step is taken
// a few tokens at a time, and no bit changes.
TEST(PagedAttentionTest, LongContextsTakenAFewTokensAtATimeChangeNoBit) {
  std::mt19937 rng(19);
  const Step s = MakeLongBatch(rng, 64, 9, 3);
  const TypedCache c = Store(s, DType::kF16);
  ThreadPool pool(2);
  const std::vector<float> whole = Attend(s, &pool, DType::kF16, c.k.data(), c.v.data());
  for (int64_t budget : {1, 3000}) {
    const int64_t before = kernels::SetAttentionPieceBudget(budget);
    const std::vector<float> runs = Attend(s, &pool, DType::kF16, c.k.data(), c.v.data());
    kernels::SetAttentionPieceBudget(before);
    EXPECT_EQ(runs, whole) << "budget " << budget;
  }
}

// The 16-lane (AVX-512) kernels give the 8-lane kernels' bits, on a mixed step
// and on a long decode.
TEST_P(PagedAttentionDTypes, WideKernelsGiveTheBitsOfTheNarrowOnes) {
  if (!kernels::cpu::CpuHasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const DType dtype = GetParam().dtype;
  const Shape& sh = GetParam().shape;
  std::mt19937 rng(13);
  for (const Step& s :
       {MakeCaseStep(3), MakeLongDecode(rng, sh.hd, sh.n_heads, sh.n_groups, 777)}) {
    const TypedCache c = Store(s, dtype);
    ThreadPool pool(2);
    const std::vector<float> narrow = Attend(s, &pool, dtype, c.k.data(), c.v.data(), false);
    const std::vector<float> wide = Attend(s, &pool, dtype, c.k.data(), c.v.data(), true);
    EXPECT_EQ(wide, narrow) << s.n_tokens() << " tokens";
    EXPECT_TRUE(std::none_of(wide.begin(), wide.end(), [](float x) { return std::isnan(x); }));
  }
}

// f16 and bf16 on every head size above (12: the scalar path; 40 and 48: the
// 16-lane kernels' shorter last pieces, or none); q8_0 needs head_dim a
// multiple of 32.
INSTANTIATE_TEST_SUITE_P(
    Caches, PagedAttentionDTypes,
    ::testing::Values(
        KvCase{DType::kF32, {64, 8, 2}, true}, KvCase{DType::kF16, {16, 9, 3}, true},
        KvCase{DType::kF16, {64, 8, 2}, true}, KvCase{DType::kF16, {12, 6, 3}, false},
        KvCase{DType::kF16, {16, 20, 1}, false}, KvCase{DType::kBF16, {16, 9, 3}, true},
        KvCase{DType::kBF16, {64, 8, 2}, true}, KvCase{DType::kBF16, {12, 6, 3}, false},
        KvCase{DType::kF16, {40, 10, 2}, true}, KvCase{DType::kQ8_0, {32, 9, 3}, true},
        KvCase{DType::kQ8_0, {64, 8, 2}, true}, KvCase{DType::kQ8_0, {64, 10, 2}, true},
        KvCase{DType::kQ8_0, {128, 20, 1}, false}, KvCase{DType::kF16, {48, 9, 3}, true},
        KvCase{DType::kBF16, {80, 10, 2}, true}, KvCase{DType::kF32, {128, 8, 2}, true},
        KvCase{DType::kQ8_0, {96, 9, 3}, true}),
    [](const ::testing::TestParamInfo<KvCase>& i) {
      return std::string(DTypeLowerName(i.param.dtype)) + "_hd" + std::to_string(i.param.shape.hd) +
             "_heads" + std::to_string(i.param.shape.n_heads) + "_groups" +
             std::to_string(i.param.shape.n_groups) + (i.param.long_context ? "_long" : "");
    });

}  // namespace
}  // namespace gs
