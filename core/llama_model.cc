#include "core/llama_model.h"

#include <cmath>
#include <string>

#include "core/check.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/rms_norm.h"
#include "kernels/rope.h"

namespace gs {

namespace {
std::string LayerPrefix(int il) { return "model.layers." + std::to_string(il) + "."; }
}  // namespace

StatusOr<std::unique_ptr<LlamaModel>> LlamaModel::Load(const WeightSource& src,
                                                       const ShardPlan& plan,
                                                       Communicator& comm) {
  CHECK_EQ(plan.tp_size(), comm.size());
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  m->config_ = src.config();
  m->shard_ = plan.rank(comm.rank());
  const ModelConfig& c = m->config_;
  const RankShard& s = m->shard_;
  const int64_t hd = c.head_dim;
  for (int j = 0; j < s.n_local_heads(); ++j) {
    m->head_group_.push_back(plan.LocalGroupOfHead(comm.rank(), j));
  }
  std::vector<float> freq_factors;
  if (const TensorInfo* rf = src.Find("rope_freqs.weight")) {
    GS_ASSIGN_OR_RETURN(freq_factors, LoadVector(src, "rope_freqs.weight", {0, rf->cols()}));
  }
  m->inv_freq_ = kernels::RopeInvFreq(c, freq_factors);

  const Range q_rows{s.q_heads.begin * hd, s.q_heads.end * hd};
  const Range kv_rows{s.kv_groups.begin * hd, s.kv_groups.end * hd};
  const Range all_h{0, c.hidden_size};
  for (int il = 0; il < c.n_layers; ++il) {
    const std::string p = LayerPrefix(il);
    GS_ASSIGN_OR_RETURN(auto attn_norm, LoadVector(src, p + "input_layernorm.weight", all_h));
    GS_ASSIGN_OR_RETURN(auto mlp_norm,
                        LoadVector(src, p + "post_attention_layernorm.weight", all_h));
    GS_ASSIGN_OR_RETURN(auto q, ColumnParallelLinear::Load(src, p + "self_attn.q_proj", q_rows,
                                                           c.attn_bias));
    GS_ASSIGN_OR_RETURN(auto k, ColumnParallelLinear::Load(src, p + "self_attn.k_proj", kv_rows,
                                                           c.attn_bias));
    GS_ASSIGN_OR_RETURN(auto v, ColumnParallelLinear::Load(src, p + "self_attn.v_proj", kv_rows,
                                                           c.attn_bias));
    GS_ASSIGN_OR_RETURN(auto o, RowParallelLinear::Load(src, p + "self_attn.o_proj", q_rows, comm));
    GS_ASSIGN_OR_RETURN(auto gate,
                        ColumnParallelLinear::Load(src, p + "mlp.gate_proj", s.mlp_cols, false));
    GS_ASSIGN_OR_RETURN(auto up,
                        ColumnParallelLinear::Load(src, p + "mlp.up_proj", s.mlp_cols, false));
    GS_ASSIGN_OR_RETURN(auto down, RowParallelLinear::Load(src, p + "mlp.down_proj", s.mlp_cols,
                                                           comm));
    Layer layer{std::move(attn_norm), std::move(mlp_norm), std::move(q), std::move(k),
                std::move(v),         std::move(gate),     std::move(up), std::move(o),
                std::move(down)};
    m->bytes_.layers += static_cast<int64_t>(
        (layer.attn_norm.size() + layer.mlp_norm.size()) * sizeof(float));
    m->bytes_.layers += layer.q.weight_bytes() + layer.k.weight_bytes() + layer.v.weight_bytes() +
                        layer.o.weight_bytes() + layer.gate.weight_bytes() +
                        layer.up.weight_bytes() + layer.down.weight_bytes();
    m->layers_.push_back(std::move(layer));
  }
  GS_ASSIGN_OR_RETURN(auto embed, VocabParallelEmbedding::Load(src, "model.embed_tokens.weight",
                                                               s.vocab_rows, comm));
  m->embed_ = std::make_unique<VocabParallelEmbedding>(std::move(embed));
  GS_ASSIGN_OR_RETURN(m->final_norm_, LoadVector(src, "model.norm.weight", all_h));
  std::vector<Range> vocab_of_rank;
  for (const RankShard& r : plan.ranks()) vocab_of_rank.push_back(r.vocab_rows);
  const std::string head_name =
      c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  GS_ASSIGN_OR_RETURN(auto head, ParallelLmHead::Load(src, head_name, vocab_of_rank, comm));
  m->lm_head_ = std::make_unique<ParallelLmHead>(std::move(head));
  m->bytes_.embedding = m->embed_->weight_bytes();
  m->bytes_.lm_head = m->lm_head_->weight_bytes();
  m->bytes_.final_norm = static_cast<int64_t>(m->final_norm_.size() * sizeof(float));
  return m;
}

void LlamaModel::SetThreads(int n_threads) {
  pool_.reset();
  if (n_threads > 1) pool_ = std::make_unique<ThreadPool>(n_threads);
}

std::unique_ptr<KvCache> LlamaModel::MakeKvCache(int n_blocks, int block_size) const {
  return std::make_unique<KvCache>(config_.n_layers, n_blocks, block_size,
                                   shard_.n_local_groups(), config_.head_dim);
}

void LlamaModel::EnsureScratch(int64_t n, int64_t n_logits) {
  const ModelConfig& c = config_;
  auto grow = [](std::vector<float>& v, int64_t size) {
    if (static_cast<int64_t>(v.size()) < size) v.resize(size);
  };
  grow(x_, n * c.hidden_size);
  grow(h_, n * c.hidden_size);
  grow(q_, n * shard_.n_local_heads() * c.head_dim);
  grow(attn_, n * shard_.n_local_heads() * c.head_dim);
  grow(k_, n * shard_.n_local_groups() * c.head_dim);
  grow(v_, n * shard_.n_local_groups() * c.head_dim);
  grow(gate_, n * shard_.mlp_cols.size());
  grow(up_, n * shard_.mlp_cols.size());
  grow(hl_, n_logits * c.hidden_size);
}

void LlamaModel::Forward(const ModelInput& in, KvCache& cache, float* logits) {
  const ModelConfig& c = config_;
  const int64_t n = in.n_tokens();
  const int64_t H = c.hidden_size;
  const int nh = shard_.n_local_heads();
  const int ng = shard_.n_local_groups();
  const int64_t I_r = shard_.mlp_cols.size();
  EnsureScratch(n, static_cast<int64_t>(in.logit_rows.size()));
  float* x = x_.data();
  float* h = h_.data();
  ThreadPool* pool = pool_.get();

  embed_->Forward(in.tokens.data(), n, x);
  kernels::AttentionBatch batch;
  batch.n_tokens = n;
  batch.positions = in.positions.data();
  batch.token_seq = in.token_seq.data();
  batch.block_tables = in.block_tables.data();
  batch.max_blocks = in.max_blocks;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

  for (int il = 0; il < c.n_layers; ++il) {
    Layer& L = layers_[il];
    // Attention block: column-parallel QKV on local heads/groups, row-parallel O.
    kernels::RmsNorm(x, L.attn_norm.data(), n, H, c.rms_norm_eps, h);
    // q [n, nh, hd], k and v [n, ng, hd]
    ColumnParallelLinear::ForwardShared(h, n, {{&L.q, q_.data()}, {&L.k, k_.data()}, {&L.v, v_.data()}},
                                        pool, act_);
    kernels::RopeApply(q_.data(), n, nh, c.head_dim, in.positions.data(), inv_freq_);
    kernels::RopeApply(k_.data(), n, ng, c.head_dim, in.positions.data(), inv_freq_);
    if (observer_) observer_(il, q_.data(), k_.data(), n);
    kernels::KvLayerView kv = cache.layer(il);
    kernels::KvAppend(k_.data(), v_.data(), n, in.slots.data(), kv);
    kernels::PagedAttention(q_.data(), kv, batch, head_group_.data(), nh, scale, attn_.data(),
                            pool);
    L.o.Forward(attn_.data(), n, h, pool, act_);  // all-reduce #1
    for (int64_t i = 0; i < n * H; ++i) x[i] += h[i];
    // MLP block: column-parallel gate/up on this rank's I-range, row-parallel down.
    kernels::RmsNorm(x, L.mlp_norm.data(), n, H, c.rms_norm_eps, h);
    ColumnParallelLinear::ForwardShared(h, n, {{&L.gate, gate_.data()}, {&L.up, up_.data()}},
                                        pool, act_);
    kernels::SiluMul(gate_.data(), up_.data(), n * I_r, gate_.data());
    L.down.Forward(gate_.data(), n, h, pool, act_);  // all-reduce #2
    for (int64_t i = 0; i < n * H; ++i) x[i] += h[i];
  }
  const int64_t nl = static_cast<int64_t>(in.logit_rows.size());
  if (nl == 0) return;
  for (int64_t j = 0; j < nl; ++j) {
    kernels::RmsNorm(x + static_cast<int64_t>(in.logit_rows[j]) * H, final_norm_.data(), 1, H,
                     c.rms_norm_eps, hl_.data() + j * H);
  }
  lm_head_->Forward(hl_.data(), nl, logits, pool, act_);
}

}  // namespace gs
