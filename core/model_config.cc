#include "core/model_config.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace gs {

namespace {

using nlohmann::json;

// Reads config.json fields with errors that name the key and the file.
class ConfigReader {
 public:
  ConfigReader(const json& j, const std::string& path) : j_(j), path_(path) {}

  Status Int(const char* key, bool required, int* out) const {
    const json* v = Lookup(key);
    if (v == nullptr) return required ? Missing(key) : Status::Ok();
    if (!v->is_number_integer() || v->get<int64_t>() < INT32_MIN || v->get<int64_t>() > INT32_MAX) {
      return Bad(key, "an integer");
    }
    *out = v->get<int>();
    return Status::Ok();
  }

  Status Float(const char* key, bool required, float* out) const {
    const json* v = Lookup(key);
    if (v == nullptr) return required ? Missing(key) : Status::Ok();
    if (!v->is_number()) return Bad(key, "a number");
    *out = v->get<float>();
    return Status::Ok();
  }

  Status Bool(const char* key, bool* out) const {
    const json* v = Lookup(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_boolean()) return Bad(key, "a boolean");
    *out = v->get<bool>();
    return Status::Ok();
  }

  // nullptr for absent keys and explicit nulls alike: HF writes "key": null for defaults.
  const json* Lookup(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status Missing(const std::string& key) const {
    return Status::InvalidArgument(path_ + ": missing required key \"" + key + "\"");
  }
  Status Bad(const std::string& key, const char* want) const {
    return Status::InvalidArgument(path_ + ": key \"" + key + "\" must be " + want);
  }

 private:
  const json& j_;
  const std::string& path_;
};

Status ParseArch(const json& j, const std::string& path, ModelConfig* c) {
  std::string name;
  auto it = j.find("architectures");
  if (it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
    name = (*it)[0].get<std::string>();
  } else if (auto mt = j.find("model_type"); mt != j.end() && mt->is_string()) {
    name = mt->get<std::string>();
  } else {
    return Status::InvalidArgument(path + ": missing required key \"architectures\"");
  }
  if (name == "LlamaForCausalLM" || name == "llama") {
    c->arch = "llama";
  } else if (name == "MistralForCausalLM" || name == "mistral") {
    c->arch = "mistral";
  } else if (name == "Qwen2ForCausalLM" || name == "qwen2") {
    c->arch = "qwen2";
    c->attn_bias = true;
  } else {
    return Status::Unimplemented(path + ": unsupported architecture \"" + name +
                                 "\" (supported: LlamaForCausalLM, MistralForCausalLM, "
                                 "Qwen2ForCausalLM)");
  }
  return Status::Ok();
}

Status ParseRopeScaling(const json& j, const std::string& path, RopeScaling* rs) {
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) {
    return Status::InvalidArgument(path + ": key \"rope_scaling\" must be an object or null");
  }
  std::string type;
  if (auto t = it->find("rope_type"); t != it->end() && t->is_string()) {
    type = t->get<std::string>();
  } else if (auto t2 = it->find("type"); t2 != it->end() && t2->is_string()) {
    type = t2->get<std::string>();
  } else {
    return Status::InvalidArgument(path + ": missing required key \"rope_scaling.rope_type\"");
  }
  const std::string sub_path = path + " (rope_scaling)";
  ConfigReader r(*it, sub_path);
  if (type == "default") return Status::Ok();
  if (type == "linear") {
    rs->type = RopeScaling::Type::kLinear;
    return r.Float("factor", true, &rs->factor);
  }
  if (type == "llama3") {
    rs->type = RopeScaling::Type::kLlama3;
    GS_RETURN_IF_ERROR(r.Float("factor", true, &rs->factor));
    GS_RETURN_IF_ERROR(r.Float("low_freq_factor", true, &rs->low_freq_factor));
    GS_RETURN_IF_ERROR(r.Float("high_freq_factor", true, &rs->high_freq_factor));
    return r.Int("original_max_position_embeddings", true, &rs->original_max_position);
  }
  return Status::Unimplemented(path + ": unsupported rope_scaling type \"" + type +
                               "\" (supported: llama3, linear)");
}

Status ParseEos(const json& j, const std::string& path, std::vector<int>* eos) {
  auto it = j.find("eos_token_id");
  if (it == j.end() || it->is_null()) return Status::Ok();
  auto bad = [&] {
    return Status::InvalidArgument(path +
                                   ": key \"eos_token_id\" must be an integer or a list of them");
  };
  if (it->is_number_integer()) {
    eos->push_back(it->get<int>());
    return Status::Ok();
  }
  if (!it->is_array()) return bad();
  for (const json& e : *it) {
    if (!e.is_number_integer()) return bad();
    eos->push_back(e.get<int>());
  }
  return Status::Ok();
}

}  // namespace

