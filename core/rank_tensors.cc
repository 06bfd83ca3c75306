#include "core/rank_tensors.h"

#include "kernels/weight_matrix.h"

namespace gs {

DType RankTensor::Resident(DType stored) const {
  return ResidentDType(stored, matrix);
}

std::vector<RankTensor> RankTensors(const ModelConfig& c, const RankShard& s) {
  const int64_t hd = c.head_dim;
  const Range q_rows{s.q_heads.begin * hd, s.q_heads.end * hd};
  const Range kv_rows{s.kv_groups.begin * hd, s.kv_groups.end * hd};
  const Range all_h{0, c.hidden_size};
  const Range one{0, 1};
  std::vector<RankTensor> out;
  auto matrix = [&](TensorRole role, int il, std::string name, Range rows, Range cols) {
    out.push_back({role, il, std::move(name), rows, cols, /*matrix=*/true});
  };
  auto vector = [&](TensorRole role, int il, std::string name, Range elems) {
    out.push_back({role, il, std::move(name), one, elems, /*matrix=*/false});
  };
  for (int il = 0; il < c.n_layers; ++il) {
    const std::string p = "model.layers." + std::to_string(il) + ".";
    vector(TensorRole::kAttnNorm, il, p + "input_layernorm.weight", all_h);
    vector(TensorRole::kMlpNorm, il, p + "post_attention_layernorm.weight", all_h);
    // Column-parallel: output rows of this rank's heads, groups and I-range.
    matrix(TensorRole::kQ, il, p + "self_attn.q_proj.weight", q_rows, all_h);
    matrix(TensorRole::kK, il, p + "self_attn.k_proj.weight", kv_rows, all_h);
    matrix(TensorRole::kV, il, p + "self_attn.v_proj.weight", kv_rows, all_h);
    if (c.attn_bias) {
      vector(TensorRole::kQBias, il, p + "self_attn.q_proj.bias", q_rows);
      vector(TensorRole::kKBias, il, p + "self_attn.k_proj.bias", kv_rows);
      vector(TensorRole::kVBias, il, p + "self_attn.v_proj.bias", kv_rows);
    }
    matrix(TensorRole::kGate, il, p + "mlp.gate_proj.weight", s.mlp_cols, all_h);
    matrix(TensorRole::kUp, il, p + "mlp.up_proj.weight", s.mlp_cols, all_h);
    // Row-parallel: input columns of the same heads and I-range.
    matrix(TensorRole::kO, il, p + "self_attn.o_proj.weight", all_h, q_rows);
    matrix(TensorRole::kDown, il, p + "mlp.down_proj.weight", all_h, s.mlp_cols);
  }
  matrix(TensorRole::kEmbedding, -1, "model.embed_tokens.weight", s.vocab_rows, all_h);
  vector(TensorRole::kFinalNorm, -1, "model.norm.weight", all_h);
  matrix(TensorRole::kLmHead, -1,
         c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight", s.vocab_rows,
         all_h);
  return out;
}

}  // namespace gs
