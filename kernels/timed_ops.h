// A DeviceOps that forwards to another and adds up the wall time of the
// calls that do a step's work (the operations, copies, allocation and step
// set-up), so a caller can tell compute from the collectives between the
// operations. On a device whose operations are asynchronous (CUDA), a call's
// time is its launch, not its run.
#pragma once

#include <chrono>

#include "kernels/device_ops.h"

namespace gs::kernels {

class TimedOps : public DeviceOps {
 public:
  // `inner` must outlive this.
  explicit TimedOps(DeviceOps& inner) : inner_(inner) {}

  // Seconds spent in timed calls since construction.
  double seconds() const { return seconds_; }

  std::string name() const override { return inner_.name(); }
  DType matmul_input_dtype() const override { return inner_.matmul_input_dtype(); }
  DType kv_dtype() const override { return inner_.kv_dtype(); }
  Status SetKvDType(DType t) override { return inner_.SetKvDType(t); }
  void SetThreads(int n_threads) override { inner_.SetThreads(n_threads); }
  int threads() const override { return inner_.threads(); }
  ThreadPool* thread_pool() const override { return inner_.thread_pool(); }
  void SetActivations(Activations a) override { inner_.SetActivations(a); }
  Activations activations() const override { return inner_.activations(); }

  std::unique_ptr<DeviceMemory> Allocate(size_t bytes) override {
    Timer t(this);
    return inner_.Allocate(bytes);
  }
  void CopyToDevice(void* dst, const void* src, size_t bytes) override {
    Timer t(this);
    inner_.CopyToDevice(dst, src, bytes);
  }
  void CopyToHost(void* dst, const void* src, size_t bytes) override {
    Timer t(this);
    inner_.CopyToHost(dst, src, bytes);
  }
  std::unique_ptr<Weight> UploadWeight(DType dtype, int64_t rows, int64_t cols,
                                       std::span<const uint8_t> data) override {
    Timer t(this);
    return inner_.UploadWeight(dtype, rows, cols, data);
  }
  std::unique_ptr<Weight> RandomWeight(int64_t rows, int64_t cols, float scale,
                                       uint64_t seed) override {
    Timer t(this);
    return inner_.RandomWeight(rows, cols, scale, seed);
  }
  void SetStep(const StepArrays& step) override {
    Timer t(this);
    inner_.SetStep(step);
  }
  void ReserveContext(int max_context) override {
    Timer t(this);
    inner_.ReserveContext(max_context);
  }
  void Embedding(const Weight& table, int64_t row_begin, float* out) override {
    Timer t(this);
    inner_.Embedding(table, row_begin, out);
  }
  void RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
               void* y) override {
    Timer t(this);
    inner_.RmsNorm(x, weight, n, dim, eps, y);
  }
  void MatMul(const void* x, int64_t n, std::span<const Product> parts,
              float beta = 0.0f) override {
    Timer t(this);
    inner_.MatMul(x, n, parts, beta);
  }
  void AddBias(float* y, const float* bias, int64_t n, int64_t dim) override {
    Timer t(this);
    inner_.AddBias(y, bias, n, dim);
  }
  void Add(float* x, const float* y, int64_t n) override {
    Timer t(this);
    inner_.Add(x, y, n);
  }
  void Rope(float* x, int n_heads, int head_dim, const float* inv_freq) override {
    Timer t(this);
    inner_.Rope(x, n_heads, head_dim, inv_freq);
  }
  void KvAppend(const float* k, const float* v, const KvLayer& kv) override {
    Timer t(this);
    inner_.KvAppend(k, v, kv);
  }
  void Attention(const float* q, const KvLayer& kv, int n_heads, float scale, void* out) override {
    Timer t(this);
    inner_.Attention(q, kv, n_heads, scale, out);
  }
  void SiluMul(const float* gate, const float* up, int64_t n, void* out) override {
    Timer t(this);
    inner_.SiluMul(gate, up, n, out);
  }

 private:
  using Clock = std::chrono::steady_clock;
  // Adds its scope's wall time to the ops' total.
  class Timer {
   public:
    explicit Timer(TimedOps* ops) : ops_(ops), t0_(Clock::now()) {}
    ~Timer() { ops_->seconds_ += std::chrono::duration<double>(Clock::now() - t0_).count(); }

   private:
    TimedOps* ops_;
    Clock::time_point t0_;
  };

  DeviceOps& inner_;
  double seconds_ = 0;
};

}  // namespace gs::kernels
