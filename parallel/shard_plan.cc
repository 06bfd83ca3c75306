#include "parallel/shard_plan.h"

#include <sstream>

#include "kernels/check.h"

namespace gs {

std::vector<Range> SplitEven(int64_t n, int parts, int64_t align) {
  CHECK(parts > 0 && align > 0);
  const int64_t units = (n + align - 1) / align;
  std::vector<Range> out;
  int64_t begin_unit = 0;
  for (int p = 0; p < parts; ++p) {
    const int64_t count = units / parts + (p < units % parts ? 1 : 0);
    const int64_t b = std::min(n, begin_unit * align);
    const int64_t e = std::min(n, (begin_unit + count) * align);
    out.push_back({b, e});
    begin_unit += count;
  }
  return out;
}

namespace {

bool TpSizeWorks(const ModelShape& c, int p) {
  if (p < 1 || p > c.n_heads) return false;
  if (c.n_kv_heads >= p) return true;
  if (p % c.n_kv_heads != 0) return false;
  const int replicas = p / c.n_kv_heads;
  return c.group_size() % replicas == 0;
}

}  // namespace

std::vector<int> ShardPlan::ValidTpSizes(const ModelShape& config) {
  std::vector<int> out;
  for (int p = 1; p <= config.n_heads; ++p) {
    if (TpSizeWorks(config, p)) out.push_back(p);
  }
  return out;
}

StatusOr<ShardPlan> ShardPlan::Make(const ModelShape& config, int tp_size) {
  GS_RETURN_IF_ERROR(config.Validate());
  if (!TpSizeWorks(config, tp_size)) {
    std::ostringstream msg;
    msg << "tensor-parallel size " << tp_size << " does not fit " << config.n_heads
        << " query heads in " << config.n_kv_heads << " KV groups (";
    if (tp_size > config.n_heads) {
      msg << "more ranks than query heads";
    } else {
      msg << "with fewer groups than ranks, the rank count must be a multiple of the group count"
          << " and the " << config.group_size() << " heads of a group must split evenly";
    }
    msg << "); sizes that work:";
    for (int p : ValidTpSizes(config)) msg << " " << p;
    return Status::InvalidArgument(msg.str());
  }
  ShardPlan plan;
  plan.shape_ = config;
  const int G = config.n_kv_heads;
  const int gs = config.group_size();
  // Block-aligned when there are enough blocks for every rank; otherwise a
  // quantized down projection cannot be cut and loading says so.
  const int64_t mlp_align =
      config.intermediate_size % kMlpAlign == 0 && config.intermediate_size / kMlpAlign >= tp_size
          ? kMlpAlign
          : 1;
  std::vector<Range> mlp = SplitEven(config.intermediate_size, tp_size, mlp_align);
  std::vector<Range> vocab = SplitEven(config.vocab_size, tp_size);
  if (G >= tp_size) {
    std::vector<Range> groups = SplitEven(G, tp_size);
    for (int r = 0; r < tp_size; ++r) {
      RankShard s;
      s.tp_rank = r;
      s.kv_groups = groups[r];
      s.q_heads = {groups[r].begin * gs, groups[r].end * gs};
      s.mlp_cols = mlp[r];
      s.vocab_rows = vocab[r];
      plan.ranks_.push_back(s);
    }
  } else {
    const int replicas = tp_size / G;
    const int heads_per_rank = gs / replicas;
    plan.kv_replication_ = replicas;
    for (int r = 0; r < tp_size; ++r) {
      RankShard s;
      s.tp_rank = r;
      const int g = r / replicas;
      const int part = r % replicas;
      s.kv_groups = {g, g + 1};
      s.q_heads = {g * gs + part * heads_per_rank, g * gs + (part + 1) * heads_per_rank};
      s.mlp_cols = mlp[r];
      s.vocab_rows = vocab[r];
      plan.ranks_.push_back(s);
    }
  }
  for (const RankShard& s : plan.ranks_) {
    if (s.mlp_cols.size() == 0) {
      return Status::InvalidArgument("tensor-parallel size " + std::to_string(tp_size) +
                                     " leaves a rank without MLP columns");
    }
  }
  return plan;
}

int ShardPlan::LocalGroupOfHead(int r, int j) const {
  const RankShard& s = ranks_.at(r);
  const int global_head = static_cast<int>(s.q_heads.begin) + j;
  return global_head / shape_.group_size() - static_cast<int>(s.kv_groups.begin);
}

int64_t ShardPlan::KvBytesPerToken(int r, DType kv_dtype) const {
  return gs::KvBytesPerToken(shape_, rank(r).n_local_groups(), kv_dtype);
}

}  // namespace gs
