// Pre-tokenizers: cut text into the pieces that BPE merges never cross.
// Each known split regex is a hand-written scanner with the regex's
// leftmost-first semantics (std::regex has no \p{L}/\p{N}).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gs {

enum class PreTokenizerKind {
  kNone,        // the whole text is one piece
  kGpt2,        // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2Digits,  // each \p{N} alone first (Digits(individual_digits)), then kGpt2: SmolLM2,
                // StarCoder
  kLlama3,      // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                // ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kQwen2,       // as kLlama3 with \p{N} instead of \p{N}{1,3}
};

// The scanner for a Split pre-tokenizer's regex, if it is one we know.
std::optional<PreTokenizerKind> PreTokenizerForRegex(std::string_view regex);
// The scanner for a GGUF tokenizer.ggml.pre name, if it is one we know.
std::optional<PreTokenizerKind> PreTokenizerForGgufName(std::string_view name);

// Splits `text` into consecutive pieces (views into `text`) covering all of it.
std::vector<std::string_view> PreTokenize(std::string_view text, PreTokenizerKind kind);

}  // namespace gs
