#include "core/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "core/bpe.h"
#include "kernels/check.h"
#include "core/gguf_file.h"
#include "core/unicode.h"

namespace gs {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁" U+2581

// The value of two hex digits, or -1 when either is not one.
int HexByte(char hi, char lo) {
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int h = digit(hi), l = digit(lo);
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& model_path) {
  std::error_code ec;
  if (std::filesystem::is_directory(model_path, ec)) return FromHfDir(model_path);
  if (!std::filesystem::exists(model_path, ec)) {
    return Status::NotFound(model_path + ": no such file or directory");
  }
  GS_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> gguf, GgufFile::Open(model_path));
  return FromGguf(*gguf);
}

Status Tokenizer::AddMerge(std::string_view left, std::string_view right,
                           const std::string& source) {
  auto l = token_to_id_.find(std::string(left));
  auto r = token_to_id_.find(std::string(right));
  std::string joined(left);
  joined.append(right);
  auto m = token_to_id_.find(joined);
  if (l == token_to_id_.end() || r == token_to_id_.end() || m == token_to_id_.end()) {
    return Status::Corruption(source + ": merge '" + std::string(left) + " " + std::string(right) +
                              "' uses a token not in the vocabulary");
  }
  // A repeated pair keeps its first (best) rank.
  merges_.emplace(PairKey(l->second, r->second),
                  std::make_pair(static_cast<int32_t>(merges_.size()), m->second));
  return Status::Ok();
}

Status Tokenizer::Finish(const std::string& source) {
  const int n = vocab_size();
  attrs_.resize(n, kNormal);
  bytes_.assign(n, "");
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& t = tokens_[id];
    std::string& b = bytes_[id];
    if (attrs_[id] == kControl || attrs_[id] == kUserDefined || attrs_[id] == kUnused) {
      b = t;
    } else if (kind_ == Kind::kByteLevel) {
      for (size_t pos = 0; pos < t.size();) {
        int len;
        uint32_t cp = DecodeUtf8(t, pos, &len);
        int byte = UnicodeToByte(cp);
        if (byte >= 0) {
          b.push_back(static_cast<char>(byte));
        } else {
          b.append(t, pos, len);  // not byte-mapped: take the text as it is
        }
        pos += len;
      }
      if (b.size() == 1 && byte_ids_[static_cast<uint8_t>(b[0])] < 0 && attrs_[id] == kNormal) {
        byte_ids_[static_cast<uint8_t>(b[0])] = id;
      }
    } else if (attrs_[id] == kByte) {
      // "<0xNN>"
      const int v = t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>'
                        ? HexByte(t[3], t[4])
                        : -1;
      if (v < 0) {
        return Status::Corruption(source + ": byte token " + std::to_string(id) + " is '" + t +
                                  "', expected <0xNN> with two hex digits");
      }
      b.push_back(static_cast<char>(v));
      byte_ids_[v] = id;
    } else {
      for (size_t pos = 0; pos < t.size();) {
        if (t.compare(pos, kSpmSpace.size(), kSpmSpace) == 0) {
          b.push_back(' ');
          pos += kSpmSpace.size();
        } else {
          b.push_back(t[pos++]);
        }
      }
    }
  }
  added_ids_.clear();
  for (int32_t id = 0; id < n; ++id) {
    if ((attrs_[id] == kControl || attrs_[id] == kUserDefined) && !tokens_[id].empty()) {
      added_ids_.push_back(id);
    }
  }
  std::stable_sort(added_ids_.begin(), added_ids_.end(),
                   [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); });
  bool has_chatml = TokenId("<|im_start|>").has_value();
  bool has_llama3 = TokenId("<|start_header_id|>").has_value();
  std::string bos_text = bos_id_ >= 0 && bos_id_ < n ? tokens_[bos_id_] : "";
  chat_ = DetectChatTemplate(chat_source_, has_chatml, has_llama3, bos_text);
  // The chat format's end-of-turn token also ends a generation.
  const char* eot = chat_.format == ChatFormat::kChatML   ? "<|im_end|>"
                    : chat_.format == ChatFormat::kLlama3 ? "<|eot_id|>"
                                                          : nullptr;
  if (eot) {
    if (auto id = TokenId(eot);
        id && std::find(eos_ids_.begin(), eos_ids_.end(), *id) == eos_ids_.end()) {
      eos_ids_.push_back(*id);
    }
  }
  return Status::Ok();
}

std::optional<int32_t> Tokenizer::TokenId(std::string_view token_text) const {
  auto it = token_to_id_.find(std::string(token_text));
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && attrs_[id] == kControl;
}

bool Tokenizer::IsAdded(int32_t id) const {
  return id >= 0 && id < vocab_size() && (attrs_[id] == kControl || attrs_[id] == kUserDefined);
}

StatusOr<std::string> Tokenizer::ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                                                   bool add_generation_prompt) const {
  return RenderChat(chat_, messages, add_generation_prompt);
}

