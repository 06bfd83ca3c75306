// Software prefetch for weights that stream from memory once per product.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace gs::kernels::cpu {

// How far ahead of the loads a stream asks for its lines: far into L2, near
// into L1. A line asked for into L1 holds one of L1's few miss buffers until
// it arrives, so near prefetches alone keep a few dozen lines in flight per
// core, which on rows of 7168-14336 values (Llama-3-8B's down) read memory
// at 14-20 GB/s a core against 22-29 on shorter rows. Asked for into L2
// first (L2 tracks more misses than L1), far more lines are in flight, and
// the near request later finds them in L2 (BM_ShapeFromMemory in
// quant_kernels_bench: 27-32 GB/s a core on the long rows).
constexpr int64_t kFarAhead = 8192;   // bytes
constexpr int64_t kNearAhead = 2048;  // bytes

// The prefetches for every cache line of [p, p + bytes): kNearAhead on into
// L1 and, with kFar, kFarAhead on into L2. fp32 weights stream without the
// far one: they need twice the prefetches per multiply-add of bf16, and
// with it their products ran slower (BM_MatMulFromMemory 29 -> 23 GB/s).
template <bool kFar = true>
inline void PrefetchStream(const uint8_t* p, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += 64) {
    if constexpr (kFar) {
      _mm_prefetch(reinterpret_cast<const char*>(p + kFarAhead + off), _MM_HINT_T1);
    }
    _mm_prefetch(reinterpret_cast<const char*>(p + kNearAhead + off), _MM_HINT_T0);
  }
}

}  // namespace gs::kernels::cpu
