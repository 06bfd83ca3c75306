#include "kernels/cuda/gemm.h"

#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"

namespace gs::kernels::cuda {

Gemm::Gemm(cudaStream_t stream) : stream_(stream) {
  CUBLAS_CHECK(cublasCreate(&handle_));
  CUBLAS_CHECK(cublasSetStream(handle_, stream_));
  constexpr size_t kWorkspaceBytes = 32 << 20;
  CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
  CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace_, kWorkspaceBytes));
}

Gemm::~Gemm() {
  if (handle_ != nullptr) cublasDestroy(handle_);
  if (workspace_ != nullptr) cudaFree(workspace_);
}

void Gemm::MatMul(const bf16* x, int64_t n_tokens, const DeviceMatrix& w, float* y, float beta) {
  if (use_gemv_ && GemvSupported(x, n_tokens, w.data, w.cols)) {
    Gemv(x, n_tokens, w.data, w.rows, w.cols, y, beta, stream_);
    return;
  }
  Run(x, n_tokens, w, y, CUDA_R_32F, beta);
}

void Gemm::MatMul(const bf16* x, int64_t n_tokens, const DeviceMatrix& w, bf16* y) {
  Run(x, n_tokens, w, y, CUDA_R_16BF, 0.0f);
}

void Gemm::Run(const bf16* x, int64_t n_tokens, const DeviceMatrix& w, void* y, cudaDataType y_type,
               float beta) {
  if (n_tokens == 0) return;
  CHECK(w.rows < (int64_t{1} << 31) && w.cols < (int64_t{1} << 31) && n_tokens < (int64_t{1} << 31))
      << "matrix too large for a 32-bit cuBLAS call";
  // cuBLAS is column-major: yᵀ [rows, n] = W [rows, cols] · xᵀ [cols, n], where
  // the row-major W reads as a column-major [cols, rows] matrix, hence OP_T.
  const float alpha = 1.0f;
  const int m = static_cast<int>(w.rows), n = static_cast<int>(n_tokens),
            k = static_cast<int>(w.cols);
  CUBLAS_CHECK(cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, w.data, CUDA_R_16BF,
                            k, x, CUDA_R_16BF, k, &beta, y, y_type, m, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT));
}

}  // namespace gs::kernels::cuda
