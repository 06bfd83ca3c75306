// The shard plan: which KV groups, query heads, MLP columns and vocabulary
// rows each tensor-parallel rank owns. A value computed once from
// (ModelShape, tp_size); the loader, the layers, the KV cache and the `plan`
// command all read it and nobody recomputes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/range.h"
#include "kernels/status.h"
#include "parallel/model_shape.h"

namespace gs {

struct RankShard {
  int tp_rank = 0;
  Range kv_groups;   // global KV group ids whose K/V this rank projects and caches
  Range q_heads;     // global query head ids computed on this rank
  Range mlp_cols;    // columns of the MLP intermediate dimension I
  Range vocab_rows;  // rows of the embedding and LM head

  int n_local_heads() const { return static_cast<int>(q_heads.size()); }
  int n_local_groups() const { return static_cast<int>(kv_groups.size()); }
};

class ShardPlan {
 public:
  // Elements of I are split in multiples of this, so a row-parallel slice of
  // the down projection starts on a quantization block (Q8_0/Q4_0/Q4_1).
  static constexpr int kMlpAlign = 32;

  // Refuses an impossible tp_size with a message listing the sizes that work.
  static StatusOr<ShardPlan> Make(const ModelShape& shape, int tp_size);
  // Every tp_size in [1, n_heads] that Make accepts.
  static std::vector<int> ValidTpSizes(const ModelShape& shape);

  int tp_size() const { return static_cast<int>(ranks_.size()); }
  const RankShard& rank(int r) const { return ranks_.at(r); }
  const std::vector<RankShard>& ranks() const { return ranks_; }
  // How many ranks cache each KV group (P/G when G < P, else 1).
  int kv_replication() const { return kv_replication_; }
  // Local group index (within rank r's kv_groups) of rank r's local head j.
  int LocalGroupOfHead(int r, int j) const;
  const ModelShape& shape() const { return shape_; }
  // K and V bytes one token of context occupies on rank r with a cache of
  // `kv_dtype` (KvBytesPerToken with its groups).
  int64_t KvBytesPerToken(int r, DType kv_dtype) const;

 private:
  ModelShape shape_;
  std::vector<RankShard> ranks_;
  int kv_replication_ = 1;
};

// K and V bytes one token of context occupies in a cache holding `n_groups`
// KV groups of every layer, each row of head_dim elements stored in
// `kv_dtype`: 2 · L · n_groups · RowBytes(kv_dtype, hd). Per row, not per
// element: a Q8_0 row is 34 bytes per 32 elements. The one formula for
// KV-cache sizes.
inline int64_t KvBytesPerToken(const ModelShape& shape, int n_groups, DType kv_dtype) {
  return 2LL * shape.n_layers * n_groups * RowBytes(kv_dtype, shape.head_dim);
}

// Splits [0, n) into `parts` contiguous ranges whose sizes differ by at most
// `align` units and start on multiples of `align` (the last may end unaligned).
std::vector<Range> SplitEven(int64_t n, int parts, int64_t align = 1);

}  // namespace gs
