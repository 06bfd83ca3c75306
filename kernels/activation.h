// SwiGLU gating: out = silu(gate) * up, elementwise.
#pragma once

#include <cstdint>

#include "kernels/thread_pool.h"

namespace gs::kernels {

// gate, up, out [n] (out may alias gate). With a pool, n of at least
// kSiluSplitElems is shared among its threads in runs of whole vectors; every
// element is computed as without it, so the bits do not depend on the split.
void SiluMul(const float* gate, const float* up, int64_t n, float* out,
             ThreadPool* pool = nullptr);

// Below this many elements one thread finishes before a hand-off to the
// pool's others would pay. SmolLM2's MLP is 1536 wide: one token's 1536
// elements take about 1 µs, a batch of 16 (24576) about 19 µs on one thread.
constexpr int64_t kSiluSplitElems = 8192;

}  // namespace gs::kernels
