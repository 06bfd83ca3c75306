#include "kernels/cuda/cuda_ops.h"

#include <string>

#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"

namespace gs::kernels::cuda {
namespace {

class GpuMemory : public DeviceMemory {
 public:
  GpuMemory(size_t bytes, cudaStream_t s) : buf_(bytes) {
    data_ = buf_.get();
    bytes_ = bytes;
    CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes, s));
  }

 private:
  DeviceBuffer buf_;
};

class CudaWeight : public Weight {
 public:
  CudaWeight(int64_t rows, int64_t cols) : buf_(rows * cols * sizeof(bf16)) {
    rows_ = rows;
    cols_ = cols;
    dtype_ = DType::kBF16;
    bytes_ = rows * cols * static_cast<int64_t>(sizeof(bf16));
    m_ = DeviceMatrix{buf_.get<bf16>(), rows, cols};
  }
  const DeviceMatrix& matrix() const { return m_; }
  bf16* data() const { return buf_.get<bf16>(); }

 private:
  DeviceBuffer buf_;
  DeviceMatrix m_;
};

const CudaWeight& Cast(const Weight& w) { return static_cast<const CudaWeight&>(w); }

}  // namespace

CudaOps::CudaOps(cudaStream_t stream) : stream_(stream), gemm_(stream) {
  CUDA_CHECK(cudaGetDevice(&device_));
}

std::string CudaOps::name() const { return "cuda:" + std::to_string(device_); }

std::unique_ptr<DeviceMemory> CudaOps::Allocate(size_t bytes) {
  return std::make_unique<GpuMemory>(bytes, stream_);
}

void CudaOps::CopyToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  // The caller may free or reuse `src` right after.
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaOps::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

std::unique_ptr<Weight> CudaOps::UploadWeight(DType dtype, int64_t rows, int64_t cols,
                                              std::span<const uint8_t> data) {
  CHECK_EQ(static_cast<int64_t>(data.size()), rows * RowBytes(dtype, cols));
  auto w = std::make_unique<CudaWeight>(rows, cols);
  // Row by row to fp32 on the host (the dequantized values of any stored
  // dtype), then BF16 on the device.
  std::vector<float> host(rows * cols);
  const int64_t row_bytes = RowBytes(dtype, cols);
  for (int64_t r = 0; r < rows; ++r) {
    DequantizeRow(dtype, data.data() + r * row_bytes, host.data() + r * cols, cols);
  }
  staging_.Resize(host.size() * sizeof(float));
  CopyToDevice(staging_.get(), host.data(), host.size() * sizeof(float));
  ConvertF32ToBF16(staging_.get<float>(), static_cast<int64_t>(host.size()), w->data(), stream_);
  return w;
}

std::unique_ptr<Weight> CudaOps::RandomWeight(int64_t rows, int64_t cols, float scale,
                                              uint64_t seed) {
  auto w = std::make_unique<CudaWeight>(rows, cols);
  FillUniform(w->data(), rows * cols, scale, seed, stream_);
  return w;
}

void CudaOps::SetStep(const StepArrays& step) {
  n_tokens_ = static_cast<int64_t>(step.tokens.size());
  max_blocks_ = step.max_blocks;
  const int64_t n_seqs =
      step.max_blocks == 0 ? 0 : static_cast<int64_t>(step.block_tables.size()) / step.max_blocks;
  decode_only_ = n_tokens_ == n_seqs;
  const std::vector<int32_t> tiles =
      MakeAttentionTiles(step.token_seq.data(), n_tokens_, kPrefillTile);
  n_tiles_ = static_cast<int>(tiles.size() / 2);
  packed_.clear();
  auto append = [&](std::span<const int32_t> v) {
    const size_t off = packed_.size();
    packed_.insert(packed_.end(), v.begin(), v.end());
    return off;
  };
  const size_t o_tok = append(step.tokens), o_pos = append(step.positions),
               o_slot = append(step.slots), o_seq = append(step.token_seq),
               o_tab = append(step.block_tables), o_tile = append(tiles);
  step_.Resize(std::max<size_t>(packed_.size(), 1) * sizeof(int32_t));
  int32_t* base = step_.get<int32_t>();
  d_tokens_ = base + o_tok;
  d_positions_ = base + o_pos;
  d_slots_ = base + o_slot;
  d_token_seq_ = base + o_seq;
  d_tables_ = base + o_tab;
  d_tiles_ = base + o_tile;
  // Asynchronous: packed_ is not touched again before the next SetStep, which
  // comes after the step's logits have been waited for.
  CUDA_CHECK(cudaMemcpyAsync(base, packed_.data(), packed_.size() * sizeof(int32_t),
                             cudaMemcpyHostToDevice, stream_));
}

