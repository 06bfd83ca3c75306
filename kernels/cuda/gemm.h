// BF16 matrix products with fp32 accumulation through cuBLAS: the CUDA twin
// of kernels::MatMul. Weights live on the device as BF16 [rows, cols].
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_kernels.h"

namespace gs::kernels::cuda {

// A weight matrix on the device: [rows = outputs, cols = inputs], row-major BF16.
struct DeviceMatrix {
  const bf16* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t bytes() const { return rows * cols * static_cast<int64_t>(sizeof(bf16)); }
};

// Owns a cuBLAS handle bound to one stream. Not thread-safe; one per rank.
class Gemm {
 public:
  explicit Gemm(cudaStream_t stream);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // y [n_tokens, w.rows] = x [n_tokens, w.cols] · wᵀ + beta · y. With beta = 1
  // the product is added to y (a fused residual add).
  void MatMul(const bf16* x, int64_t n_tokens, const DeviceMatrix& w, float* y, float beta = 0.0f);
  void MatMul(const bf16* x, int64_t n_tokens, const DeviceMatrix& w, bf16* y);

  cudaStream_t stream() const { return stream_; }
  // fp32-output products of at most kMaxGemvTokens rows go through the Gemv
  // kernel unless disabled (then cuBLAS does every product).
  void set_use_gemv(bool on) { use_gemv_ = on; }

 private:
  void Run(const bf16* x, int64_t n_tokens, const DeviceMatrix& w, void* y, cudaDataType y_type,
           float beta);
  cudaStream_t stream_;
  cublasHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  bool use_gemv_ = true;  // explicit, so CUDA-graph capture never allocates
};

}  // namespace gs::kernels::cuda
