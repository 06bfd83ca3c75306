#include "core/sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace gs {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 0.5f, 2.5f, -1.0f, 2.0f, 0.0f, -2.0f};

std::vector<double> Softmax(const std::vector<float>& l, float t = 1.0f) {
  double mx = *std::max_element(l.begin(), l.end());
  std::vector<double> p(l.size());
  double s = 0;
  for (size_t i = 0; i < l.size(); ++i) s += p[i] = std::exp((l[i] - mx) / t);
  for (double& x : p) x /= s;
  return p;
}

std::map<int32_t, int> Histogram(SamplingParams p, int n,
                                 const std::vector<float>& logits = kLogits) {
  Sampler s(p);
  std::map<int32_t, int> h;
  // The randomness comes from (seed, position): each draw at a new position.
  std::vector<int32_t> history;
  for (int i = 0; i < n; ++i) {
    ++h[s.Sample(logits.data(), logits.size(), history, nullptr)];
    history.push_back(0);
  }
  return h;
}

TEST(SamplerTest, GreedyPicksArgmax) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.Sample(kLogits.data(), kLogits.size(), {}, nullptr), 1);
}

TEST(SamplerTest, TopK1EqualsGreedy) {
  SamplingParams p;
  p.top_k = 1;
  p.seed = 7;
  auto h = Histogram(p, 200);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h.begin()->first, 1);
}

TEST(SamplerTest, TopKRestrictsSupport) {
  SamplingParams p;
  p.top_k = 3;
  p.temperature = 2.0f;  // flatter, so the cut is what keeps the others out
  auto h = Histogram(p, 2000);
  std::set<int32_t> ids;
  for (auto& [id, n] : h) ids.insert(id);
  EXPECT_EQ(ids, (std::set<int32_t>{1, 3, 5}));
}

TEST(SamplerTest, TopPKeepsSmallestSetReachingP) {
  // Probabilities (T=1) sorted: id1 .337, id3 .205, id5 .124, id0 .046, ...
  std::vector<double> sm = Softmax(kLogits);
  SamplingParams p;
  p.top_p = static_cast<float>(sm[1] + sm[3] + 0.01);  // needs id1, id3 and then id5
  auto h = Histogram(p, 2000);
  std::set<int32_t> ids;
  for (auto& [id, n] : h) ids.insert(id);
  EXPECT_EQ(ids, (std::set<int32_t>{1, 3, 5}));
  p.top_p = static_cast<float>(sm[1] - 0.01);  // the top token alone reaches it
  EXPECT_EQ(Histogram(p, 500).size(), 1u);
}

TEST(SamplerTest, MinPDropsTokensBelowFractionOfMax) {
  std::vector<double> sm = Softmax(kLogits);
  SamplingParams p;
  // Keep tokens with prob >= 0.3 * p_max: ids 1 (1.0), 3 (.61), 5 (.37); not 0 (.14).
  p.min_p = 0.3f;
  auto h = Histogram(p, 2000);
  for (auto& [id, n] : h) EXPECT_GE(sm[id], 0.3 * sm[1]) << id;
  EXPECT_EQ(h.size(), 3u);
}

TEST(SamplerTest, FrequenciesFollowSoftmaxWithTemperature) {
  for (float t : {0.7f, 1.0f, 1.5f}) {
    SamplingParams p;
    p.temperature = t;
    p.seed = 123;
    const int n = 20000;
    auto h = Histogram(p, n);
    std::vector<double> want = Softmax(kLogits, t);
    double chi2 = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      double e = want[i] * n;
      double o = h.count(i) ? h[i] : 0;
      chi2 += (o - e) * (o - e) / e;
    }
    // 7 degrees of freedom: P(chi2 > 30) < 1e-4.
    EXPECT_LT(chi2, 30.0) << "temperature " << t;
  }
}

TEST(SamplerTest, RepetitionPenaltyChangesArgmax) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  // 3.0 / 2 = 1.5 < 2.5: id 3 wins once id 1 was seen; then id 5 (2.0).
  EXPECT_EQ(s.Sample(kLogits.data(), kLogits.size(), {1}, nullptr), 3);
  EXPECT_EQ(s.Sample(kLogits.data(), kLogits.size(), {1, 1, 1}, nullptr), 3);  // once per id
  EXPECT_EQ(s.Sample(kLogits.data(), kLogits.size(), {1, 3}, nullptr), 5);
  // Negative logits are multiplied: -1 * 2 = -2 < -1.2.
  std::vector<float> neg = {-1.0f, -1.2f};
  EXPECT_EQ(s.Sample(neg.data(), 2, {0}, nullptr), 1);
  // Logits are not modified.
  EXPECT_EQ(kLogits[1], 3.0f);
}