void CudaOps::ReserveContext(int max_context) { max_context_ = std::max(max_context, 1); }

AttentionBatchDevice CudaOps::Batch() const {
  AttentionBatchDevice b;
  b.n_tokens = n_tokens_;
  b.positions = d_positions_;
  b.token_seq = d_token_seq_;
  b.block_tables = d_tables_;
  b.max_blocks = max_blocks_;
  b.max_context = max_context_;
  return b;
}

void CudaOps::Embedding(const Weight& table, int64_t row_begin, float* out) {
  const CudaWeight& w = Cast(table);
  cuda::Embedding(w.data(), row_begin, w.rows(), w.cols(), d_tokens_, n_tokens_, out, stream_);
}

void CudaOps::RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
                      void* y) {
  cuda::RmsNorm(x, weight, n, dim, eps, static_cast<bf16*>(y), stream_);
}

void CudaOps::MatMul(const void* x, int64_t n, std::span<const Product> parts, float beta) {
  const bf16* xb = static_cast<const bf16*>(x);
  for (const Product& p : parts) gemm_.MatMul(xb, n, Cast(*p.w).matrix(), p.y, beta);
}

void CudaOps::AddBias(float* y, const float* bias, int64_t n, int64_t dim) {
  cuda::AddBias(y, bias, n, dim, stream_);
}

void CudaOps::Add(float* x, const float* y, int64_t n) { AddInPlace(x, y, n, stream_); }

void CudaOps::Rope(float* x, int n_heads, int head_dim, const float* inv_freq) {
  RopeApply(x, n_tokens_, n_heads, head_dim, d_positions_, inv_freq, stream_);
}

Status CudaOps::SetKvDType(DType t) {
  if (t != DType::kBF16 && t != DType::kF32) {
    return Status::InvalidArgument(std::string("the CUDA KV cache holds bf16 or f32, not ") +
                                   DTypeLowerName(t));
  }
  kv_dtype_ = t;
  return Status::Ok();
}

Status CudaOps::SupportsAttention(int head_dim, int heads_per_group) const {
  return CudaAttentionShape(head_dim, heads_per_group);
}

void CudaOps::KvAppend(const float* k, const float* v, const KvLayer& kv) {
  cuda::KvAppend(k, v, n_tokens_, d_slots_, kv, stream_);
}

void CudaOps::Attention(const float* q, const KvLayer& kv, int n_heads, float scale, void* out) {
  bf16* o = static_cast<bf16*>(out);
  if (decode_only_) {
    // Grows only on the first call with a new bound, so a graph captured
    // after one eager step never allocates.
    attn_ws_.Resize(
        DecodeAttentionWorkspaceBytes(n_tokens_, n_heads, kv.n_groups, kv.head_dim, max_context_));
    DecodeAttention(q, kv, Batch(), n_heads, scale, attn_ws_.get(), o, stream_);
  } else {
    PrefillAttention(q, kv, Batch(), d_tiles_, n_tiles_, n_heads, scale, o, stream_);
  }
}

void CudaOps::SiluMul(const float* gate, const float* up, int64_t n, void* out) {
  cuda::SiluMul(gate, up, n, static_cast<bf16*>(out), stream_);
}

}  // namespace gs::kernels::cuda
