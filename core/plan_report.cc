#include "core/plan_report.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <sstream>

#include "core/rank_tensors.h"

namespace gs {

namespace {

std::string Human(int64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", b / (1024.0 * 1024 * 1024));
  } else if (b >= 1024.0 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.2f MiB", b / (1024.0 * 1024));
  } else if (b >= 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.2f KiB", b / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%lld B", static_cast<long long>(bytes));
  }
  return buf;
}

std::string RangeText(Range r) {
  if (r.size() == 1) return std::to_string(r.begin);
  return std::to_string(r.begin) + "-" + std::to_string(r.end - 1);
}

}  // namespace

int64_t PlanReport::kv_bytes_per_token() const {
  return KvBytesPerToken(config, config.n_kv_heads, kv_dtype);
}
int64_t PlanReport::mha_kv_bytes_per_token() const {
  return KvBytesPerToken(config, config.n_heads, kv_dtype);
}
int64_t PlanReport::total_weight_bytes() const {
  int64_t t = 0;
  for (const RankReport& r : ranks) t += r.weights.total();
  return t;
}

int64_t KvCapacity::sequences(int64_t context) const {
  const int64_t per_seq = (context + budget.block_size - 1) / budget.block_size;
  return per_seq > 0 ? n_blocks / per_seq : 0;
}

KvCapacity PlanKvCapacity(const PlanReport& r, const KvBudget& budget) {
  KvCapacity cap;
  cap.budget = budget;
  int64_t least = -1;
  for (const RankReport& rr : r.ranks) {
    RankCapacity rc;
    rc.scratch_bytes = LlamaModel::ScratchBytes(r.config, rr.shard, DType::kF32,
                                                budget.max_batch_tokens, budget.max_logit_rows);
    // Rank 0 samples from the whole vocabulary's logits (Engine's host buffer).
    if (rr.shard.tp_rank == 0) {
      rc.scratch_bytes += static_cast<int64_t>(budget.max_logit_rows) * r.config.vocab_size *
                          static_cast<int64_t>(sizeof(float));
    }
    rc.kv_budget_bytes = budget.memory_per_rank - rr.weights.total() - rc.scratch_bytes;
    rc.block_bytes = rr.kv_bytes_per_token * budget.block_size;
    rc.blocks = rc.kv_budget_bytes > 0 && rc.block_bytes > 0
                    ? rc.kv_budget_bytes / rc.block_bytes
                    : 0;
    if (least < 0 || rc.blocks < least) {
      least = rc.blocks;
      cap.limiting_rank = rr.shard.tp_rank;
    }
    cap.ranks.push_back(rc);
  }
  cap.n_blocks = static_cast<int>(std::min<int64_t>(std::max<int64_t>(least, 0), INT32_MAX));
  return cap;
}

StatusOr<PlanReport> MakePlanReport(const WeightSource& src, int tp_size, DType kv_dtype) {
  GS_ASSIGN_OR_RETURN(ShardPlan plan, ShardPlan::Make(src.config(), tp_size));
  PlanReport rep;
  rep.config = src.config();
  rep.tp_size = tp_size;
  rep.kv_dtype = kv_dtype;
  rep.kv_replication = plan.kv_replication();
  for (const RankShard& s : plan.ranks()) {
    RankReport rr;
    rr.shard = s;
    // The tensors LlamaModel::Load reads for this rank, in the dtypes the CPU
    // keeps them in.
    for (const RankTensor& t : RankTensors(rep.config, s)) {
      const TensorInfo* info = src.Find(t.name);
      if (info == nullptr) continue;
      // A tied table is kept once and read every step: the LM head's.
      if (t.role == TensorRole::kEmbedding && rep.config.tie_word_embeddings) continue;
      const int64_t bytes = t.rows.size() * RowBytes(t.Resident(info->dtype), t.cols.size());
      switch (t.role) {
        case TensorRole::kEmbedding: rr.weights.embedding += bytes; break;
        case TensorRole::kLmHead: rr.weights.lm_head += bytes; break;
        case TensorRole::kFinalNorm: rr.weights.final_norm += bytes; break;
        default: rr.weights.layers += bytes;
      }
    }
    rr.kv_bytes_per_token = plan.KvBytesPerToken(s.tp_rank, rep.kv_dtype);
    rep.ranks.push_back(rr);
  }
  return rep;
}

