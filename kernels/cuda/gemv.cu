// Matrix times a few vectors, for decode: memory-bound, so each warp streams
// one BF16 weight row with 16-byte loads and applies it to every token.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_util.cuh"

namespace gs::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kUnroll = 4;  // 16-byte loads in flight per lane

__device__ __forceinline__ void Unpack(const uint4& u, float (&f)[8]) {
  const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 v = __bfloat1622float2(p[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}

// grid ceil(rows / kWarpsPerBlock); warp w of block b owns row b * 8 + w.
// x [NT, cols], w [rows, cols] (cols % 8 == 0, 16-byte aligned rows) → y [NT, rows].
template <int NT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    GemvKernel(const bf16* __restrict__ x, const bf16* __restrict__ w, int64_t rows, int64_t cols,
               float* __restrict__ y, float beta) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;
  const uint4* wr = reinterpret_cast<const uint4*>(w + row * cols);
  const int64_t n_vec = cols / 8;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  int64_t i = lane;
  for (; i + 32 * (kUnroll - 1) < n_vec; i += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) wv[u] = __ldcs(wr + i + 32 * u);  // streamed once
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float wf[8];
      Unpack(wv[u], wf);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        float xf[8];
        Unpack(__ldg(reinterpret_cast<const uint4*>(x + t * cols) + i + 32 * u), xf);
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[t] += wf[e] * xf[e];
      }
    }
  }
  for (; i < n_vec; i += 32) {
    float wf[8];
    Unpack(__ldcs(wr + i), wf);
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      float xf[8];
      Unpack(__ldg(reinterpret_cast<const uint4*>(x + t * cols) + i), xf);
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[t] += wf[e] * xf[e];
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float s = detail::WarpSum(acc[t]);
    if (lane == 0) {
      float* out = y + t * rows + row;
      *out = beta == 0.0f ? s : s + beta * *out;
    }
  }
}

template <int NT>
void Launch(const bf16* x, const bf16* w, int64_t rows, int64_t cols, float* y, float beta,
            cudaStream_t s) {
  const unsigned blocks = static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  GemvKernel<NT><<<blocks, kWarpsPerBlock * 32, 0, s>>>(x, w, rows, cols, y, beta);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

bool GemvSupported(const bf16* x, int64_t n_tokens, const bf16* w, int64_t cols) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return n_tokens >= 1 && n_tokens <= kMaxGemvTokens && cols % 8 == 0 && aligned(x) && aligned(w);
}

void Gemv(const bf16* x, int64_t n_tokens, const bf16* w, int64_t rows, int64_t cols, float* y,
          float beta, cudaStream_t s) {
  switch (n_tokens) {
    case 1:
      return Launch<1>(x, w, rows, cols, y, beta, s);
    case 2:
      return Launch<2>(x, w, rows, cols, y, beta, s);
    case 3:
      return Launch<3>(x, w, rows, cols, y, beta, s);
    case 4:
      return Launch<4>(x, w, rows, cols, y, beta, s);
    case 5:
      return Launch<5>(x, w, rows, cols, y, beta, s);
    case 6:
      return Launch<6>(x, w, rows, cols, y, beta, s);
    case 7:
      return Launch<7>(x, w, rows, cols, y, beta, s);
    case 8:
      return Launch<8>(x, w, rows, cols, y, beta, s);
    default:
      break;
  }
}

}  // namespace gs::kernels::cuda
