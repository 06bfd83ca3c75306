#include "parallel/parallel_linear.h"

#include <cstring>

#include "kernels/check.h"

namespace gs {

using kernels::DeviceOps;

void ColumnParallelLinear::ForwardShared(DeviceOps& ops, const void* x, int64_t n,
                                         std::initializer_list<Part> parts) {
  CHECK(parts.size() <= 4) << parts.size() << " parts";
  DeviceOps::Product products[4];
  size_t i = 0;
  for (const Part& p : parts) products[i++] = {p.first->w_.get(), p.second};
  ops.MatMul(x, n, {products, parts.size()});
  for (const Part& p : parts) {
    if (p.first->bias_) {
      ops.AddBias(p.second, p.first->bias_->as<float>(), n, p.first->w_->rows());
    }
  }
}

int64_t ColumnParallelLinear::weight_bytes() const {
  return w_->bytes() + (bias_ ? static_cast<int64_t>(bias_->bytes()) : 0);
}

void RowParallelLinear::Forward(DeviceOps& ops, const void* x, int64_t n, float* residual,
                                float* scratch) const {
  const DeviceOps::Product to_residual{w_.get(), residual};
  if (comm_->size() == 1) {
    ops.MatMul(x, n, {&to_residual, 1}, /*beta=*/1.0f);
    return;
  }
  const DeviceOps::Product to_scratch{w_.get(), scratch};
  ops.MatMul(x, n, {&to_scratch, 1});
  comm_->AllReduceSum(scratch, static_cast<size_t>(n * w_->rows()));
  ops.Add(residual, scratch, n * w_->rows());
}

void VocabParallelEmbedding::Forward(DeviceOps& ops, int64_t n_tokens, float* out) const {
  ops.Embedding(*w_, rows_.begin, out);
  comm_->AllReduceSum(out, static_cast<size_t>(n_tokens * w_->cols()));
}

void ParallelLmHead::Forward(DeviceOps& ops, const void* h, int64_t n, float* local) const {
  const DeviceOps::Product p{w_.get(), local};
  ops.MatMul(h, n, {&p, 1});
}

void ParallelLmHead::Gather(DeviceOps& ops, const float* local, int64_t n, float* logits) {
  const int P = comm_->size();
  int64_t V = 0;
  for (const Range& r : rows_of_rank_) V += r.size();
  if (P == 1) {
    ops.CopyToHost(logits, local, sizeof(float) * n * V);
    return;
  }
  counts_.resize(P);
  for (int r = 0; r < P; ++r) counts_[r] = static_cast<int>(n * rows_of_rank_[r].size());
  float* gathered = nullptr;
  if (comm_->rank() == 0) {
    const size_t bytes = sizeof(float) * n * V;
    if (!gathered_ || gathered_->bytes() < bytes) gathered_ = ops.Allocate(bytes);
    gathered = gathered_->as<float>();
  }
  comm_->GatherV(local, counts_, gathered, 0);
  if (comm_->rank() != 0) return;
  const float* src = gathered;  // read where it landed when that is host memory
  if (!ops.host_memory()) {
    host_.resize(n * V);
    ops.CopyToHost(host_.data(), gathered, sizeof(float) * n * V);
    src = host_.data();
  }
  // Rank-major [r][n][V_r] → token-major [n][V].
  int64_t off = 0;
  for (int r = 0; r < P; ++r) {
    const Range rows = rows_of_rank_[r];
    for (int64_t t = 0; t < n; ++t) {
      std::memcpy(logits + t * V + rows.begin, src + off + t * rows.size(),
                  sizeof(float) * rows.size());
    }
    off += n * rows.size();
  }
}

}  // namespace gs