std::string FormatPlanText(const PlanReport& r, int64_t context, int64_t batch,
                           const KvCapacity* capacity) {
  const ModelConfig& c = r.config;
  std::ostringstream o;
  o << "model: " << c.arch << ", " << c.n_layers << " layers, hidden " << c.hidden_size
    << ", head_dim " << c.head_dim << ", MLP " << c.intermediate_size << ", vocab "
    << c.vocab_size << "\n";
  o << "attention: N=" << c.n_heads << " query heads, G=" << c.n_kv_heads
    << " KV groups, N/G=" << c.group_size() << " ("
    << (c.n_kv_heads == c.n_heads ? "MHA" : c.n_kv_heads == 1 ? "MQA" : "GQA") << ")\n";
  o << "KV cache (" << DTypeLowerName(r.kv_dtype) << "): " << Human(r.kv_bytes_per_token())
    << " per token (2*" << c.n_layers << "*" << c.n_kv_heads << " rows of " << c.head_dim << " in "
    << RowBytes(r.kv_dtype, c.head_dim) << " B)"
    << ", MHA would need " << Human(r.mha_kv_bytes_per_token()) << ": " << c.group_size()
    << "x less; " << context << " tokens x " << batch
    << " sequences: " << Human(r.kv_bytes_per_token() * context * batch) << "\n";
  o << "tensor parallel: P=" << r.tp_size;
  if (r.kv_replication > 1) o << ", each KV group cached on " << r.kv_replication << " ranks";
  o << "\n";
  o << "rank  groups  q_heads  mlp_cols     vocab_rows    weights      KV/token   KV(" << context
    << "x" << batch << ")\n";
  for (const RankReport& rr : r.ranks) {
    char line[256];
    std::snprintf(line, sizeof(line), "%-5d %-7s %-8s %-12s %-13s %-12s %-10s %s\n",
                  rr.shard.tp_rank, RangeText(rr.shard.kv_groups).c_str(),
                  RangeText(rr.shard.q_heads).c_str(), RangeText(rr.shard.mlp_cols).c_str(),
                  RangeText(rr.shard.vocab_rows).c_str(), Human(rr.weights.total()).c_str(),
                  Human(rr.kv_bytes_per_token).c_str(),
                  Human(rr.kv_bytes_per_token * context * batch).c_str());
    o << line;
  }
  int64_t kv_total = 0;
  for (const RankReport& rr : r.ranks) kv_total += rr.kv_bytes_per_token;
  o << "total weights " << Human(r.total_weight_bytes()) << ", KV " << Human(kv_total)
    << " per token over all ranks\n";
  if (capacity == nullptr) return o.str();
  const KvCapacity& cap = *capacity;
  const KvBudget& b = cap.budget;
  o << "\nKV capacity with " << Human(b.memory_per_rank) << " per rank (" << DTypeLowerName(r.kv_dtype)
    << " cache, blocks of " << b.block_size << " tokens, steps of up to " << b.max_batch_tokens
    << " tokens and " << b.max_logit_rows << " logit rows):\n";
  o << "rank  weights      scratch      left for KV    KV/block     blocks\n";
  for (size_t i = 0; i < cap.ranks.size(); ++i) {
    const RankCapacity& rc = cap.ranks[i];
    char line[256];
    std::snprintf(line, sizeof(line), "%-5zu %-12s %-12s %-14s %-12s %lld\n", i,
                  Human(r.ranks[i].weights.total()).c_str(), Human(rc.scratch_bytes).c_str(),
                  rc.kv_budget_bytes >= 0 ? Human(rc.kv_budget_bytes).c_str()
                                          : ("-" + Human(-rc.kv_budget_bytes)).c_str(),
                  Human(rc.block_bytes).c_str(), static_cast<long long>(rc.blocks));
    o << line;
  }
  if (cap.n_blocks == 0) {
    o << "does not fit: rank " << cap.limiting_rank << " has no room for one KV block of "
      << Human(cap.ranks[cap.limiting_rank].block_bytes) << "\n";
    return o.str();
  }
  o << "every rank: " << cap.n_blocks << " blocks (set by rank " << cap.limiting_rank
    << ") = " << cap.tokens() << " tokens of context, " << cap.sequences(context)
    << " sequences of " << context << " tokens; KV cache " << Human(cap.kv_bytes(0))
    << " on rank 0\n";
  return o.str();
}

