#include "core/gguf_source.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "core/tensor_slice.h"

namespace gs {

namespace {

// Reads typed metadata, with errors naming the file and the key.
class MetaReader {
 public:
  explicit MetaReader(const GgufFile& f) : f_(f) {}

  Status Int(const std::string& key, bool required, int* out) const {
    const GgufValue* v = f_.Get(key);
    if (v == nullptr) return required ? Missing(key) : Status::Ok();
    if (v->type != GgufValue::Type::kInt || v->i < INT32_MIN || v->i > INT32_MAX) {
      return Status::Corruption(f_.path() + ": key " + key + " must be an integer");
    }
    *out = static_cast<int>(v->i);
    return Status::Ok();
  }
  Status Float(const std::string& key, bool required, float* out) const {
    const GgufValue* v = f_.Get(key);
    if (v == nullptr) return required ? Missing(key) : Status::Ok();
    if (v->type != GgufValue::Type::kFloat && v->type != GgufValue::Type::kInt) {
      return Status::Corruption(f_.path() + ": key " + key + " must be a number");
    }
    *out = static_cast<float>(v->f);
    return Status::Ok();
  }
  Status String(const std::string& key, std::string* out) const {
    const GgufValue* v = f_.Get(key);
    if (v == nullptr) return Missing(key);
    if (v->type != GgufValue::Type::kString) {
      return Status::Corruption(f_.path() + ": key " + key + " must be a string");
    }
    *out = v->s;
    return Status::Ok();
  }
  Status Missing(const std::string& key) const {
    return Status::NotFound(f_.path() + ": missing metadata key " + key);
  }

