// CPU paged attention against a direct softmax(q·kᵀ)·v in double precision,
// on a step that mixes a prompt chunk with decode tokens of other sequences,
// for GQA, MQA with more heads than one run takes, and head sizes the vector
// path takes (multiples of 8) and the scalar one (others); and the thread
// pool's split of (token, head) pairs changes no bit.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"
#include "kernels/attention.h"

namespace gs {
namespace {

struct Step {
  int n_heads = 9, n_groups = 3, hd = 16, block = 4, max_blocks = 8;
  std::vector<int32_t> head_group, positions, token_seq, tables, slots;
  std::vector<float> k_cache, v_cache, q;
  int64_t n_tokens() const { return static_cast<int64_t>(positions.size()); }
};

// Three sequences: seq 0 prefills 11 tokens in this step; seqs 1 and 2 decode
// one token each at positions 20 and 5 (their earlier K/V already cached).
Step MakeStep(std::mt19937& rng, int hd = 16, int n_heads = 9, int n_groups = 3) {
  Step s;
  s.hd = hd;
  s.n_heads = n_heads;
  s.n_groups = n_groups;
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
  s.positions.push_back(20);
  s.token_seq.push_back(1);
  s.positions.push_back(5);
  s.token_seq.push_back(2);
  s.q.resize(static_cast<size_t>(s.n_tokens()) * s.n_heads * s.hd);
  for (float& x : s.q) x = g(rng);
  return s;
}

std::vector<float> Attend(const Step& s, ThreadPool* pool) {
  kernels::KvLayer kv;
  kv.k = const_cast<float*>(s.k_cache.data());
  kv.v = const_cast<float*>(s.v_cache.data());
  kv.dtype = DType::kF32;
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
                          1.0f / std::sqrt(static_cast<float>(s.hd)), out.data(), pool);
  return out;
}

struct Shape {
  int hd, n_heads, n_groups;
};
void PrintTo(const Shape& s, std::ostream* os) {
  *os << "hd " << s.hd << ", " << s.n_heads << " heads, " << s.n_groups << " groups";
}

class PagedAttentionShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(PagedAttentionShapes, MatchesDirectSoftmaxOnAMixedStep) {
  std::mt19937 rng(3);
  const Step s = MakeStep(rng, GetParam().hd, GetParam().n_heads, GetParam().n_groups);
  ThreadPool pool(2);
  const std::vector<float> out = Attend(s, &pool);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.hd));
  auto row = [&](const std::vector<float>& cache, int seq, int pos, int g) {
    const int blk = s.tables[seq * s.max_blocks + pos / s.block];
    return cache.data() + ((static_cast<int64_t>(blk) * s.n_groups + g) * s.block + pos % s.block) * s.hd;
  };
  for (int64_t t = 0; t < s.n_tokens(); ++t) {
    for (int h = 0; h < s.n_heads; ++h) {
      const int g = s.head_group[h], seq = s.token_seq[t], ctx = s.positions[t] + 1;
      const float* qv = s.q.data() + (t * s.n_heads + h) * s.hd;
      std::vector<double> w(ctx);
      double mx = -1e300, sum = 0;
      for (int p = 0; p < ctx; ++p) {
        double d = 0;
        for (int i = 0; i < s.hd; ++i) d += static_cast<double>(qv[i]) * row(s.k_cache, seq, p, g)[i];
        w[p] = d * scale;
        mx = std::max(mx, w[p]);
      }
      for (double& x : w) sum += (x = std::exp(x - mx));
      for (int i = 0; i < s.hd; ++i) {
        double ref = 0;
        for (int p = 0; p < ctx; ++p) ref += w[p] / sum * row(s.v_cache, seq, p, g)[i];
        ASSERT_NEAR(out[(t * s.n_heads + h) * s.hd + i], ref, 1e-5) << "token " << t << " head " << h;
      }
    }
  }
}

// 16 and 64 take the vector path, 12 the scalar one; 20 heads on one group
// are two runs of heads.
INSTANTIATE_TEST_SUITE_P(Heads, PagedAttentionShapes,
                         ::testing::Values(Shape{16, 9, 3}, Shape{64, 8, 2}, Shape{12, 6, 3},
                                           Shape{16, 20, 1}),
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

}  // namespace
}  // namespace gs
