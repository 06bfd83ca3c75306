// The operations a decoder layer is made of, on one device. The model runs
// its one layer loop over this interface; kernels/cpu/cpu_ops.h and
// kernels/cuda/cuda_ops.h implement it. A device contributes operations and
// memory, never a second model.
//
// Pointers passed to the operations are in the device's memory (host memory
// for the CPU). On an asynchronous device the operations only enqueue work;
// CopyToHost waits for it. Not thread-safe: one DeviceOps per rank, called
// from the thread that drives the model.
//
// Dimension names: n_tokens (tokens of the current step), dim, n_heads /
// n_groups (this rank's query heads / KV groups), head_dim.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "kernels/dtype.h"
#include "kernels/kv_layer.h"
#include "kernels/status.h"
#include "kernels/thread_pool.h"

namespace gs::kernels {

// Memory owned on a device; freed with the object.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

 protected:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A weight matrix resident on a device: [rows = outputs, cols = inputs], in
// whatever layout the device's products read.
class Weight {
 public:
  virtual ~Weight() = default;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  DType dtype() const { return dtype_; }
  // Bytes resident on the device.
  int64_t bytes() const { return bytes_; }

 protected:
  int64_t rows_ = 0, cols_ = 0, bytes_ = 0;
  DType dtype_ = DType::kF32;
};

// The host arrays of one step: what rank 0's scheduler broadcast.
struct StepArrays {
  std::span<const int32_t> tokens;        // [n_tokens]
  std::span<const int32_t> positions;     // [n_tokens]
  std::span<const int32_t> slots;         // [n_tokens]: block * block_size + offset
  std::span<const int32_t> token_seq;     // [n_tokens]: the token's row of block_tables
  std::span<const int32_t> block_tables;  // [n_seqs, max_blocks], -1 padded
  int32_t max_blocks = 0;
};

// How quantized (Q8_0/Q4_0/Q4_1) weights meet the activations on the CPU.
enum class Activations {
  // Each token's activations are rounded to 8-bit blocks of 32 (scale
  // amax/127) once per product, and the blocks meet the weights in integer
  // dot products. Several times faster; the error is bounded in
  // tests/kernels/quant_matmul_test.cc. The default, as in llama.cpp.
  kInt8,
  // The weight blocks are widened to fp32 against fp32 activations: exactly
  // the product with the dequantized weights.
  kFp32,
};

// "int8" / "fp32".
const char* ActivationsName(Activations a);

class DeviceOps {
 public:
  virtual ~DeviceOps() = default;

  // "cpu", or "cuda:<device index>".
  virtual std::string name() const = 0;
  // The element type of activations that feed matrix products: what
  // RmsNorm, Attention and SiluMul write and MatMul reads (fp32 on the CPU,
  // bf16 on CUDA).
  virtual DType matmul_input_dtype() const = 0;
  // The element type of K and V in caches made for this device from now on.
  virtual DType kv_dtype() const = 0;
  // Chooses kv_dtype() for the caches made from now on: Ok, or
  // InvalidArgument naming the dtypes this device stores (the CPU: f32, f16,
  // bf16, q8_0; CUDA: bf16, f32). Before making a cache.
  virtual Status SetKvDType(DType t) = 0;
  // Ok when Attention takes heads of head_dim with heads_per_group query
  // heads to a KV group, else InvalidArgument naming what this device's
  // kernels take (the CPU takes any; CUDA: head_dim 64 or 128, at most 32
  // heads a group). Checked when a model is loaded, before any weight.
  virtual Status SupportsAttention(int head_dim, int heads_per_group) const {
    return Status::Ok();
  }

  // Host-side settings of the CPU (threads running the ops, how quantized
  // weights meet activations); other devices ignore them. Between steps only.
  virtual void SetThreads(int n_threads) {}
  virtual int threads() const { return 1; }
  virtual ThreadPool* thread_pool() const { return nullptr; }
  virtual void SetActivations(Activations a) {}
  virtual Activations activations() const { return Activations::kInt8; }

