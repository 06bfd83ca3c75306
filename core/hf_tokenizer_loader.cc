// Tokenizer::FromHfDir: vocabulary, merges, pre-tokenizer, special tokens,
// BOS/EOS and chat template from a Hugging Face directory (tokenizer.json,
// tokenizer_config.json, generation_config.json).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tokenizer.h"

namespace gs {
namespace {

using Json = nlohmann::json;

StatusOr<Json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError(path + ": cannot open");
  Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption(path + ": not valid JSON");
  return j;
}

// Checked reads. The files come from outside, so nothing here indexes a
// missing key or converts a value of the wrong type; errors name the file
// and the key (`where`, e.g. "model.vocab").

// obj[key], or null when obj is not an object or has no such key.
const Json* Child(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

Status Bad(const std::string& path, const std::string& where, const std::string& what) {
  return Status::Corruption(path + ": " + where + " must be " + what);
}

// obj[key] as a string; `def` when absent or null.
StatusOr<std::string> String(const Json& obj, const char* key, const std::string& def,
                             const std::string& path, const std::string& where) {
  const Json* v = Child(obj, key);
  if (v == nullptr || v->is_null()) return def;
  if (!v->is_string()) return Bad(path, where, "a string");
  return v->get<std::string>();
}

// obj[key] as a bool; `def` when absent or null.
StatusOr<bool> Bool(const Json& obj, const char* key, bool def, const std::string& path,
                    const std::string& where) {
  const Json* v = Child(obj, key);
  if (v == nullptr || v->is_null()) return def;
  if (!v->is_boolean()) return Bad(path, where, "true or false");
  return v->get<bool>();
}

// A token id: an integer in [0, limit).
StatusOr<int64_t> TokenIdValue(const Json& v, int64_t limit, const std::string& path,
                               const std::string& where) {
  if (!v.is_number_integer()) return Bad(path, where, "an integer token id");
  // Unsigned values above INT64_MAX read back negative here, and are refused.
  const int64_t id = v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX ? -1 : v.get<int64_t>();
  if (id < 0 || id >= limit) {
    return Bad(path, where, "a token id in [0, " + std::to_string(limit) + "), got " + v.dump());
  }
  return id;
}

// "bos_token": "<s>" or {"content": "<s>", ...}.
std::string TokenText(const Json* j) {
  if (j == nullptr) return "";
  if (j->is_string()) return j->get<std::string>();
  const Json* content = Child(*j, "content");
  if (content != nullptr && content->is_string()) return content->get<std::string>();
  return "";
}

struct PreTokenizerSpec {
  std::optional<PreTokenizerKind> split;
  bool digits = false;
  bool byte_level = false;
  bool byte_level_regex = false;
  bool prefix_space = false;
};

Status ParsePreTokenizer(const Json& j, const std::string& path, PreTokenizerSpec* spec,
                         int depth = 0) {
  if (j.is_null()) return Status::Ok();
  const std::string where = "pre_tokenizer";
  if (!j.is_object()) return Bad(path, where, "an object");
  if (depth > 8) return Bad(path, where, "nested at most 8 deep");
  GS_ASSIGN_OR_RETURN(std::string type, String(j, "type", "", path, where + ".type"));
  if (type == "Sequence") {
    const Json* list = Child(j, "pretokenizers");
    if (list == nullptr || !list->is_array()) return Bad(path, where + ".pretokenizers", "an array");
    for (const Json& p : *list) GS_RETURN_IF_ERROR(ParsePreTokenizer(p, path, spec, depth + 1));
  } else if (type == "ByteLevel") {
    spec->byte_level = true;
    GS_ASSIGN_OR_RETURN(spec->byte_level_regex,
                        Bool(j, "use_regex", true, path, where + ".use_regex"));
    GS_ASSIGN_OR_RETURN(spec->prefix_space,
                        Bool(j, "add_prefix_space", false, path, where + ".add_prefix_space"));
  } else if (type == "Digits") {
    GS_ASSIGN_OR_RETURN(bool individual, Bool(j, "individual_digits", false, path,
                                              where + ".individual_digits"));
    if (!individual) {
      return Status::Unimplemented(path + ": pre_tokenizer Digits without individual_digits");
    }
    spec->digits = true;
  } else if (type == "Split") {
    const Json* pattern = Child(j, "pattern");
    std::string regex;
    if (pattern != nullptr) {
      GS_ASSIGN_OR_RETURN(regex, String(*pattern, "Regex", "", path, where + ".pattern.Regex"));
    }
    GS_ASSIGN_OR_RETURN(std::string behavior,
                        String(j, "behavior", "Isolated", path, where + ".behavior"));
    GS_ASSIGN_OR_RETURN(bool invert, Bool(j, "invert", false, path, where + ".invert"));
    spec->split = PreTokenizerForRegex(regex);
    if (!spec->split || behavior != "Isolated" || invert) {
      return Status::Unimplemented(path + ": pre_tokenizer Split with an unknown pattern '" +
                                   regex + "'");
    }
  } else {
    return Status::Unimplemented(path + ": pre_tokenizer type '" + type + "' not supported");
  }
  return Status::Ok();
}

}  // namespace

namespace {

// The vocabulary of a parsed tokenizer.json: model.vocab into `tokens`
// (ids dense from 0, sized for the added tokens too), and added_tokens.
struct AddedToken {
  int64_t id;
  std::string content;
  bool special;
};

Status ReadVocabulary(const Json& j, const Json& model, const std::string& path,
                      std::vector<std::string>* tokens, std::vector<AddedToken>* added_tokens) {
  const Json* vocab = Child(model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) return Bad(path, "model.vocab", "an object");
  const Json* added = Child(j, "added_tokens");
  if (added != nullptr && !added->is_null() && !added->is_array()) {
    return Bad(path, "added_tokens", "an array");
  }
  const size_t n_added = added != nullptr && added->is_array() ? added->size() : 0;
  // Ids are dense from 0, so none reaches the number of entries; this bound
  // also keeps a bad id from sizing the table.
  const int64_t limit = static_cast<int64_t>(vocab->size() + n_added);
  int64_t n = 0;
  std::vector<std::pair<int64_t, std::string>> entries;
  entries.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    GS_ASSIGN_OR_RETURN(int64_t id,
                        TokenIdValue(it.value(), limit, path, "model.vocab[\"" + it.key() + "\"]"));
    entries.emplace_back(id, it.key());
    n = std::max(n, id + 1);
  }
  for (size_t i = 0; i < n_added; ++i) {
    const Json& a = (*added)[i];
    const std::string where = "added_tokens[" + std::to_string(i) + "]";
    if (!a.is_object()) return Bad(path, where, "an object");
    const Json* id = Child(a, "id");
    if (id == nullptr) return Bad(path, where + ".id", "present");
    GS_ASSIGN_OR_RETURN(int64_t v, TokenIdValue(*id, limit, path, where + ".id"));
    const Json* content = Child(a, "content");
    if (content == nullptr || !content->is_string()) return Bad(path, where + ".content", "a string");
    GS_ASSIGN_OR_RETURN(bool special, Bool(a, "special", false, path, where + ".special"));
    n = std::max(n, v + 1);
    added_tokens->push_back({v, content->get<std::string>(), special});
  }
  tokens->assign(n, "");
  for (auto& [id, text] : entries) (*tokens)[id] = std::move(text);
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromHfDir(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  GS_ASSIGN_OR_RETURN(Json j, ReadJson(path));
  if (!j.is_object()) return Status::Corruption(path + ": top level is not a JSON object");
  try {
    return FromHfJson(j, dir, path);
  } catch (const Json::exception& e) {
    // A backstop: every read above is checked, so this names a case missed.
    return Status::Corruption(path + ": unexpected JSON content (" + e.what() + ")");
  }
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromHfJson(const nlohmann::json& j,
                                                           const std::string& dir,
                                                           const std::string& path) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  const Json* model_ptr = Child(j, "model");
  if (model_ptr == nullptr || !model_ptr->is_object()) return Bad(path, "model", "an object");
  const Json& model = *model_ptr;
  GS_ASSIGN_OR_RETURN(std::string model_type, String(model, "type", "BPE", path, "model.type"));
  if (model_type != "BPE") return Status::Unimplemented(path + ": model.type must be BPE");
  if (const Json* norm = Child(j, "normalizer"); norm != nullptr && !norm->is_null()) {
    GS_ASSIGN_OR_RETURN(std::string type, String(*norm, "type", "", path, "normalizer.type"));
    if (type != "NFC") {
      return Status::Unimplemented(path + ": normalizer '" + type + "' not supported");
    }
    t->nfc_ = true;  // Qwen2
  }
  PreTokenizerSpec spec;
  if (const Json* pre = Child(j, "pre_tokenizer")) {
    GS_RETURN_IF_ERROR(ParsePreTokenizer(*pre, path, &spec));
  }
  if (!spec.byte_level) {
    return Status::Unimplemented(path +
                                 ": only byte-level BPE tokenizer.json is supported "
                                 "(SentencePiece-style models load from GGUF)");
  }
  if (spec.split) {
    t->pre_ = *spec.split;
  } else if (spec.byte_level_regex) {
    t->pre_ = spec.digits ? PreTokenizerKind::kGpt2Digits : PreTokenizerKind::kGpt2;
  } else {
    t->pre_ = PreTokenizerKind::kNone;
  }
  t->byte_level_prefix_space_ = spec.prefix_space;
  GS_ASSIGN_OR_RETURN(t->ignore_merges_,
                      Bool(model, "ignore_merges", false, path, "model.ignore_merges"));

  std::vector<AddedToken> added;
  GS_RETURN_IF_ERROR(ReadVocabulary(j, model, path, &t->tokens_, &added));
  const int64_t n = static_cast<int64_t>(t->tokens_.size());
  t->attrs_.assign(n, kNormal);
  for (AddedToken& a : added) {
    t->tokens_[a.id] = std::move(a.content);
    t->attrs_[a.id] = a.special ? kControl : kUserDefined;
  }
  for (int32_t id = 0; id < n; ++id) t->token_to_id_.emplace(t->tokens_[id], id);
  if (const Json* unk = Child(model, "unk_token"); unk != nullptr && unk->is_string()) {
    if (auto id = t->TokenId(unk->get<std::string>())) t->unk_id_ = *id;
  }
  if (const Json* merges = Child(model, "merges"); merges != nullptr && !merges->is_null()) {
    if (!merges->is_array()) return Bad(path, "model.merges", "an array");
    for (size_t i = 0; i < merges->size(); ++i) {
      const Json& m = (*merges)[i];
      const std::string where = "model.merges[" + std::to_string(i) + "]";
      if (m.is_string()) {
        std::string s = m.get<std::string>();
        size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) return Status::Corruption(path + ": merge '" + s + "'");
        GS_RETURN_IF_ERROR(t->AddMerge(std::string_view(s).substr(0, sp),
                                       std::string_view(s).substr(sp + 1), path));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        GS_RETURN_IF_ERROR(t->AddMerge(m[0].get<std::string>(), m[1].get<std::string>(), path));
      } else {
        return Bad(path, where, "\"a b\" or [\"a\", \"b\"]");
      }
    }
  }

