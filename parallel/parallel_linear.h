// Tensor-parallel layers over one device's operations. Each holds this
// rank's slice of its weight (cut by the shard plan when it was loaded);
// these layers are the only code that calls the communicator, on every
// device alike: the row-parallel ones and the vocabulary-parallel embedding
// all-reduce, the LM head gathers logits to rank 0.
//
// Activations `x` fed to products are in ops.matmul_input_dtype(); other
// arrays are fp32. All arrays are in the device's memory unless "host".
#pragma once

#include <initializer_list>
#include <memory>
#include <utility>
#include <vector>

#include "kernels/device_ops.h"
#include "kernels/range.h"
#include "parallel/communicator.h"

namespace gs {

// Output features sliced: y[:, rows] = x · W[rows, :]ᵀ (+ b[rows]). No communication.
class ColumnParallelLinear {
 public:
  ColumnParallelLinear() = default;
  // `bias` [w->rows()] fp32, or null.
  ColumnParallelLinear(std::unique_ptr<kernels::Weight> w,
                       std::unique_ptr<kernels::DeviceMemory> bias)
      : w_(std::move(w)), bias_(std::move(bias)) {}

  int64_t out_features() const { return w_->rows(); }
  int64_t weight_bytes() const;
  const kernels::Weight& weight() const { return *w_; }

  // x [n, in] → each part's y [n, its out_features()], for the layers that
  // read the same x (q/k/v, gate/up), at most four, in one product call:
  // parts are {layer, y}.
  using Part = std::pair<const ColumnParallelLinear*, float*>;
  static void ForwardShared(kernels::DeviceOps& ops, const void* x, int64_t n,
                            std::initializer_list<Part> parts);

 private:
  std::unique_ptr<kernels::Weight> w_;
  std::unique_ptr<kernels::DeviceMemory> bias_;
};

// Input features sliced: residual += all_reduce_sum(x[:, cols] · W[:, cols]ᵀ).
class RowParallelLinear {
 public:
  RowParallelLinear() = default;
  RowParallelLinear(std::unique_ptr<kernels::Weight> w, Communicator& comm)
      : w_(std::move(w)), comm_(&comm) {}

  // x [n, in_cols.size()]; residual [n, out_features()] gets the full sum on
  // every rank. `scratch` holds n * out_features() floats (unused on one rank,
  // where the product is added to the residual directly).
  void Forward(kernels::DeviceOps& ops, const void* x, int64_t n, float* residual,
               float* scratch) const;
  int64_t out_features() const { return w_->rows(); }
  int64_t weight_bytes() const { return w_->bytes(); }
  const kernels::Weight& weight() const { return *w_; }

 private:
  std::unique_ptr<kernels::Weight> w_;
  Communicator* comm_ = nullptr;
};

// Embedding rows sliced by vocabulary: each rank fills the rows it owns, an
// all-reduce assembles the full embeddings.
class VocabParallelEmbedding {
 public:
  VocabParallelEmbedding() = default;
  // `table` holds vocabulary rows `vocab_rows`.
  // The table may be shared with the LM head (tied embeddings).
  VocabParallelEmbedding(std::shared_ptr<const kernels::Weight> table, Range vocab_rows,
                         Communicator& comm)
      : w_(std::move(table)), rows_(vocab_rows), comm_(&comm) {}

  // The step's tokens → out [n_tokens, hidden] fp32.
  void Forward(kernels::DeviceOps& ops, int64_t n_tokens, float* out) const;
  int64_t weight_bytes() const { return w_->bytes(); }

 private:
  std::shared_ptr<const kernels::Weight> w_;
  Range rows_;
  Communicator* comm_ = nullptr;
};

// LM head sliced by vocabulary. Each rank computes logits for its rows and
// they are gathered (not reduced) on rank 0: a gather moves V floats per
// token in all, a reduce would move V per rank.
class ParallelLmHead {
 public:
  ParallelLmHead() = default;
  // `w` holds rank comm.rank()'s rows of vocab_rows_of_rank.
  ParallelLmHead(std::shared_ptr<const kernels::Weight> w, std::vector<Range> vocab_rows_of_rank,
                 Communicator& comm)
      : w_(std::move(w)), rows_of_rank_(std::move(vocab_rows_of_rank)), comm_(&comm) {}

  // h [n, hidden] → local [n, this rank's rows] fp32 (no communication, so a
  // recorded step can end here).
  void Forward(kernels::DeviceOps& ops, const void* h, int64_t n, float* local) const;
  // Collective: every rank's `local` [n, its rows] → on rank 0, host
  // `logits` [n, vocab]; elsewhere `logits` is untouched.
  void Gather(kernels::DeviceOps& ops, const float* local, int64_t n, float* logits);
  int64_t weight_bytes() const { return w_->bytes(); }
  int64_t local_rows() const { return w_->rows(); }
  const kernels::Weight& weight() const { return *w_; }

 private:
  std::shared_ptr<const kernels::Weight> w_;
  std::vector<Range> rows_of_rank_;
  Communicator* comm_ = nullptr;
  std::unique_ptr<kernels::DeviceMemory> gathered_;  // rank 0: [r][n][V_r] on the device
  std::vector<float> host_;                          // rank 0: the same on the host
  std::vector<int> counts_;
};

}  // namespace gs