  // --- memory ---------------------------------------------------------------------
  // Zero-filled.
  virtual std::unique_ptr<DeviceMemory> Allocate(size_t bytes) = 0;
  virtual void CopyToDevice(void* dst, const void* src, size_t bytes) = 0;
  // Waits for the work queued before it, then copies.
  virtual void CopyToHost(void* dst, const void* src, size_t bytes) = 0;
  // Whether memory from Allocate is host memory the caller may read directly
  // once the work that writes it is done (the CPU), so a copy to the host can
  // be skipped.
  virtual bool host_memory() const { return false; }
  // A matrix of rows x cols in `dtype` (fp32, f16, bf16, or Q8_0/Q4_0/Q4_1
  // rows in GGUF block layout), put in the device's layout.
  virtual std::unique_ptr<Weight> UploadWeight(DType dtype, int64_t rows, int64_t cols,
                                               std::span<const uint8_t> data) = 0;
  // A matrix of values uniform in [-scale, scale) from a hash of (seed, index)
  // (benchmarks on random weights; nothing read from files).
  virtual std::unique_ptr<Weight> RandomWeight(int64_t rows, int64_t cols, float scale,
                                               uint64_t seed) = 0;

  // --- the step -------------------------------------------------------------------
  // Makes `step` the step that the operations below read (tokens, positions,
  // slots, block tables), copying it to the device. The addresses the
  // operations use stay fixed while the step's sizes do not change, so a
  // device that records work (a CUDA graph) can replay it for a new step.
  virtual void SetStep(const StepArrays& step) = 0;
  // Bounds positions + 1 of the steps run until the next call (sizes the
  // attention workspace). After SetStep, before the step's operations.
  virtual void ReserveContext(int max_context) {}

  // --- operations (n_tokens = the current step's) -----------------------------------
  // out [n_tokens, table.cols()] fp32: row tokens[t] - row_begin of `table`
  // when this rank holds it ([row_begin, row_begin + table.rows())), zeros
  // otherwise (a vocabulary-parallel all-reduce completes the rows).
  virtual void Embedding(const Weight& table, int64_t row_begin, float* out) = 0;
  // x [n, dim] fp32, weight [dim] → y [n, dim] in matmul_input_dtype().
  virtual void RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
                       void* y) = 0;
  // For each part: y [n, w.rows()] fp32 = x · wᵀ + beta · y, where x [n,
  // w.cols()] is in matmul_input_dtype() and shared by the (at most four)
  // parts. beta is 0 or 1 (1 adds the product to y: a fused residual add).
  struct Product {
    const Weight* w;
    float* y;
  };
  virtual void MatMul(const void* x, int64_t n, std::span<const Product> parts,
                      float beta = 0.0f) = 0;
  // y [n, dim] += bias [dim] on every row.
  virtual void AddBias(float* y, const float* bias, int64_t n, int64_t dim) = 0;
  // x [n] += y [n].
  virtual void Add(float* x, const float* y, int64_t n) = 0;
  // x [n_tokens, n_heads, head_dim] rotated in place by the step's positions;
  // inv_freq [head_dim / 2] (kernels/rope.h).
  virtual void Rope(float* x, int n_heads, int head_dim, const float* inv_freq) = 0;
  // k, v [n_tokens, kv.n_groups, head_dim] fp32 → the cache at the step's slots.
  virtual void KvAppend(const float* k, const float* v, const KvLayer& kv) = 0;
  // Causal attention of q [n_tokens, n_heads, head_dim] fp32 over each
  // token's sequence in the cache (local head j reads local group
  // j / (n_heads / kv.n_groups)) → out [n_tokens, n_heads, head_dim] in
  // matmul_input_dtype(). The tokens' own K/V must be appended already.
  virtual void Attention(const float* q, const KvLayer& kv, int n_heads, float scale,
                         void* out) = 0;
  // out [n] = silu(gate [n]) * up [n], in matmul_input_dtype().
  virtual void SiluMul(const float* gate, const float* up, int64_t n, void* out) = 0;
};

}  // namespace gs::kernels
