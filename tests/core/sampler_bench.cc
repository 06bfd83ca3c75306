// Time to pick one token from a row of logits the size of a real vocabulary
// (49152, SmolLM2's; 128256, Llama 3's): greedy, greedy with its
// log-probability, temperature alone, and temperature with top-p or top-k.
// Rank 0 does this once per sequence per step, so at batch 16 the figure
// times 16 is what a serving step spends on it.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/sampler.h"

namespace gs {
namespace {

void BM_Sample(benchmark::State& state) {
  const int vocab = static_cast<int>(state.range(0));
  const int mode = static_cast<int>(state.range(1));
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> logits(vocab);
  for (float& x : logits) x = d(rng) - 6.0f;
  for (int i = 0; i < 30; ++i) logits[(i * 7919) % vocab] = 8.0f - 0.3f * i;
  SamplingParams p;
  bool logprob = false;
  switch (mode) {
    case 0: p.temperature = 0; break;
    case 1: p.temperature = 0; logprob = true; break;
    case 2: p.temperature = 0.7f; break;
    case 3: p.temperature = 0.7f; p.top_p = 0.9f; break;
    case 4: p.temperature = 0.7f; p.top_k = 40; break;
  }
  const char* names[] = {"greedy", "greedy+logprob", "t=0.7", "t=0.7 top_p=0.9", "t=0.7 top_k=40"};
  state.SetLabel(names[mode]);
  Sampler s(p);
  std::vector<int32_t> history(64, 1);
  float lp = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.Sample(logits.data(), vocab, history, logprob ? &lp : nullptr));
    history.push_back(2);
    if (history.size() > 4096) history.resize(64);
  }
}
BENCHMARK(BM_Sample)
    ->ArgsProduct({{49152, 128256}, {0, 1, 2, 3, 4}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gs

BENCHMARK_MAIN();