 private:
  const GgufFile& f_;
};

}  // namespace

std::string GgufToHfName(const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  // blk.<layer>.<part>.(weight|bias), read without a regex: names come from
  // the file, and a backtracking match recurses once per character.
  constexpr std::string_view kPrefix = "blk.";
  const std::string_view name(g);
  if (name.substr(0, kPrefix.size()) != kPrefix) return "";
  const size_t layer_end = name.find('.', kPrefix.size());
  if (layer_end == std::string_view::npos || layer_end == kPrefix.size() ||
      layer_end - kPrefix.size() > 9) {
    return "";
  }
  const std::string_view layer = name.substr(kPrefix.size(), layer_end - kPrefix.size());
  for (char ch : layer) {
    if (ch < '0' || ch > '9') return "";
  }
  const size_t part_end = name.rfind('.');
  if (part_end <= layer_end) return "";
  const std::string_view part = name.substr(layer_end + 1, part_end - layer_end - 1);
  const std::string_view kind = name.substr(part_end + 1);
  if (kind != "weight" && kind != "bias") return "";
  static const std::pair<const char*, const char*> kLayer[] = {
      {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"},
      {"attn_q", "self_attn.q_proj"},   {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},   {"attn_output", "self_attn.o_proj"},
      {"ffn_gate", "mlp.gate_proj"},    {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  for (const auto& [from, to] : kLayer) {
    if (part == from) {
      return "model.layers." + std::string(layer) + "." + to + "." + std::string(kind);
    }
  }
  return "";
}

int64_t PermutedQkRow(int64_t hf_row, int64_t head_dim) {
  // HF row h*hd + j*(hd/2) + i was written to row h*hd + 2*i + j, turning
  // Hugging Face's rotate-halves RoPE into llama.cpp's adjacent pairs.
  const int64_t half = head_dim / 2;
  const int64_t h = hf_row / head_dim, rem = hf_row % head_dim;
  const int64_t j = rem / half, i = rem % half;
  return h * head_dim + 2 * i + j;
}

StatusOr<std::unique_ptr<GgufSource>> GgufSource::Open(const std::string& path) {
  GS_ASSIGN_OR_RETURN(auto file, GgufFile::Open(path));
  std::unique_ptr<GgufSource> src(new GgufSource());
  src->file_ = std::move(file);
  GS_RETURN_IF_ERROR(src->BuildConfig());
  for (const GgufTensor& t : src->file_->tensors()) GS_RETURN_IF_ERROR(src->AddTensor(t));
  return src;
}

Status GgufSource::BuildConfig() {
  const GgufFile& f = *file_;
  MetaReader r(f);
  ModelConfig& c = config_;
  std::string arch;
  GS_RETURN_IF_ERROR(r.String("general.architecture", &arch));
  if (arch != "llama" && arch != "qwen2") {
    return Status::Unimplemented(f.path() + ": unsupported general.architecture \"" + arch +
                                 "\" (supported: llama, qwen2)");
  }
  c.arch = arch;
  const std::string a = arch + ".";
  GS_RETURN_IF_ERROR(r.Int(a + "embedding_length", true, &c.hidden_size));
  GS_RETURN_IF_ERROR(r.Int(a + "feed_forward_length", true, &c.intermediate_size));
  GS_RETURN_IF_ERROR(r.Int(a + "block_count", true, &c.n_layers));
  GS_RETURN_IF_ERROR(r.Int(a + "attention.head_count", true, &c.n_heads));
  c.n_kv_heads = c.n_heads;
  GS_RETURN_IF_ERROR(r.Int(a + "attention.head_count_kv", false, &c.n_kv_heads));
  if (c.n_heads > 0) c.head_dim = c.hidden_size / c.n_heads;
  GS_RETURN_IF_ERROR(r.Int(a + "attention.key_length", false, &c.head_dim));
  GS_RETURN_IF_ERROR(r.Float(a + "attention.layer_norm_rms_epsilon", true, &c.rms_norm_eps));
  GS_RETURN_IF_ERROR(r.Float(a + "rope.freq_base", false, &c.rope_theta));
  GS_RETURN_IF_ERROR(r.Int(a + "context_length", false, &c.max_position));

  if (f.Get(a + "vocab_size") != nullptr) {
    GS_RETURN_IF_ERROR(r.Int(a + "vocab_size", true, &c.vocab_size));
  } else if (const GgufValue* toks = f.Get("tokenizer.ggml.tokens");
             toks != nullptr && toks->type == GgufValue::Type::kArray) {
    c.vocab_size = static_cast<int>(toks->strs.size());
  } else {
    return r.Missing(a + "vocab_size (nor tokenizer.ggml.tokens)");
  }

  std::string scaling = "none";
  if (f.Get(a + "rope.scaling.type") != nullptr) {
    GS_RETURN_IF_ERROR(r.String(a + "rope.scaling.type", &scaling));
  }
  if (scaling == "linear") {
    c.rope_scaling.type = RopeScaling::Type::kLinear;
    GS_RETURN_IF_ERROR(r.Float(a + "rope.scaling.factor", true, &c.rope_scaling.factor));
  } else if (scaling != "none") {
    return Status::Unimplemented(f.path() + ": unsupported " + a + "rope.scaling.type \"" +
                                 scaling + "\"");
  }
  GS_RETURN_IF_ERROR(r.Int("tokenizer.ggml.bos_token_id", false, &c.bos_id));
  if (f.Get("tokenizer.ggml.eos_token_id") != nullptr) {
    int eos = -1;
    GS_RETURN_IF_ERROR(r.Int("tokenizer.ggml.eos_token_id", true, &eos));
    c.eos_ids.push_back(eos);
  }
  c.tie_word_embeddings = f.FindTensor("output.weight") == nullptr;
  c.attn_bias = arch == "qwen2" || f.FindTensor("blk.0.attn_q.bias") != nullptr;

  Status v = c.Validate();
  if (!v.ok()) return Status(v.code(), f.path() + ": " + v.message());
  return Status::Ok();
}

Status GgufSource::AddTensor(const GgufTensor& t) {
  Entry e;
  e.stored = &t;
  e.info.name = GgufToHfName(t.name);
  if (e.info.name.empty()) e.info.name = t.name;
  e.info.dtype = t.dtype;
  e.info.shape.assign(t.ne.rbegin(), t.ne.rend());
  if (config_.arch == "llama") {
    const bool q = t.name.find(".attn_q.") != std::string::npos;
    const bool k = t.name.find(".attn_k.") != std::string::npos;
    if (q || k) {
      e.permute_heads = q ? config_.n_heads : config_.n_kv_heads;
      const int64_t rows = e.info.shape[0];  // output dim, for weights and biases alike
      if (rows % e.permute_heads != 0 || (rows / e.permute_heads) % 2 != 0) {
        return Status::Corruption(file_->path() + ": tensor " + t.name + " has " +
                                  std::to_string(rows) + " rows, not an even head size times " +
                                  std::to_string(e.permute_heads) + " heads");
      }
    }
  }
  if (tensors_.count(e.info.name) != 0) {
    return Status::Corruption(file_->path() + ": two tensors map to " + e.info.name);
  }
  tensors_.emplace(e.info.name, std::move(e));
  return Status::Ok();
}

const GgufSource::Entry* GgufSource::Lookup(const std::string& name, Status* err) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    *err = Status::NotFound(file_->path() + ": no tensor " + name);
    return nullptr;
  }
  return &it->second;
}

const TensorInfo* GgufSource::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second.info;
}

std::vector<std::string> GgufSource::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, e] : tensors_) names.push_back(name);
  return names;
}

