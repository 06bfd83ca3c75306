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

// "bos_token": "<s>" or {"content": "<s>", ...}.
std::string TokenText(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    return j["content"].get<std::string>();
  }
  return "";
}

struct PreTokenizerSpec {
  std::optional<PreTokenizerKind> split;
  bool digits = false;
  bool byte_level = false;
  bool byte_level_regex = false;
  bool prefix_space = false;
};

Status ParsePreTokenizer(const Json& j, const std::string& path, PreTokenizerSpec* spec) {
  if (j.is_null()) return Status::Ok();
  std::string type = j.value("type", "");
  if (type == "Sequence") {
    for (const Json& p : j["pretokenizers"]) GS_RETURN_IF_ERROR(ParsePreTokenizer(p, path, spec));
  } else if (type == "ByteLevel") {
    spec->byte_level = true;
    spec->byte_level_regex = j.value("use_regex", true);
    spec->prefix_space = j.value("add_prefix_space", false);
  } else if (type == "Digits") {
    if (!j.value("individual_digits", false)) {
      return Status::Unimplemented(path + ": pre_tokenizer Digits without individual_digits");
    }
    spec->digits = true;
  } else if (type == "Split") {
    std::string regex = j["pattern"].value("Regex", "");
    spec->split = PreTokenizerForRegex(regex);
    if (!spec->split || j.value("behavior", "Isolated") != "Isolated" || j.value("invert", false)) {
      return Status::Unimplemented(path + ": pre_tokenizer Split with an unknown pattern '" +
                                   regex + "'");
    }
  } else {
    return Status::Unimplemented(path + ": pre_tokenizer type '" + type + "' not supported");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromHfDir(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  GS_ASSIGN_OR_RETURN(Json j, ReadJson(path));
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  const Json& model = j["model"];
  if (!model.is_object() || model.value("type", "BPE") != "BPE") {
    return Status::Unimplemented(path + ": model.type must be BPE");
  }
  const Json& norm = j["normalizer"];
  // NFC (Qwen2) is accepted as the identity: text from clients is NFC already.
  if (!norm.is_null() && norm.value("type", "") != "NFC") {
    return Status::Unimplemented(path + ": normalizer '" + norm.value("type", "") +
                                 "' not supported");
  }
  PreTokenizerSpec spec;
  GS_RETURN_IF_ERROR(ParsePreTokenizer(j["pre_tokenizer"], path, &spec));
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
  t->ignore_merges_ = model.value("ignore_merges", false);

  // Vocabulary: model.vocab plus added_tokens, ids dense from 0.
  const Json& vocab = model["vocab"];
  const Json& added = j["added_tokens"];
  int64_t n = 0;
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    n = std::max<int64_t>(n, it.value().get<int64_t>() + 1);
  if (added.is_array()) {
    for (const Json& a : added) n = std::max<int64_t>(n, a["id"].get<int64_t>() + 1);
  }
  t->tokens_.assign(n, "");
  t->attrs_.assign(n, kNormal);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    t->tokens_[it.value().get<int64_t>()] = it.key();
  }
  if (added.is_array()) {
    for (const Json& a : added) {
      int64_t id = a["id"].get<int64_t>();
      t->tokens_[id] = a["content"].get<std::string>();
      t->attrs_[id] = a.value("special", false) ? kControl : kUserDefined;
    }
  }
  for (int32_t id = 0; id < n; ++id) t->token_to_id_.emplace(t->tokens_[id], id);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    if (auto id = t->TokenId(model["unk_token"].get<std::string>())) t->unk_id_ = *id;
  }
  for (const Json& m : model["merges"]) {
    if (m.is_string()) {
      std::string s = m.get<std::string>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) return Status::Corruption(path + ": merge '" + s + "'");
      GS_RETURN_IF_ERROR(
          t->AddMerge(std::string_view(s).substr(0, sp), std::string_view(s).substr(sp + 1), path));
    } else {
      GS_RETURN_IF_ERROR(t->AddMerge(m[0].get<std::string>(), m[1].get<std::string>(), path));
    }
  }

  // BOS: from the post-processor template ("single": [SpecialToken, Sequence...]).
  std::function<void(const Json&)> find_bos = [&](const Json& pp) {
    if (pp.is_null()) return;
    if (pp.value("type", "") == "Sequence") {
      for (const Json& p : pp["processors"]) find_bos(p);
    } else if (pp.value("type", "") == "TemplateProcessing" && pp["single"].is_array() &&
               !pp["single"].empty() && pp["single"][0].contains("SpecialToken")) {
      if (auto id = t->TokenId(pp["single"][0]["SpecialToken"].value("id", ""))) {
        t->bos_id_ = *id;
        t->add_bos_ = true;
      }
    }
  };
  find_bos(j["post_processor"]);

  std::error_code ec;
  const std::string config_path = dir + "/tokenizer_config.json";
  if (std::filesystem::exists(config_path, ec)) {
    GS_ASSIGN_OR_RETURN(Json c, ReadJson(config_path));
    if (auto id = t->TokenId(TokenText(c.value("bos_token", Json()))); id && t->bos_id_ < 0) {
      t->bos_id_ = *id;
    }
    if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) {
      t->add_bos_ = c["add_bos_token"].get<bool>() && t->bos_id_ >= 0;
    }
    if (auto id = t->TokenId(TokenText(c.value("eos_token", Json())))) t->eos_ids_.push_back(*id);
    const Json& ct = c.value("chat_template", Json());
    if (ct.is_string()) {
      t->chat_source_ = ct.get<std::string>();
    } else if (ct.is_array()) {
      for (const Json& e : ct) {
        if (e.value("name", "") == "default") t->chat_source_ = e.value("template", "");
      }
    }
  }
  const std::string gen_path = dir + "/generation_config.json";
  if (std::filesystem::exists(gen_path, ec)) {
    GS_ASSIGN_OR_RETURN(Json g, ReadJson(gen_path));
    Json e = g.value("eos_token_id", Json());
    if (e.is_number_integer()) e = Json::array({e});
    if (e.is_array()) {
      for (const Json& id : e) {
        int32_t v = id.get<int32_t>();
        if (std::find(t->eos_ids_.begin(), t->eos_ids_.end(), v) == t->eos_ids_.end()) {
          t->eos_ids_.push_back(v);
        }
      }
    }
  }
  GS_RETURN_IF_ERROR(t->Finish(path));
  return t;
}

}  // namespace gs
