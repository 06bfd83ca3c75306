#include "core/pretokenizer.h"

#include "core/unicode.h"

namespace gs {
namespace {

constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum Cat : uint8_t { kL, kN, kS, kO };

// The text as code points, with their classes and byte offsets.
struct Chars {
  std::vector<uint32_t> cp;
  std::vector<Cat> cat;
  std::vector<size_t> off;  // off[i] = byte offset of cp[i]; off[n] = text size

  explicit Chars(std::string_view text) {
    for (size_t pos = 0; pos < text.size();) {
      int len;
      uint32_t c = DecodeUtf8(text, pos, &len);
      cp.push_back(c);
      cat.push_back(IsLetter(c) ? kL : IsNumber(c) ? kN : IsWhitespace(c) ? kS : kO);
      off.push_back(pos);
      pos += len;
    }
    off.push_back(text.size());
  }
  size_t size() const { return cp.size(); }
};

uint32_t Lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length (in code points) of a contraction 's 't 're 've 'm 'll 'd at i, or 0.
size_t Contraction(const Chars& s, size_t i, bool ignore_case) {
  if (s.cp[i] != '\'' || i + 1 >= s.size()) return 0;
  auto at = [&](size_t k) -> uint32_t {
    if (k >= s.size()) return 0;
    return ignore_case ? Lower(s.cp[k]) : s.cp[k];
  };
  uint32_t a = at(i + 1), b = at(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

size_t RunOf(const Chars& s, size_t i, Cat c, size_t max_len = SIZE_MAX) {
  size_t j = i;
  while (j < s.size() && s.cat[j] == c && j - i < max_len) ++j;
  return j;
}

// \s+(?!\S)|\s+ at i (s.cat[i] == kS): the run, less its last character when
// a non-space follows and the run is longer than one.
size_t WhitespaceEnd(const Chars& s, size_t i) {
  size_t j = RunOf(s, i, kS);
  if (j == s.size() || j - i == 1) return j;
  return j - 1;
}

// One match of the GPT-2 pattern starting at i; returns its end.
size_t Gpt2Match(const Chars& s, size_t i) {
  if (size_t n = Contraction(s, i, false)) return i + n;
  size_t k = i;
  if (s.cp[i] == ' ' && i + 1 < s.size() && s.cat[i + 1] != kS) k = i + 1;
  if (s.cat[k] != kS) return RunOf(s, k, s.cat[k]);
  return WhitespaceEnd(s, i);
}

bool IsCrLf(uint32_t c) { return c == '\r' || c == '\n'; }

size_t Llama3Match(const Chars& s, size_t i, size_t max_digits) {
  if (size_t n = Contraction(s, i, true)) return i + n;
  Cat c = s.cat[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c == kL) return RunOf(s, i, kL);
  if (c != kN && !IsCrLf(s.cp[i]) && i + 1 < s.size() && s.cat[i + 1] == kL) {
    return RunOf(s, i + 1, kL);
  }
  // \p{N}{1,3}
  if (c == kN) return RunOf(s, i, kN, max_digits);
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t k = i;
  if (s.cp[i] == ' ' && i + 1 < s.size() && s.cat[i + 1] == kO) k = i + 1;
  if (s.cat[k] == kO) {
    size_t j = RunOf(s, k, kO);
    while (j < s.size() && IsCrLf(s.cp[j])) ++j;
    return j;
  }
  // \s*[\r\n]+ : up to and including the run's last line break.
  size_t j = RunOf(s, i, kS);
  for (size_t m = j; m > i; --m) {
    if (IsCrLf(s.cp[m - 1])) return m;
  }
  return WhitespaceEnd(s, i);
}

void Scan(std::string_view text, PreTokenizerKind kind, std::vector<std::string_view>* out) {
  Chars s(text);
  for (size_t i = 0; i < s.size();) {
    size_t j;
    switch (kind) {
      case PreTokenizerKind::kGpt2:
        j = Gpt2Match(s, i);
        break;
      case PreTokenizerKind::kLlama3:
        j = Llama3Match(s, i, 3);
        break;
      case PreTokenizerKind::kQwen2:
        j = Llama3Match(s, i, 1);
        break;
      default:
        j = s.size();
    }
    out->push_back(text.substr(s.off[i], s.off[j] - s.off[i]));
    i = j;
  }
}

}  // namespace

std::optional<PreTokenizerKind> PreTokenizerForRegex(std::string_view regex) {
  if (regex == kGpt2Regex) return PreTokenizerKind::kGpt2;
  if (regex == kLlama3Regex) return PreTokenizerKind::kLlama3;
  if (regex == kQwen2Regex) return PreTokenizerKind::kQwen2;
  return std::nullopt;
}

std::optional<PreTokenizerKind> PreTokenizerForGgufName(std::string_view name) {
  if (name == "default" || name == "gpt-2" || name == "gpt2") return PreTokenizerKind::kGpt2;
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") {
    return PreTokenizerKind::kLlama3;
  }
  if (name == "qwen2") return PreTokenizerKind::kQwen2;
  if (name == "smollm" || name == "starcoder" || name == "refact" || name == "codeshell") {
    return PreTokenizerKind::kGpt2Digits;
  }
  return std::nullopt;
}

std::vector<std::string_view> PreTokenize(std::string_view text, PreTokenizerKind kind) {
  std::vector<std::string_view> out;
  if (kind == PreTokenizerKind::kNone) {
    if (!text.empty()) out.push_back(text);
    return out;
  }
  if (kind != PreTokenizerKind::kGpt2Digits) {
    Scan(text, kind, &out);
    return out;
  }
  // Digits(individual_digits=true): every number character is its own piece,
  // and the text between them goes through the GPT-2 pattern on its own.
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    int len;
    uint32_t c = DecodeUtf8(text, pos, &len);
    if (IsNumber(c)) {
      if (pos > start) Scan(text.substr(start, pos - start), PreTokenizerKind::kGpt2, &out);
      out.push_back(text.substr(pos, len));
      start = pos + len;
    }
    pos += len;
  }
  if (start < text.size()) Scan(text.substr(start), PreTokenizerKind::kGpt2, &out);
  return out;
}

}  // namespace gs
