#include "core/weight_source.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/gguf_source.h"
#include "core/safetensors_source.h"

namespace gs {

namespace {

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

bool HasGgufMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

StatusOr<std::unique_ptr<WeightSource>> WeightSource::Open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::unique_ptr<WeightSource> src;
  if (fs::is_directory(path, ec)) {
    GS_ASSIGN_OR_RETURN(src, SafetensorsSource::Open(path));
  } else if (!fs::exists(path, ec)) {
    return Status::NotFound(path + ": no such file or directory");
  } else if (path.ends_with(".gguf") || HasGgufMagic(path)) {
    GS_ASSIGN_OR_RETURN(src, GgufSource::Open(path));
  } else {
    return Status::InvalidArgument(path +
                                   ": not a model (expected a Hugging Face directory with "
                                   "config.json and safetensors, or a .gguf file)");
  }
  GS_RETURN_IF_ERROR(CheckModelTensors(*src));
  return src;
}

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
