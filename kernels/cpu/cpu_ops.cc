#include "kernels/cpu/cpu_ops.h"

#include <cstring>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/check.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/dtype.h"
#include "kernels/huge_pages.h"
#include "kernels/matmul.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"

namespace gs::kernels {
namespace {

class HostMemory : public DeviceMemory {
 public:
  explicit HostMemory(size_t bytes) {
    data_ = AllocateStreamed(bytes);
    bytes_ = bytes;
    std::memset(data_, 0, bytes);
  }
  ~HostMemory() override { FreeStreamed(data_); }
};

class CpuWeight : public Weight {
 public:
  explicit CpuWeight(WeightMatrix m) : m_(std::move(m)) {
    rows_ = m_.rows;
    cols_ = m_.cols;
    bytes_ = m_.bytes();
    dtype_ = m_.dtype;
  }
  const WeightMatrix& matrix() const { return m_; }

 private:
  WeightMatrix m_;
};

// splitmix64 of (seed, i), in [0, 1): the same stream as the CUDA FillUniform.
float HashUniform(uint64_t seed, int64_t i) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(i) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

}  // namespace

const WeightMatrix& CpuOps::matrix(const Weight& w) {
  return static_cast<const CpuWeight&>(w).matrix();
}

void CpuOps::SetThreads(int n_threads) {
  pool_.reset();
  if (n_threads > 1) pool_ = std::make_unique<ThreadPool>(n_threads);
}

std::unique_ptr<DeviceMemory> CpuOps::Allocate(size_t bytes) {
  return std::make_unique<HostMemory>(bytes);
}

void CpuOps::CopyToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, src, bytes);
}

void CpuOps::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, src, bytes);
}

std::unique_ptr<Weight> CpuOps::UploadWeight(DType dtype, int64_t rows, int64_t cols,
                                             std::span<const uint8_t> data) {
  WeightMatrix m;
  m.dtype = dtype;
  m.rows = rows;
  m.cols = cols;
  PackForCpu(&m, data, &weights_);
  return std::make_unique<CpuWeight>(std::move(m));
}

std::unique_ptr<Weight> CpuOps::RandomWeight(int64_t rows, int64_t cols, float scale,
                                             uint64_t seed) {
  WeightMatrix m;
  m.dtype = DType::kF32;
  m.rows = rows;
  m.cols = cols;
  m.data.resize(sizeof(float) * rows * cols);
  float* p = reinterpret_cast<float*>(m.data.data());
  for (int64_t i = 0; i < rows * cols; ++i) p[i] = (2.0f * HashUniform(seed, i) - 1.0f) * scale;
  return std::make_unique<CpuWeight>(std::move(m));
}

void CpuOps::Embedding(const Weight& table, int64_t row_begin, float* out) {
  // The table stays in its stored dtype; only the step's rows are widened.
  const WeightMatrix& w = matrix(table);
  const int64_t H = w.cols, n = n_tokens();
  const int64_t row_bytes = w.rows > 0 ? w.bytes() / w.rows : 0;
  std::memset(out, 0, sizeof(float) * n * H);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t row = step_.tokens[t] - row_begin;
    if (row < 0 || row >= w.rows) continue;
    const uint8_t* src = w.data.data() + row * row_bytes;
    if (w.paired) {
      cpu::DequantizePairedRow(w.dtype, src, H, out + t * H);
    } else {
      DequantizeRow(w.dtype, src, out + t * H, H);
    }
  }
}

void CpuOps::RmsNorm(const float* x, const float* weight, int64_t n, int64_t dim, float eps,
                     void* y) {
  kernels::RmsNorm(x, weight, n, dim, eps, static_cast<float*>(y));
}

void CpuOps::MatMul(const void* x, int64_t n, std::span<const Product> parts, float beta) {
  CHECK(parts.size() <= 4) << parts.size() << " parts";
  const float* xf = static_cast<const float*>(x);
  if (beta == 0.0f) {
    MatMulPart mp[4];
    for (size_t i = 0; i < parts.size(); ++i) mp[i] = {&matrix(*parts[i].w), parts[i].y};
    MatMulShared(xf, n, {mp, parts.size()}, pool_.get(), act_);
    return;
  }
  CHECK(beta == 1.0f) << "beta " << beta;
  for (const Product& p : parts) {
    const int64_t size = n * p.w->rows();
    if (static_cast<int64_t>(product_.size()) < size) product_.resize(size);
    kernels::MatMul(xf, n, matrix(*p.w), product_.data(), pool_.get(), act_);
    Add(p.y, product_.data(), size);
  }
}

void CpuOps::AddBias(float* y, const float* bias, int64_t n, int64_t dim) {
  for (int64_t t = 0; t < n; ++t) {
    float* row = y + t * dim;
    for (int64_t o = 0; o < dim; ++o) row[o] += bias[o];
  }
}

void CpuOps::Add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuOps::Rope(float* x, int n_heads, int head_dim, const float* inv_freq) {
  RopeApply(x, n_tokens(), n_heads, head_dim, step_.positions.data(), inv_freq);
}

Status CpuOps::SetKvDType(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
      kv_dtype_ = t;
      return Status::Ok();
    default:
      return Status::InvalidArgument(
          std::string("the CPU KV cache holds f32, f16, bf16 or q8_0, not ") + DTypeLowerName(t));
  }
}

void CpuOps::KvAppend(const float* k, const float* v, const KvLayer& kv) {
  kernels::KvAppend(k, v, n_tokens(), step_.slots.data(), kv);
}

void CpuOps::Attention(const float* q, const KvLayer& kv, int n_heads, float scale, void* out) {
  const int per_group = n_heads / kv.n_groups;
  if (static_cast<int>(head_group_.size()) != n_heads || head_group_.back() != kv.n_groups - 1) {
    head_group_.resize(n_heads);
    for (int j = 0; j < n_heads; ++j) head_group_[j] = j / per_group;
  }
  AttentionBatch batch;
  batch.n_tokens = n_tokens();
  batch.positions = step_.positions.data();
  batch.token_seq = step_.token_seq.data();
  batch.block_tables = step_.block_tables.data();
  batch.max_blocks = step_.max_blocks;
  PagedAttention(q, kv, batch, head_group_.data(), n_heads, scale,
                 static_cast<float*>(out), pool_.get());
}

void CpuOps::SiluMul(const float* gate, const float* up, int64_t n, void* out) {
  kernels::SiluMul(gate, up, n, static_cast<float*>(out), pool_.get());
}

}  // namespace gs::kernels
