// What every WeightSource shares: the tensor-shape check. WeightSource::Open,
// which picks an implementation, lives in weight_source_open.cc.
#include "core/weight_source.h"

#include <string>
#include <vector>

namespace gs {

namespace {

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

Status CheckModelTensors(const WeightSource& src) {
  const ModelConfig& c = src.config();
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t q_rows = int64_t{c.n_heads} * c.head_dim;
  const int64_t kv_rows = int64_t{c.n_kv_heads} * c.head_dim;
  auto expect = [&](const std::string& name, std::vector<int64_t> shape) -> Status {
    const TensorInfo* t = src.Find(name);
    if (t == nullptr) {
      return Status::NotFound(src.path() + ": missing tensor " + name + " (expected shape " +
                              ShapeText(shape) + ")");
    }
    if (t->shape != shape) {
      return Status::InvalidArgument(src.path() + ": tensor " + name + " has shape " +
                                     ShapeText(t->shape) + ", the config implies " +
                                     ShapeText(shape));
    }
    return Status::Ok();
  };
  GS_RETURN_IF_ERROR(expect("model.embed_tokens.weight", {V, H}));
  for (int il = 0; il < c.n_layers; ++il) {
    const std::string p = "model.layers." + std::to_string(il) + ".";
    GS_RETURN_IF_ERROR(expect(p + "input_layernorm.weight", {H}));
    GS_RETURN_IF_ERROR(expect(p + "self_attn.q_proj.weight", {q_rows, H}));
    GS_RETURN_IF_ERROR(expect(p + "self_attn.k_proj.weight", {kv_rows, H}));
    GS_RETURN_IF_ERROR(expect(p + "self_attn.v_proj.weight", {kv_rows, H}));
    GS_RETURN_IF_ERROR(expect(p + "self_attn.o_proj.weight", {H, q_rows}));
    if (c.attn_bias) {
      GS_RETURN_IF_ERROR(expect(p + "self_attn.q_proj.bias", {q_rows}));
      GS_RETURN_IF_ERROR(expect(p + "self_attn.k_proj.bias", {kv_rows}));
      GS_RETURN_IF_ERROR(expect(p + "self_attn.v_proj.bias", {kv_rows}));
    }
    GS_RETURN_IF_ERROR(expect(p + "post_attention_layernorm.weight", {H}));
    GS_RETURN_IF_ERROR(expect(p + "mlp.gate_proj.weight", {I, H}));
    GS_RETURN_IF_ERROR(expect(p + "mlp.up_proj.weight", {I, H}));
    GS_RETURN_IF_ERROR(expect(p + "mlp.down_proj.weight", {H, I}));
  }
  GS_RETURN_IF_ERROR(expect("model.norm.weight", {H}));
  if (!c.tie_word_embeddings) GS_RETURN_IF_ERROR(expect("lm_head.weight", {V, H}));
  return Status::Ok();
}

}  // namespace gs