Status ModelConfig::Validate() const {
  GS_RETURN_IF_ERROR(ModelShape::Validate());
  GS_RETURN_IF_ERROR(CheckPositive("max_position", max_position));
  GS_RETURN_IF_ERROR(CheckPositive("rms_norm_eps", rms_norm_eps));
  GS_RETURN_IF_ERROR(CheckPositive("rope_theta", rope_theta));
  if (rope_scaling.type != RopeScaling::Type::kNone) {
    GS_RETURN_IF_ERROR(CheckPositive("rope_scaling.factor", rope_scaling.factor));
  }
  if (rope_scaling.type == RopeScaling::Type::kLlama3) {
    GS_RETURN_IF_ERROR(CheckPositive("rope_scaling.original_max_position_embeddings",
                                rope_scaling.original_max_position));
    if (!(rope_scaling.high_freq_factor > rope_scaling.low_freq_factor)) {
      return Status::InvalidArgument("rope_scaling.high_freq_factor must exceed low_freq_factor");
    }
  }
  if (bos_id < -1 || bos_id >= vocab_size) {
    return Status::InvalidArgument("bos_token_id " + std::to_string(bos_id) +
                                   " outside the vocabulary of " + std::to_string(vocab_size));
  }
  for (int e : eos_ids) {
    if (e < 0 || e >= vocab_size) {
      return Status::InvalidArgument("eos_token_id " + std::to_string(e) +
                                     " outside the vocabulary of " + std::to_string(vocab_size));
    }
  }
  return Status::Ok();
}

StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& path) {
  json j = json::parse(json_text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption(path + ": not valid JSON");
  if (!j.is_object()) return Status::Corruption(path + ": top level is not a JSON object");

  ModelConfig c;
  GS_RETURN_IF_ERROR(ParseArch(j, path, &c));
  // Hugging Face's defaults for the optional keys of these three configs.
  c.rms_norm_eps = 1e-6f;
  c.max_position = c.arch == "llama" ? 2048 : c.arch == "mistral" ? 131072 : 32768;

  ConfigReader r(j, path);
  GS_RETURN_IF_ERROR(r.Int("hidden_size", true, &c.hidden_size));
  GS_RETURN_IF_ERROR(r.Int("intermediate_size", true, &c.intermediate_size));
  GS_RETURN_IF_ERROR(r.Int("num_hidden_layers", true, &c.n_layers));
  GS_RETURN_IF_ERROR(r.Int("num_attention_heads", true, &c.n_heads));
  GS_RETURN_IF_ERROR(r.Int("vocab_size", true, &c.vocab_size));
  c.n_kv_heads = c.n_heads;
  GS_RETURN_IF_ERROR(r.Int("num_key_value_heads", false, &c.n_kv_heads));
  if (c.n_heads > 0) c.head_dim = c.hidden_size / c.n_heads;
  GS_RETURN_IF_ERROR(r.Int("head_dim", false, &c.head_dim));
  GS_RETURN_IF_ERROR(r.Int("max_position_embeddings", false, &c.max_position));
  GS_RETURN_IF_ERROR(r.Float("rms_norm_eps", false, &c.rms_norm_eps));
  GS_RETURN_IF_ERROR(r.Float("rope_theta", false, &c.rope_theta));
  GS_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
  GS_RETURN_IF_ERROR(r.Bool("attention_bias", &c.attn_bias));
  if (const json* act = r.Lookup("hidden_act"); act != nullptr && *act != "silu") {
    return Status::Unimplemented(path + ": key \"hidden_act\" is " + act->dump() +
                                 ", only \"silu\" is supported");
  }
  GS_RETURN_IF_ERROR(r.Int("bos_token_id", false, &c.bos_id));
  GS_RETURN_IF_ERROR(ParseEos(j, path, &c.eos_ids));
  GS_RETURN_IF_ERROR(ParseRopeScaling(j, path, &c.rope_scaling));

  Status v = c.Validate();
  if (!v.ok()) return Status(v.code(), path + ": " + v.message());
  return c;
}

ModelConfig Llama3_8BShape() {
  ModelConfig c;
  c.hidden_size = 4096;
  c.n_layers = 32;
  c.n_heads = 32;
  c.n_kv_heads = 8;
  c.head_dim = 128;
  c.intermediate_size = 14336;
  c.vocab_size = 128256;
  c.rope_theta = 500000.0f;
  c.rms_norm_eps = 1e-5f;
  return c;
}

}  // namespace gs
