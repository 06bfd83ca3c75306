// DeviceOps on one GPU: BF16 weights (converted on the device at upload),
// fp32 residual stream, BF16 activations into the matrix products (cuBLAS,
// or the Gemv kernel for a few tokens), a BF16 paged KV cache, and
// flash-decoding or tiled prefill attention. Every operation is enqueued on
// one stream and nothing in a step allocates once its sizes have been seen,
// so a decode step can be captured in a CUDA graph.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm.h"
#include "kernels/device_ops.h"

namespace gs::kernels::cuda {

class CudaOps : public DeviceOps {
 public:
  // Runs on the current device, on `stream` (not owned).
  explicit CudaOps(cudaStream_t stream);

  std::string name() const override;
  DType matmul_input_dtype() const override { return DType::kBF16; }
  DType kv_dtype() const override { return kv_dtype_; }
  // BF16 (the default) or f32: the attention kernels read both.
  Status SetKvDType(DType t) override;
  // CudaAttentionShape (cuda_kernels.h).
  Status SupportsAttention(int head_dim, int heads_per_group) const override;

  std::unique_ptr<DeviceMemory> Allocate(size_t bytes) override;
  void CopyToDevice(void* dst, const void* src, size_t bytes) override;
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  std::unique_ptr<Weight> UploadWeight(DType dtype, int64_t rows, int64_t cols,
                                       std::span<const uint8_t> data) override;
  std::unique_ptr<Weight> RandomWeight(int64_t rows, int64_t cols, float scale,
                                       uint64_t seed) override;

  void SetStep(const StepArrays& step) override;
  void ReserveContext(int max_context) override;

  void Embedding(const Weight& table, int64_t row_begin, float* out) override;
  void RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
               void* y) override;
  void MatMul(const void* x, int64_t n, std::span<const Product> parts,
              float beta = 0.0f) override;
  void AddBias(float* y, const float* bias, int64_t n, int64_t dim) override;
  void Add(float* x, const float* y, int64_t n) override;
  void Rope(float* x, int n_heads, int head_dim, const float* inv_freq) override;
  void KvAppend(const float* k, const float* v, const KvLayer& kv) override;
  void Attention(const float* q, const KvLayer& kv, int n_heads, float scale,
                 void* out) override;
  void SiluMul(const float* gate, const float* up, int64_t n, void* out) override;

  cudaStream_t stream() const { return stream_; }

 private:
  AttentionBatchDevice Batch() const;

  int device_ = 0;
  DType kv_dtype_ = DType::kBF16;
  cudaStream_t stream_;
  Gemm gemm_;
  DeviceBuffer staging_;  // fp32 rows on their way to BF16 (uploads)

  // The current step, on the device.
  int64_t n_tokens_ = 0;
  int32_t max_blocks_ = 0;
  int max_context_ = 1;
  bool decode_only_ = false;
  int n_tiles_ = 0;
  std::vector<int32_t> packed_;  // the step arrays, packed for one copy
  DeviceBuffer step_;
  int32_t *d_tokens_ = nullptr, *d_positions_ = nullptr, *d_slots_ = nullptr,
          *d_token_seq_ = nullptr, *d_tables_ = nullptr, *d_tiles_ = nullptr;
  DeviceBuffer attn_ws_;  // decode attention workspace
};

}  // namespace gs::kernels::cuda
