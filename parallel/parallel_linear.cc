#include "parallel/parallel_linear.h"

#include <cstring>

#include "core/check.h"
#include "kernels/matmul.h"

namespace gs {

StatusOr<WeightMatrix> LoadMatrix(const WeightSource& src, const std::string& name, Range rows,
                                  Range cols) {
  const TensorInfo* info = src.Find(name);
  if (info == nullptr) return Status::NotFound("tensor " + name + " missing in " + src.path());
  WeightMatrix w;
  w.dtype = ResidentDType(info->dtype, /*is_matrix=*/true);
  w.rows = rows.size();
  w.cols = cols.size();
  if (w.dtype == DType::kF32) {
    w.data.resize(sizeof(float) * w.rows * w.cols);
    GS_RETURN_IF_ERROR(src.ReadF32(name, rows, cols, reinterpret_cast<float*>(w.data.data())));
  } else {
    CHECK(w.dtype == info->dtype) << "resident dtype must be fp32 or the stored dtype";
    std::vector<uint8_t> raw;
    GS_RETURN_IF_ERROR(src.ReadRaw(name, rows, cols, &raw));
    kernels::PackForCpu(&w, raw);
  }
  return w;
}

StatusOr<std::vector<float>> LoadVector(const WeightSource& src, const std::string& name,
                                        Range r) {
  const TensorInfo* info = src.Find(name);
  if (info == nullptr) return Status::NotFound("tensor " + name + " missing in " + src.path());
  std::vector<float> v(r.size());
  GS_RETURN_IF_ERROR(src.ReadF32(name, {0, 1}, r, v.data()));
  return v;
}

StatusOr<ColumnParallelLinear> ColumnParallelLinear::Load(const WeightSource& src,
                                                          const std::string& prefix,
                                                          Range out_rows, bool has_bias) {
  ColumnParallelLinear l;
  const TensorInfo* info = src.Find(prefix + ".weight");
  if (info == nullptr) {
    return Status::NotFound("tensor " + prefix + ".weight missing in " + src.path());
  }
  GS_ASSIGN_OR_RETURN(l.w_, LoadMatrix(src, prefix + ".weight", out_rows, {0, info->cols()}));
  if (has_bias) {
    GS_ASSIGN_OR_RETURN(l.bias_, LoadVector(src, prefix + ".bias", out_rows));
  }
  return l;
}

void ColumnParallelLinear::Forward(const float* x, int64_t n, float* y, ThreadPool* pool,
                                   kernels::Activations act) const {
  kernels::MatMul(x, n, w_, y, pool, act);
  AddBias(n, y);
}

void ColumnParallelLinear::AddBias(int64_t n, float* y) const {
  if (bias_.empty()) return;
  for (int64_t t = 0; t < n; ++t) {
    float* row = y + t * w_.rows;
    for (int64_t o = 0; o < w_.rows; ++o) row[o] += bias_[o];
  }
}

void ColumnParallelLinear::ForwardShared(const float* x, int64_t n,
                                         std::initializer_list<Part> parts, ThreadPool* pool,
                                         kernels::Activations act) {
  CHECK(parts.size() <= 4) << parts.size() << " parts";
  kernels::MatMulPart mp[4];
  size_t i = 0;
  for (const Part& p : parts) mp[i++] = {&p.first->w_, p.second};
  kernels::MatMulShared(x, n, {mp, parts.size()}, pool, act);
  for (const Part& p : parts) p.first->AddBias(n, p.second);
}

int64_t ColumnParallelLinear::weight_bytes() const {
  return w_.bytes() + static_cast<int64_t>(bias_.size() * sizeof(float));
}

StatusOr<RowParallelLinear> RowParallelLinear::Load(const WeightSource& src,
                                                    const std::string& prefix, Range in_cols,
                                                    Communicator& comm) {
  RowParallelLinear l;
  const TensorInfo* info = src.Find(prefix + ".weight");
  if (info == nullptr) {
    return Status::NotFound("tensor " + prefix + ".weight missing in " + src.path());
  }
  GS_ASSIGN_OR_RETURN(l.w_, LoadMatrix(src, prefix + ".weight", {0, info->rows()}, in_cols));
  l.comm_ = &comm;
  return l;
}

void RowParallelLinear::Forward(const float* x, int64_t n, float* y, ThreadPool* pool,
                                   kernels::Activations act) const {
  kernels::MatMul(x, n, w_, y, pool, act);
  comm_->AllReduceSum(y, static_cast<size_t>(n * w_.rows));
}

StatusOr<VocabParallelEmbedding> VocabParallelEmbedding::Load(const WeightSource& src,
                                                              const std::string& name,
                                                              Range vocab_rows,
                                                              Communicator& comm) {
  VocabParallelEmbedding e;
  const TensorInfo* info = src.Find(name);
  if (info == nullptr) return Status::NotFound("tensor " + name + " missing in " + src.path());
  e.w_.dtype = DType::kF32;
  e.w_.rows = vocab_rows.size();
  e.w_.cols = info->cols();
  e.w_.data.resize(sizeof(float) * e.w_.rows * e.w_.cols);
  GS_RETURN_IF_ERROR(src.ReadF32(name, vocab_rows, {0, info->cols()},
                                 reinterpret_cast<float*>(e.w_.data.data())));
  e.rows_ = vocab_rows;
  e.comm_ = &comm;
  return e;
}

void VocabParallelEmbedding::Forward(const int32_t* tokens, int64_t n, float* out) const {
  const int64_t H = w_.cols;
  std::memset(out, 0, sizeof(float) * n * H);
  for (int64_t t = 0; t < n; ++t) {
    if (tokens[t] >= rows_.begin && tokens[t] < rows_.end) {
      std::memcpy(out + t * H, w_.f32() + (tokens[t] - rows_.begin) * H, sizeof(float) * H);
    }
  }
  comm_->AllReduceSum(out, static_cast<size_t>(n * H));
}

StatusOr<ParallelLmHead> ParallelLmHead::Load(const WeightSource& src, const std::string& name,
                                              const std::vector<Range>& vocab_rows_of_rank,
                                              Communicator& comm) {
  ParallelLmHead h;
  const TensorInfo* info = src.Find(name);
  if (info == nullptr) return Status::NotFound("tensor " + name + " missing in " + src.path());
  GS_ASSIGN_OR_RETURN(h.w_, LoadMatrix(src, name, vocab_rows_of_rank.at(comm.rank()),
                                       {0, info->cols()}));
  h.rows_of_rank_ = vocab_rows_of_rank;
  h.comm_ = &comm;
  return h;
}

void ParallelLmHead::Forward(const float* h, int64_t n, float* logits, ThreadPool* pool,
                             kernels::Activations act) {
  const int64_t vr = w_.rows;
  const int P = comm_->size();
  if (P == 1) {
    kernels::MatMul(h, n, w_, logits, pool, act);
    return;
  }
  local_.resize(n * vr);
  kernels::MatMul(h, n, w_, local_.data(), pool, act);
  counts_.resize(P);
  std::vector<int>& counts = counts_;
  int64_t V = 0;
  for (int r = 0; r < P; ++r) {
    counts[r] = static_cast<int>(n * rows_of_rank_[r].size());
    V += rows_of_rank_[r].size();
  }
  if (comm_->rank() == 0) gathered_.resize(n * V);
  comm_->GatherV(local_.data(), counts, gathered_.data(), 0);
  if (comm_->rank() != 0) return;
  // Rank-major [r][n][V_r] → token-major [n][V].
  int64_t off = 0;
  for (int r = 0; r < P; ++r) {
    const Range rows = rows_of_rank_[r];
    for (int64_t t = 0; t < n; ++t) {
      std::memcpy(logits + t * V + rows.begin, gathered_.data() + off + t * rows.size(),
                  sizeof(float) * rows.size());
    }
    off += n * rows.size();
  }
}

}  // namespace gs
