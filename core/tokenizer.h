// Text <-> token ids for Llama-family models: byte-level BPE (tokenizer.json
// or GGUF "gpt2") and SentencePiece-style BPE (GGUF "llama"), plus the
// model's chat format and a streaming decoder.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/chat_template.h"
#include "core/pretokenizer.h"
#include "kernels/status.h"

namespace gs {

class GgufFile;

class Tokenizer {
 public:
  // model_path: a Hugging Face directory (tokenizer.json, optional
  // tokenizer_config.json / generation_config.json) or a .gguf file
  // (tokenizer.ggml.*). Errors name the file and the key at fault.
  static StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& model_path);
  static StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& gguf);

  // Special and added tokens in `text` are matched whole, never split.
  // add_special prepends BOS when the model's config asks for it. For the
  // SentencePiece flavour every text run (at the start, and after each special
  // token) gets one leading "▁", as SentencePiece and llama.cpp do.
  std::vector<int32_t> Encode(std::string_view text, bool add_special) const;
  // The bytes of the tokens, concatenated. For the SentencePiece flavour the
  // "▁" added by Encode (first text token, and the first after a special
  // token) is dropped again, so Decode(Encode(s)) == s.
  std::string Decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The raw bytes a token stands for (special tokens: their text).
  std::string TokenBytes(int32_t id) const;

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  int32_t bos_id() const { return bos_id_; }
  // Every id that ends a generation (eos, and the chat format's end-of-turn).
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  bool add_bos() const { return add_bos_; }
  std::optional<int32_t> TokenId(std::string_view token_text) const;
  bool IsSpecial(int32_t id) const;
  // Special or added token: matched whole by Encode, and a text run starts after it.
  bool IsAdded(int32_t id) const;
  ChatFormat chat_format() const { return chat_.format; }

  // Renders messages in the model's chat format (ChatML or Llama 3). The
  // result already holds any BOS the template writes (Llama 3), so encode it
  // with add_special = false. Unknown role -> InvalidArgument naming it.
  StatusOr<std::string> ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const;

  // Bytes of `id` as it reads after `prev_added_or_start` (whether the
  // previous token was an added one, or there was none): drops the
  // SentencePiece prefix space there. Used by Decode and StreamDecoder.
  std::string PieceAfter(int32_t id, bool prev_added_or_start) const;

 private:
  enum class Kind { kByteLevel, kSentencePiece };
  enum TokenAttr : uint8_t { kNormal = 0, kControl = 1, kUserDefined = 2, kByte = 3, kUnused = 4 };

  Tokenizer() = default;
  static StatusOr<std::unique_ptr<Tokenizer>> FromHfDir(const std::string& dir);
  // FromHfDir once tokenizer.json (`path`) is parsed into `j`, an object.
  static StatusOr<std::unique_ptr<Tokenizer>> FromHfJson(const nlohmann::json& j,
                                                         const std::string& dir,
                                                         const std::string& path);
  // Fills the derived tables once tokens_, attrs_ and merges are set.
  Status Finish(const std::string& source);
  Status AddMerge(std::string_view left, std::string_view right, const std::string& source);
  void EncodeText(std::string_view text, std::vector<int32_t>* out) const;
  void EncodeByteLevel(std::string_view piece, std::vector<int32_t>* out) const;
  void EncodeSentencePiece(std::string_view text, std::vector<int32_t>* out) const;

  Kind kind_ = Kind::kByteLevel;
  std::vector<std::string> tokens_;  // as stored in the vocabulary
  std::vector<std::string> bytes_;   // what each token stands for
  std::vector<uint8_t> attrs_;
  std::vector<float> scores_;  // SentencePiece only
  std::unordered_map<std::string, int32_t> token_to_id_;
  // Byte-level: (left id << 32 | right id) -> (rank, merged id).
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  int32_t byte_ids_[256];           // token for a single byte (-1 if none)
  std::vector<int32_t> added_ids_;  // matched whole in text, longest first
  PreTokenizerKind pre_ = PreTokenizerKind::kGpt2;
  bool ignore_merges_ = false;  // a whole piece found in the vocab is one token
  bool byte_level_prefix_space_ = false;
  bool nfc_ = false;  // tokenizer.json declares an NFC normalizer (Qwen2)
  bool spm_prefix_space_ = true;
  int32_t unk_id_ = -1;
  int32_t bos_id_ = -1;
  std::vector<int32_t> eos_ids_;
  bool add_bos_ = false;
  std::string chat_source_;  // the template string, if the model has one
  ChatTemplate chat_;
};

// Turns a token stream into text without ever emitting half a UTF-8
// character; the concatenation of Push()es and Flush() equals Decode(all ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}
  std::string Push(int32_t id);
  std::string Flush();  // whatever is held back, even if incomplete

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  bool prev_added_or_start_ = true;
  std::string pending_;
};

}  // namespace gs