std::string Tokenizer::TokenBytes(int32_t id) const {
  CHECK(id >= 0 && id < vocab_size()) << "token id " << id << " outside the vocabulary";
  return bytes_[id];
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_id_ >= 0) out.push_back(bos_id_);
  // Cut the text at added tokens (longest match first), encode the runs between.
  size_t run_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    int32_t hit = -1;
    for (int32_t id : added_ids_) {
      const std::string& t = tokens_[id];
      if (text.compare(pos, t.size(), t) == 0) {
        hit = id;
        break;
      }
    }
    if (hit < 0) {
      ++pos;
      continue;
    }
    if (pos > run_start) EncodeText(text.substr(run_start, pos - run_start), &out);
    out.push_back(hit);
    pos += tokens_[hit].size();
    run_start = pos;
  }
  if (run_start < text.size()) EncodeText(text.substr(run_start), &out);
  return out;
}

void Tokenizer::EncodeText(std::string_view text, std::vector<int32_t>* out) const {
  if (kind_ == Kind::kSentencePiece) {
    EncodeSentencePiece(text, out);
    return;
  }
  // Added tokens were cut out before: as in Hugging Face tokenizers, the
  // normalizer sees only the text between them.
  std::string normalized;
  if (nfc_) {
    normalized = ToNfc(text);
    text = normalized;
    if (text.empty()) return;
  }
  std::string prefixed;
  if (byte_level_prefix_space_ && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  for (std::string_view piece : PreTokenize(text, pre_)) EncodeByteLevel(piece, out);
}

void Tokenizer::EncodeByteLevel(std::string_view piece, std::vector<int32_t>* out) const {
  if (ignore_merges_) {
    std::string mapped;
    for (char c : piece) AppendUtf8(ByteToUnicode(static_cast<uint8_t>(c)), &mapped);
    if (auto it = token_to_id_.find(mapped); it != token_to_id_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  std::vector<BpeSymbol> symbols(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    symbols[i] = {byte_ids_[static_cast<uint8_t>(piece[i])], i, 1};
  }
  auto pair_fn = [this](const BpeSymbol& l, const BpeSymbol& r, double* priority, int32_t* merged) {
    if (l.id < 0 || r.id < 0) return false;
    auto it = merges_.find(PairKey(l.id, r.id));
    if (it == merges_.end()) return false;
    *priority = it->second.first;
    *merged = it->second.second;
    return true;
  };
  for (const BpeSymbol& s : BpeMerge(std::move(symbols), pair_fn)) {
    if (s.id >= 0) {
      out->push_back(s.id);
    } else if (unk_id_ >= 0) {
      out->push_back(unk_id_);
    }
  }
}

void Tokenizer::EncodeSentencePiece(std::string_view raw, std::vector<int32_t>* out) const {
  std::string text = spm_prefix_space_ ? std::string(kSpmSpace) : "";
  for (char c : raw) {
    if (c == ' ') {
      text += kSpmSpace;
    } else {
      text.push_back(c);
    }
  }
  auto piece_id = [this](std::string_view s) -> int32_t {
    auto it = token_to_id_.find(std::string(s));
    if (it == token_to_id_.end() || attrs_[it->second] != kNormal) return -1;
    return it->second;
  };
  std::vector<BpeSymbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    int len;
    DecodeUtf8(text, pos, &len);
    symbols.push_back({piece_id(std::string_view(text).substr(pos, len)), pos, size_t(len)});
    pos += len;
  }
  std::string_view view(text);
  auto pair_fn = [&](const BpeSymbol& l, const BpeSymbol& r, double* priority, int32_t* merged) {
    int32_t id = piece_id(view.substr(l.start, l.len + r.len));
    if (id < 0) return false;
    *priority = -static_cast<double>(scores_[id]);
    *merged = id;
    return true;
  };
  for (const BpeSymbol& s : BpeMerge(std::move(symbols), pair_fn)) {
    if (s.id >= 0) {
      out->push_back(s.id);
      continue;
    }
    // Byte fallback: a character the vocabulary lacks becomes its UTF-8 bytes.
    for (size_t i = 0; i < s.len; ++i) {
      int32_t b = byte_ids_[static_cast<uint8_t>(text[s.start + i])];
      if (b >= 0) {
        out->push_back(b);
      } else if (unk_id_ >= 0) {
        out->push_back(unk_id_);
        break;
      }
    }
  }
}

std::string Tokenizer::PieceAfter(int32_t id, bool prev_added_or_start) const {
  if (id < 0 || id >= vocab_size()) return "";
  const std::string& b = bytes_[id];
  if (kind_ == Kind::kSentencePiece && spm_prefix_space_ && prev_added_or_start &&
      attrs_[id] == kNormal && !b.empty() && b[0] == ' ') {
    return b.substr(1);
  }
  return b;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  bool prev_added = true;
  for (int32_t id : ids) {
    if (!(skip_special && IsSpecial(id))) out += PieceAfter(id, prev_added);
    prev_added = IsAdded(id);
  }
  return out;
}

std::string StreamDecoder::Push(int32_t id) {
  if (!(skip_special_ && tokenizer_.IsSpecial(id))) {
    pending_ += tokenizer_.PieceAfter(id, prev_added_or_start_);
  }
  prev_added_or_start_ = tokenizer_.IsAdded(id);
  size_t hold = IncompleteUtf8Tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace gs
