// A DeviceOps that forwards to another and adds up the wall time of the
// calls that do a step's work (the operations, copies, allocation and step
// set-up), in all and per kind of call, so a caller can tell compute from
// the collectives between the operations and see which operations a step's
// compute goes to. On a device whose operations are asynchronous (CUDA), a
// call's time is its launch, not its run.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernels/device_ops.h"

namespace gs::kernels {

class TimedOps : public DeviceOps {
 public:
  // The kinds every TimedOps has, indices into kinds(): one per operation,
  // and the calls around them grouped. Products whose first weight has a
  // label (LabelProducts) count under that label's kind instead of kMatMul.
  enum Kind : int {
    kMatMul,     // "matmul"
    kAttention,  // "attention"
    kKvAppend,   // "kv_append"
    kRmsNorm,    // "rms_norm"
    kRope,       // "rope"
    kSiluMul,    // "silu_mul"
    kAdd,        // "add"
    kAddBias,    // "add_bias"
    kEmbedding,  // "embedding"
    kCopy,       // "copy": CopyToDevice, CopyToHost
    kStepSetup,  // "step_setup": SetStep, ReserveContext
    kAllocate,   // "allocate": Allocate, UploadWeight, RandomWeight
    kNumFixedKinds,
  };

  // What the calls of one kind took since construction.
  struct KindTotals {
    std::string name;
    double seconds = 0;
    int64_t calls = 0;
  };

  // `inner` must outlive this.
  explicit TimedOps(DeviceOps& inner);

  // Seconds spent in timed calls since construction: the sum over kinds().
  double seconds() const { return seconds_; }
  // Every kind, the fixed ones first (in Kind order), then the labels in
  // the order first given. Only grows.
  const std::vector<KindTotals>& kinds() const { return kinds_; }

  // From now on a MatMul whose first part's weight is `w` counts under the
  // kind named `label` (made on first use; several weights may share one).
  // Between steps only: a call's lookup is a hash of the weight's address.
  void LabelProducts(const Weight& w, std::string_view label);

  std::string name() const override { return inner_.name(); }
  DType matmul_input_dtype() const override { return inner_.matmul_input_dtype(); }
  DType kv_dtype() const override { return inner_.kv_dtype(); }
  Status SetKvDType(DType t) override { return inner_.SetKvDType(t); }
  Status SupportsAttention(int head_dim, int heads_per_group) const override {
    return inner_.SupportsAttention(head_dim, heads_per_group);
  }
  void SetThreads(int n_threads) override { inner_.SetThreads(n_threads); }
  int threads() const override { return inner_.threads(); }
  ThreadPool* thread_pool() const override { return inner_.thread_pool(); }
  void SetActivations(Activations a) override { inner_.SetActivations(a); }
  Activations activations() const override { return inner_.activations(); }

  std::unique_ptr<DeviceMemory> Allocate(size_t bytes) override {
    Timer t(this, kAllocate);
    return inner_.Allocate(bytes);
  }
  void CopyToDevice(void* dst, const void* src, size_t bytes) override {
    Timer t(this, kCopy);
    inner_.CopyToDevice(dst, src, bytes);
  }
  void CopyToHost(void* dst, const void* src, size_t bytes) override {
    Timer t(this, kCopy);
    inner_.CopyToHost(dst, src, bytes);
  }
  bool host_memory() const override { return inner_.host_memory(); }
  std::unique_ptr<Weight> UploadWeight(DType dtype, int64_t rows, int64_t cols,
                                       std::span<const uint8_t> data) override {
    Timer t(this, kAllocate);
    return inner_.UploadWeight(dtype, rows, cols, data);
  }
  std::unique_ptr<Weight> RandomWeight(int64_t rows, int64_t cols, float scale,
                                       uint64_t seed) override {
    Timer t(this, kAllocate);
    return inner_.RandomWeight(rows, cols, scale, seed);
  }
  void SetStep(const StepArrays& step) override {
    Timer t(this, kStepSetup);
    inner_.SetStep(step);
  }
  void ReserveContext(int max_context) override {
    Timer t(this, kStepSetup);
    inner_.ReserveContext(max_context);
  }
  void Embedding(const Weight& table, int64_t row_begin, float* out) override {
    Timer t(this, kEmbedding);
    inner_.Embedding(table, row_begin, out);
  }
  void RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
               void* y) override {
    Timer t(this, kRmsNorm);
    inner_.RmsNorm(x, weight, n, dim, eps, y);
  }
  void MatMul(const void* x, int64_t n, std::span<const Product> parts,
              float beta = 0.0f) override {
    Timer t(this, ProductKind(parts));
    inner_.MatMul(x, n, parts, beta);
  }
  void AddBias(float* y, const float* bias, int64_t n, int64_t dim) override {
    Timer t(this, kAddBias);
    inner_.AddBias(y, bias, n, dim);
  }
  void Add(float* x, const float* y, int64_t n) override {
    Timer t(this, kAdd);
    inner_.Add(x, y, n);
  }
  void Rope(float* x, int n_heads, int head_dim, const float* inv_freq) override {
    Timer t(this, kRope);
    inner_.Rope(x, n_heads, head_dim, inv_freq);
  }
  void KvAppend(const float* k, const float* v, const KvLayer& kv) override {
    Timer t(this, kKvAppend);
    inner_.KvAppend(k, v, kv);
  }
  void Attention(const float* q, const KvLayer& kv, int n_heads, float scale, void* out) override {
    Timer t(this, kAttention);
    inner_.Attention(q, kv, n_heads, scale, out);
  }
  void SiluMul(const float* gate, const float* up, int64_t n, void* out) override {
    Timer t(this, kSiluMul);
    inner_.SiluMul(gate, up, n, out);
  }

 private:
  using Clock = std::chrono::steady_clock;
  // Adds its scope's wall time to the ops' total and to one kind's.
  class Timer {
   public:
    Timer(TimedOps* ops, int kind) : ops_(ops), kind_(kind), t0_(Clock::now()) {}
    ~Timer() {
      const double s = std::chrono::duration<double>(Clock::now() - t0_).count();
      ops_->seconds_ += s;
      KindTotals& k = ops_->kinds_[kind_];
      k.seconds += s;
      ++k.calls;
    }

   private:
    TimedOps* ops_;
    int kind_;
    Clock::time_point t0_;
  };

  int ProductKind(std::span<const Product> parts) const;

  DeviceOps& inner_;
  double seconds_ = 0;
  std::vector<KindTotals> kinds_;
  std::unordered_map<const Weight*, int> product_kind_;  // LabelProducts
};

}  // namespace gs::kernels
