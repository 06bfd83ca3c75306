// Tokenizer::FromGguf: vocabulary, merges or scores, special tokens, BOS/EOS
// and chat template from the tokenizer.* metadata of a GGUF file.
#include <algorithm>
#include <string>
#include <string_view>

#include "core/gguf_file.h"
#include "core/tokenizer.h"

namespace gs {

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  auto get = [&](const char* key, GgufValue::Type type) -> const GgufValue* {
    const GgufValue* v = gguf.Get(key);
    return v && v->type == type ? v : nullptr;
  };
  const GgufValue* model = get("tokenizer.ggml.model", GgufValue::Type::kString);
  const GgufValue* tokens = get("tokenizer.ggml.tokens", GgufValue::Type::kArray);
  if (!model || !tokens || tokens->elem_type != GgufValue::Type::kString) {
    return Status::NotFound(path + ": tokenizer.ggml.model / tokenizer.ggml.tokens missing");
  }
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->tokens_ = tokens->strs;
  const int64_t n = static_cast<int64_t>(t->tokens_.size());
  t->attrs_.assign(n, kNormal);
  if (const GgufValue* types = get("tokenizer.ggml.token_type", GgufValue::Type::kArray)) {
    if (static_cast<int64_t>(types->ints.size()) != n) {
      return Status::Corruption(path + ": tokenizer.ggml.token_type has " +
                                std::to_string(types->ints.size()) + " entries, expected " +
                                std::to_string(n));
    }
    for (int64_t i = 0; i < n; ++i) {
      // GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
      switch (types->ints[i]) {
        case 2:
        case 3:
          t->attrs_[i] = kControl;
          break;
        case 4:
          t->attrs_[i] = kUserDefined;
          break;
        case 5:
          t->attrs_[i] = kUnused;
          break;
        case 6:
          t->attrs_[i] = kByte;
          break;
        default:
          t->attrs_[i] = kNormal;
      }
    }
  }
  for (int32_t id = 0; id < n; ++id) t->token_to_id_.emplace(t->tokens_[id], id);

  bool add_bos_default;
  if (model->s == "gpt2") {
    t->kind_ = Kind::kByteLevel;
    add_bos_default = false;
    const GgufValue* pre = get("tokenizer.ggml.pre", GgufValue::Type::kString);
    std::string pre_name = pre ? pre->s : "default";
    auto kind = PreTokenizerForGgufName(pre_name);
    if (!kind) {
      return Status::Unimplemented(path + ": tokenizer.ggml.pre '" + pre_name + "' not supported");
    }
    t->pre_ = *kind;
    t->ignore_merges_ = t->pre_ == PreTokenizerKind::kLlama3;  // as Llama 3's tokenizer.json
    const GgufValue* merges = get("tokenizer.ggml.merges", GgufValue::Type::kArray);
    // A byte-level vocabulary without merges (every token a single byte) is
    // valid: gguf writers drop the empty array.
    static const GgufValue kNoMerges;
    if (!merges) merges = &kNoMerges;
    for (const std::string& m : merges->strs) {
      size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) {
        return Status::Corruption(path + ": tokenizer.ggml.merges entry '" + m + "'");
      }
      GS_RETURN_IF_ERROR(
          t->AddMerge(std::string_view(m).substr(0, sp), std::string_view(m).substr(sp + 1), path));
    }
  } else if (model->s == "llama") {
    t->kind_ = Kind::kSentencePiece;
    add_bos_default = true;
    const GgufValue* scores = get("tokenizer.ggml.scores", GgufValue::Type::kArray);
    if (!scores || static_cast<int64_t>(scores->floats.size()) != n) {
      return Status::Corruption(path + ": tokenizer.ggml.scores missing or not one per token");
    }
    t->scores_.assign(scores->floats.begin(), scores->floats.end());
    if (const GgufValue* v = get("tokenizer.ggml.add_space_prefix", GgufValue::Type::kBool)) {
      t->spm_prefix_space_ = v->b;
    }
  } else {
    return Status::Unimplemented(path + ": tokenizer.ggml.model '" + model->s +
                                 "' not supported (gpt2, llama)");
  }
  auto id_key = [&](const char* key) -> int32_t {
    const GgufValue* v = get(key, GgufValue::Type::kInt);
    return v && v->i >= 0 && v->i < n ? static_cast<int32_t>(v->i) : -1;
  };
  t->bos_id_ = id_key("tokenizer.ggml.bos_token_id");
  t->unk_id_ = id_key("tokenizer.ggml.unknown_token_id");
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    int32_t id = id_key(key);
    if (id >= 0 && std::find(t->eos_ids_.begin(), t->eos_ids_.end(), id) == t->eos_ids_.end()) {
      t->eos_ids_.push_back(id);
    }
  }
  const GgufValue* add_bos = get("tokenizer.ggml.add_bos_token", GgufValue::Type::kBool);
  t->add_bos_ = (add_bos ? add_bos->b : add_bos_default) && t->bos_id_ >= 0;
  if (const GgufValue* ct = get("tokenizer.chat_template", GgufValue::Type::kString)) {
    t->chat_source_ = ct->s;
  }
  GS_RETURN_IF_ERROR(t->Finish(path));
  return t;
}

}  // namespace gs
