// Tensor-parallel layers. Each knows how to cut its own slice out of a full
// checkpoint tensor; only the row-parallel ones (and the vocabulary-parallel
// embedding) combine results across ranks.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "core/weight_matrix.h"
#include "core/weight_source.h"
#include "kernels/matmul.h"
#include "parallel/communicator.h"

namespace gs {

// Reads rows x cols of a checkpoint matrix into its resident dtype.
StatusOr<WeightMatrix> LoadMatrix(const WeightSource& src, const std::string& name, Range rows,
                                  Range cols);
// Reads elements [r.begin, r.end) of a 1-D tensor as fp32.
StatusOr<std::vector<float>> LoadVector(const WeightSource& src, const std::string& name,
                                        Range r);

// Output features sliced: y[:, rows] = x · W[rows, :]ᵀ (+ b[rows]). No communication.
class ColumnParallelLinear {
 public:
  static StatusOr<ColumnParallelLinear> Load(const WeightSource& src, const std::string& prefix,
                                             Range out_rows, bool has_bias);
  // x [n, in], y [n, out_rows.size()]. `pool` splits the output rows.
  void Forward(const float* x, int64_t n, float* y, ThreadPool* pool = nullptr,
               kernels::Activations act = kernels::Activations::kInt8) const;
  int64_t out_features() const { return w_.rows; }
  int64_t weight_bytes() const;

  // Forward of several layers that read the same x (q/k/v, gate/up) in one
  // pass over the pool: parts are {layer, y}.
  using Part = std::pair<const ColumnParallelLinear*, float*>;
  static void ForwardShared(const float* x, int64_t n, std::initializer_list<Part> parts,
                            ThreadPool* pool = nullptr,
                            kernels::Activations act = kernels::Activations::kInt8);

 private:
  void AddBias(int64_t n, float* y) const;

  WeightMatrix w_;
  std::vector<float> bias_;
};

// Input features sliced: y = all_reduce_sum(x[:, cols] · W[:, cols]ᵀ).
class RowParallelLinear {
 public:
  static StatusOr<RowParallelLinear> Load(const WeightSource& src, const std::string& prefix,
                                          Range in_cols, Communicator& comm);
  // x [n, in_cols.size()], y [n, out] (the full sum, on every rank).
  void Forward(const float* x, int64_t n, float* y, ThreadPool* pool = nullptr,
               kernels::Activations act = kernels::Activations::kInt8) const;
  int64_t out_features() const { return w_.rows; }
  int64_t weight_bytes() const { return w_.bytes(); }

 private:
  WeightMatrix w_;
  Communicator* comm_ = nullptr;
};

// Embedding rows sliced by vocabulary: each rank fills the rows it owns, an
// all-reduce assembles the full embeddings.
class VocabParallelEmbedding {
 public:
  static StatusOr<VocabParallelEmbedding> Load(const WeightSource& src, const std::string& name,
                                               Range vocab_rows, Communicator& comm);
  // tokens [n] → out [n, hidden].
  void Forward(const int32_t* tokens, int64_t n, float* out) const;
  int64_t weight_bytes() const { return w_.bytes(); }

 private:
  WeightMatrix w_;  // fp32 [vocab_rows.size(), hidden]
  Range rows_;
  Communicator* comm_ = nullptr;
};

// LM head sliced by vocabulary. Each rank computes logits for its rows and
// they are gathered (not reduced) on rank 0: a gather moves V floats per
// token in all, a reduce would move V per rank.
class ParallelLmHead {
 public:
  static StatusOr<ParallelLmHead> Load(const WeightSource& src, const std::string& name,
                                       const std::vector<Range>& vocab_rows_of_rank,
                                       Communicator& comm);
  // h [n, hidden] → on rank 0, logits [n, vocab]; elsewhere `logits` untouched.
  void Forward(const float* h, int64_t n, float* logits, ThreadPool* pool = nullptr,
               kernels::Activations act = kernels::Activations::kInt8);
  int64_t weight_bytes() const { return w_.bytes(); }

 private:
  WeightMatrix w_;
  std::vector<Range> rows_of_rank_;
  Communicator* comm_ = nullptr;
  std::vector<float> local_, gathered_;
  std::vector<int> counts_;
};

}  // namespace gs