TEST(SamplerTest, SeedDeterminesSequence) {
  auto run = [](uint64_t seed) {
    SamplingParams p;
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i)
      out.push_back(s.Sample(kLogits.data(), kLogits.size(), out, nullptr));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

// A sequence resumed from its prompt and the tokens it already has (on
// another group, after a failure) continues exactly: the draw for a token
// depends on (seed, position), not on how many draws this Sampler made.
TEST(SamplerTest, ResumedSequenceContinuesIdentically) {
  SamplingParams p;
  p.seed = 2024;
  p.temperature = 1.3f;
  p.top_p = 0.95f;
  const std::vector<int32_t> prompt = {4, 2, 6};
  std::vector<int32_t> whole = prompt;
  Sampler a(p);
  for (int i = 0; i < 48; ++i) whole.push_back(a.Sample(kLogits.data(), kLogits.size(), whole, nullptr));
  std::vector<int32_t> resumed(whole.begin(), whole.begin() + prompt.size() + 20);
  Sampler b(p);  // fresh: has drawn nothing
  while (resumed.size() < whole.size()) {
    resumed.push_back(b.Sample(kLogits.data(), kLogits.size(), resumed, nullptr));
  }
  EXPECT_EQ(resumed, whole);
  // And the tokens do vary along the sequence (the test would pass
  // trivially for a constant stream).
  EXPECT_GT(std::set<int32_t>(whole.begin() + prompt.size(), whole.end()).size(), 2u);
}

TEST(SamplerTest, PositionUniformIsUniformOverPositionsAndSeeds) {
  const int bins = 16, n = 64000;
  for (uint64_t seed : {0ull, 1ull, 0xFFFFFFFFFFFFFFFFull}) {
    std::vector<int> h(bins, 0);
    for (int i = 0; i < n; ++i) {
      const double u = PositionUniform(seed, static_cast<uint64_t>(i));
      ASSERT_GE(u, 0.0);
      ASSERT_LT(u, 1.0);
      ++h[static_cast<int>(u * bins)];
    }
    double chi2 = 0;
    for (int c : h) chi2 += (c - n / bins) * (c - n / bins) / static_cast<double>(n / bins);
    EXPECT_LT(chi2, 45.0) << "seed " << seed;  // 15 degrees of freedom: P(chi2 > 45) < 1e-4
  }
  // Neighbouring seeds give unrelated streams.
  int same = 0;
  for (int i = 0; i < 1000; ++i) same += PositionUniform(7, i) == PositionUniform(8, i);
  EXPECT_EQ(same, 0);
}

TEST(SamplerTest, LogprobIsLogSoftmaxOfRawLogits) {
  std::vector<double> sm = Softmax(kLogits);
  SamplingParams p;
  p.temperature = 0.5f;
  p.top_k = 4;
  p.repetition_penalty = 1.3f;
  Sampler s(p);
  for (int i = 0; i < 50; ++i) {
    float lp = 0;
    int32_t id = s.Sample(kLogits.data(), kLogits.size(), {1, 2}, &lp);
    EXPECT_NEAR(lp, std::log(sm[id]), 1e-5) << id;
  }
}

TEST(SamplerTest, ValidateNamesTheField) {
  auto bad = [](auto set, const char* field) {
    SamplingParams p;
    set(p);
    Status st = p.Validate();
    EXPECT_FALSE(st.ok()) << field;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
  };
  bad([](SamplingParams& p) { p.temperature = -0.1f; }, "temperature");
  bad([](SamplingParams& p) { p.top_p = 0.0f; }, "top_p");
  bad([](SamplingParams& p) { p.top_p = 1.5f; }, "top_p");
  bad([](SamplingParams& p) { p.top_k = -1; }, "top_k");
  bad([](SamplingParams& p) { p.min_p = -0.1f; }, "min_p");
  bad([](SamplingParams& p) { p.min_p = 1.1f; }, "min_p");
  bad([](SamplingParams& p) { p.repetition_penalty = 0.0f; }, "repetition_penalty");
  bad([](SamplingParams& p) { p.temperature = std::nanf(""); }, "temperature");
  bad([](SamplingParams& p) { p.temperature = INFINITY; }, "temperature");
  bad([](SamplingParams& p) { p.repetition_penalty = 1e-40f; }, "repetition_penalty");
  bad([](SamplingParams& p) { p.repetition_penalty = 1e3f; }, "repetition_penalty");
  bad([](SamplingParams& p) { p.repetition_penalty = std::nanf(""); }, "repetition_penalty");
  bad([](SamplingParams& p) { p.top_p = std::nanf(""); }, "top_p");
  EXPECT_TRUE(SamplingParams().Validate().ok());
}

}  // namespace
}  // namespace gs