  // BOS: from the post-processor template ("single": [SpecialToken, Sequence...]).
  std::function<void(const Json&, int)> find_bos = [&](const Json& pp, int depth) {
    if (!pp.is_object() || depth > 8) return;
    const Json* type = Child(pp, "type");
    if (type == nullptr || !type->is_string()) return;
    if (*type == "Sequence") {
      if (const Json* list = Child(pp, "processors"); list != nullptr && list->is_array()) {
        for (const Json& p : *list) find_bos(p, depth + 1);
      }
    } else if (*type == "TemplateProcessing") {
      const Json* single = Child(pp, "single");
      if (single == nullptr || !single->is_array() || single->empty()) return;
      const Json* special = Child((*single)[0], "SpecialToken");
      const Json* id = special != nullptr ? Child(*special, "id") : nullptr;
      if (id == nullptr || !id->is_string()) return;
      if (auto tok = t->TokenId(id->get<std::string>())) {
        t->bos_id_ = *tok;
        t->add_bos_ = true;
      }
    }
  };
  if (const Json* pp = Child(j, "post_processor")) find_bos(*pp, 0);

  std::error_code ec;
  const std::string config_path = dir + "/tokenizer_config.json";
  if (std::filesystem::exists(config_path, ec)) {
    GS_ASSIGN_OR_RETURN(Json c, ReadJson(config_path));
    if (!c.is_object()) return Status::Corruption(config_path + ": top level is not a JSON object");
    if (auto id = t->TokenId(TokenText(Child(c, "bos_token"))); id && t->bos_id_ < 0) {
      t->bos_id_ = *id;
    }
    if (const Json* add = Child(c, "add_bos_token"); add != nullptr && add->is_boolean()) {
      t->add_bos_ = add->get<bool>() && t->bos_id_ >= 0;
    }
    if (auto id = t->TokenId(TokenText(Child(c, "eos_token")))) t->eos_ids_.push_back(*id);
    if (const Json* ct = Child(c, "chat_template"); ct != nullptr && ct->is_string()) {
      t->chat_source_ = ct->get<std::string>();
    } else if (ct != nullptr && ct->is_array()) {
      for (const Json& e : *ct) {
        const Json* name = Child(e, "name");
        const Json* tmpl = Child(e, "template");
        if (name != nullptr && *name == "default" && tmpl != nullptr && tmpl->is_string()) {
          t->chat_source_ = tmpl->get<std::string>();
        }
      }
    }
  }
  const std::string gen_path = dir + "/generation_config.json";
  if (std::filesystem::exists(gen_path, ec)) {
    GS_ASSIGN_OR_RETURN(Json g, ReadJson(gen_path));
    if (!g.is_object()) return Status::Corruption(gen_path + ": top level is not a JSON object");
    Json e = Child(g, "eos_token_id") != nullptr ? g["eos_token_id"] : Json();
    if (e.is_number_integer()) e = Json::array({e});
    if (e.is_array()) {
      for (const Json& id : e) {
        GS_ASSIGN_OR_RETURN(int64_t v, TokenIdValue(id, n, gen_path, "eos_token_id"));
        const int32_t eos = static_cast<int32_t>(v);
        if (std::find(t->eos_ids_.begin(), t->eos_ids_.end(), eos) == t->eos_ids_.end()) {
          t->eos_ids_.push_back(eos);
        }
      }
    }
  }
  GS_RETURN_IF_ERROR(t->Finish(path));
  return t;
}

}  // namespace gs