Status GgufSource::ReadF32(const std::string& name, Range rows, Range cols, float* dst) const {
  Status err;
  const Entry* e = Lookup(name, &err);
  if (e == nullptr) return err;
  GS_RETURN_IF_ERROR(CheckSlice(file_->path(), e->info, rows, cols));
  if (e->permute_heads == 0) {
    CopySliceF32(e->info, e->stored->data, rows, cols, RowMap(), dst);
    return Status::Ok();
  }
  const int64_t hd = e->info.shape[0] / e->permute_heads;
  if (e->info.shape.size() == 2) {
    CopySliceF32(
        e->info, e->stored->data, rows, cols, [hd](int64_t r) { return PermutedQkRow(r, hd); },
        dst);
    return Status::Ok();
  }
  // A permuted bias: its elements play the part of rows.
  std::vector<float> full(e->info.cols());
  DequantizeRow(e->info.dtype, e->stored->data, full.data(), e->info.cols());
  for (int64_t c = cols.begin; c < cols.end; ++c) *dst++ = full[PermutedQkRow(c, hd)];
  return Status::Ok();
}

Status GgufSource::ReadRaw(const std::string& name, Range rows, Range cols,
                           std::vector<uint8_t>* out) const {
  Status err;
  const Entry* e = Lookup(name, &err);
  if (e == nullptr) return err;
  GS_RETURN_IF_ERROR(CheckSlice(file_->path(), e->info, rows, cols));
  if (e->permute_heads == 0) {
    CopySliceRaw(e->info, e->stored->data, rows, cols, RowMap(), out);
    return Status::Ok();
  }
  const int64_t hd = e->info.shape[0] / e->permute_heads;
  if (e->info.shape.size() == 2) {
    CopySliceRaw(
        e->info, e->stored->data, rows, cols, [hd](int64_t r) { return PermutedQkRow(r, hd); },
        out);
    return Status::Ok();
  }
  if (BlockElems(e->info.dtype) != 1) {
    return Status::Unimplemented(file_->path() + ": tensor " + name +
                                 ": raw read of a quantized permuted bias");
  }
  const int64_t eb = BlockBytes(e->info.dtype);
  for (int64_t c = cols.begin; c < cols.end; ++c) {
    const uint8_t* p = e->stored->data + PermutedQkRow(c, hd) * eb;
    out->insert(out->end(), p, p + eb);
  }
  return Status::Ok();
}

}  // namespace gs