nlohmann::json PlanJson(const PlanReport& r, int64_t context, int64_t batch,
                        const KvCapacity* capacity) {
  const ModelConfig& c = r.config;
  nlohmann::json j;
  j["arch"] = c.arch;
  j["n_layers"] = c.n_layers;
  j["hidden_size"] = c.hidden_size;
  j["n_heads"] = c.n_heads;
  j["n_kv_heads"] = c.n_kv_heads;
  j["group_size"] = c.group_size();
  j["head_dim"] = c.head_dim;
  j["intermediate_size"] = c.intermediate_size;
  j["vocab_size"] = c.vocab_size;
  j["kv_dtype"] = DTypeLowerName(r.kv_dtype);
  j["kv_bytes_per_token"] = r.kv_bytes_per_token();
  j["mha_kv_bytes_per_token"] = r.mha_kv_bytes_per_token();
  j["kv_reduction_vs_mha"] = c.group_size();
  j["context"] = context;
  j["batch"] = batch;
  j["kv_bytes_context_batch"] = r.kv_bytes_per_token() * context * batch;
  j["tp_size"] = r.tp_size;
  j["kv_replication"] = r.kv_replication;
  j["weight_bytes"] = r.total_weight_bytes();
  nlohmann::json ranks = nlohmann::json::array();
  for (const RankReport& rr : r.ranks) {
    const RankShard& s = rr.shard;
    ranks.push_back({{"rank", s.tp_rank},
                     {"kv_groups", {s.kv_groups.begin, s.kv_groups.end}},
                     {"q_heads", {s.q_heads.begin, s.q_heads.end}},
                     {"mlp_cols", {s.mlp_cols.begin, s.mlp_cols.end}},
                     {"vocab_rows", {s.vocab_rows.begin, s.vocab_rows.end}},
                     {"weight_bytes", rr.weights.total()},
                     {"layer_weight_bytes", rr.weights.layers},
                     {"kv_bytes_per_token", rr.kv_bytes_per_token},
                     {"kv_bytes_context_batch", rr.kv_bytes_per_token * context * batch}});
  }
  if (capacity != nullptr) {
    const KvCapacity& cap = *capacity;
    for (size_t i = 0; i < cap.ranks.size(); ++i) {
      const RankCapacity& rc = cap.ranks[i];
      ranks[i]["scratch_bytes"] = rc.scratch_bytes;
      ranks[i]["kv_budget_bytes"] = rc.kv_budget_bytes;
      ranks[i]["kv_block_bytes"] = rc.block_bytes;
      ranks[i]["kv_blocks_fit"] = rc.blocks;
      ranks[i]["kv_cache_bytes"] = cap.kv_bytes(static_cast<int>(i));
    }
    j["capacity"] = {{"memory_per_rank", cap.budget.memory_per_rank},
                     {"block_size", cap.budget.block_size},
                     {"max_batch_tokens", cap.budget.max_batch_tokens},
                     {"max_logit_rows", cap.budget.max_logit_rows},
                     {"kv_blocks", cap.n_blocks},
                     {"limiting_rank", cap.limiting_rank},
                     {"kv_tokens", cap.tokens()},
                     {"sequences", cap.sequences(context)}};
  }
  j["ranks"] = ranks;
  return j;
}

}  // namespace gs
