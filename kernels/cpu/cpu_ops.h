// DeviceOps on the CPU: host memory (huge pages for what is streamed), the
// packed quantized layouts of kernels/matmul.h, fp32 activations, a KV cache
// of f32 (until SetKvDType says otherwise), f16, bf16 or q8_0, and a thread
// pool shared by the products and attention.
#pragma once

#include <memory>
#include <vector>

#include "kernels/device_ops.h"
#include "kernels/weight_matrix.h"

namespace gs::kernels {

class CpuOps : public DeviceOps {
 public:
  std::string name() const override { return "cpu"; }
  DType matmul_input_dtype() const override { return DType::kF32; }
  DType kv_dtype() const override { return kv_dtype_; }
  Status SetKvDType(DType t) override;

  // Runs the ops on `n_threads` threads (the caller counts as one; 1 means
  // no pool).
  void SetThreads(int n_threads) override;
  int threads() const override { return pool_ ? pool_->size() : 1; }
  ThreadPool* thread_pool() const override { return pool_.get(); }
  void SetActivations(Activations a) override { act_ = a; }
  Activations activations() const override { return act_; }

  std::unique_ptr<DeviceMemory> Allocate(size_t bytes) override;
  void CopyToDevice(void* dst, const void* src, size_t bytes) override;
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  bool host_memory() const override { return true; }
  std::unique_ptr<Weight> UploadWeight(DType dtype, int64_t rows, int64_t cols,
                                       std::span<const uint8_t> data) override;
  std::unique_ptr<Weight> RandomWeight(int64_t rows, int64_t cols, float scale,
                                       uint64_t seed) override;

  // The CPU reads the step's host arrays where they are (no copy).
  void SetStep(const StepArrays& step) override { step_ = step; }

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

  // The matrix behind a Weight this device made.
  static const WeightMatrix& matrix(const Weight& w);

 private:
  int64_t n_tokens() const { return static_cast<int64_t>(step_.tokens.size()); }

  std::unique_ptr<ThreadPool> pool_;  // null when single-threaded
  Activations act_ = Activations::kInt8;
  // The exact cache by default, what the library's tests compare against;
  // the commands choose f16 (launcher/rank_startup.cc).
  DType kv_dtype_ = DType::kF32;
  StepArrays step_;
  std::vector<int32_t> head_group_;  // local head → local group, for Attention
  std::vector<float> product_;       // MatMul with beta = 1: the product before the add
  WeightArena weights_;              // every uploaded matrix, back to back
};

}  // namespace gs::kernels