namespace gs {
namespace {

// A tiny positive temperature once turned 1/t into infinity, the
// probabilities into NaN, and the sampler into the last token of its order.
TEST(SamplerTest, TinyTemperaturesSampleTheArgmax) {
  for (float t : {1e-40f, 1e-38f, 1e-30f, 1e-6f, 2e-5f}) {
    SamplingParams p;
    p.temperature = t;
    p.seed = 1;
    ASSERT_TRUE(p.Validate().ok()) << t;
    const auto h = Histogram(p, 50);
    ASSERT_EQ(h.size(), 1u) << "temperature " << t;
    EXPECT_EQ(h.begin()->first, 1) << "temperature " << t;
  }
}

// Every finite input gives a valid token: logits near the float limits,
// the smallest non-greedy temperature, the strongest penalties.
TEST(SamplerTest, ExtremeFiniteInputsStayFinite) {
  const std::vector<float> huge = {-3e38f, 3e38f, 1e30f, -1e30f, 3e38f * 0.999f, 0.0f};
  for (float t : {SamplingParams::kGreedyBelowTemperature, 0.5f, 1e6f}) {
    for (float pen : {SamplingParams::kMinRepetitionPenalty, 1.0f,
                      SamplingParams::kMaxRepetitionPenalty}) {
      SamplingParams p;
      p.temperature = t;
      p.repetition_penalty = pen;
      p.top_p = 0.9f;
      p.seed = 5;
      Sampler s(p);
      for (int i = 0; i < 20; ++i) {
        float lp = 0;
        const int32_t id = s.Sample(huge.data(), huge.size(), {0, 1, 2}, &lp);
        ASSERT_GE(id, 0);
        ASSERT_LT(id, static_cast<int32_t>(huge.size()));
        ASSERT_FALSE(std::isnan(lp)) << "t " << t << " penalty " << pen;
      }
    }
  }
  // The gaps dwarf any temperature short of 1e30: the best logit always wins.
  SamplingParams p;
  p.temperature = 1.0f;
  const auto h = Histogram(p, 20, huge);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h.begin()->first, 1);
}


// On a vocabulary the size of real models', where the sampler orders only
// as many candidates as top-k / top-p / min-p need, every draw equals that
// of the rules applied to the fully sorted vocabulary in double precision.
// Without truncation the draw walks the ids in their own order.
int32_t ReferenceDraw(const std::vector<float>& logits, const SamplingParams& p, uint64_t position) {
  const int v = static_cast<int>(logits.size());
  const float top = *std::max_element(logits.begin(), logits.end());
  std::vector<float> w(v);
  for (int i = 0; i < v; ++i) w[i] = (logits[i] - top) * (1.0f / p.temperature);
  std::vector<int32_t> order(v);
  for (int i = 0; i < v; ++i) order[i] = i;
  if (p.top_k > 0 || p.top_p < 1.0f || p.min_p > 0.0f) {
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return w[a] > w[b] || (w[a] == w[b] && a < b); });
  }
  double total = 0;
  for (float x : w) total += std::exp(static_cast<double>(x));
  std::vector<double> prob(v);
  for (int i = 0; i < v; ++i) prob[i] = std::exp(static_cast<double>(w[order[i]])) / total;
  int n = p.top_k > 0 ? std::min(p.top_k, v) : v;
  double kept = 0;
  for (int i = 0; i < n; ++i) kept += prob[i];
  if (p.top_p < 1.0f) {
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      if ((cum += prob[i] / kept) >= p.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    int keep = 1;
    while (keep < n && prob[keep] >= p.min_p * prob[0]) ++keep;
    n = keep;
  }
  double mass = 0;
  for (int i = 0; i < n; ++i) mass += prob[i];
  const double target = PositionUniform(p.seed, position) * mass;
  double cum = 0;
  for (int i = 0; i < n; ++i) {
    if (target < (cum += prob[i])) return order[i];
  }
  return order[n - 1];
}

TEST(SamplerTest, LargeVocabularyDrawsEqualTheFullSortReference) {
  const int v = 49152;
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> flat(v), peaked(v);
  for (int i = 0; i < v; ++i) flat[i] = d(rng);
  for (int i = 0; i < v; ++i) peaked[i] = d(rng) - 6.0f;
  for (int i = 0; i < 30; ++i) peaked[(i * 7919) % v] = 8.0f - 0.3f * i;  // a few likely ids
  struct Case {
    float t;
    int top_k;
    float top_p, min_p;
  };
  const Case cases[] = {{0.7f, 0, 0.9f, 0.0f},  {1.0f, 0, 0.5f, 0.05f}, {0.8f, 0, 1.0f, 0.1f},
                        {1.2f, 40, 0.95f, 0.0f}, {0.9f, 0, 1.0f, 0.0f},  {1.0f, 1000, 1.0f, 0.02f},
                        {1.5f, 0, 0.999f, 0.0f}, {0.6f, 0, 1.0f, 1e-4f}};
  for (const std::vector<float>* logits : {&flat, &peaked}) {
    for (const Case& c : cases) {
      SamplingParams p;
      p.temperature = c.t;
      p.top_k = c.top_k;
      p.top_p = c.top_p;
      p.min_p = c.min_p;
      p.seed = 3;
      Sampler s(p);
      std::vector<int32_t> history;
      std::set<int32_t> distinct;
      for (int i = 0; i < 40; ++i) {
        const int32_t got = s.Sample(logits->data(), v, history, nullptr);
        ASSERT_EQ(got, ReferenceDraw(*logits, p, history.size()))
            << "t " << c.t << " top_k " << c.top_k << " top_p " << c.top_p << " min_p "
            << c.min_p << " draw " << i << (logits == &flat ? " flat" : " peaked");
        distinct.insert(got);
        history.push_back(got);
      }
      EXPECT_GT(distinct.size(), 1u) << "t " << c.t;  // the draws do move
    }
  }
}

}  // namespace
}  // namespace gs
