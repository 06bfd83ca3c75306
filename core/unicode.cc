#include "core/unicode.h"

#include <algorithm>
#include <array>

namespace gs {
namespace {

bool InRanges(uint32_t cp, const CodepointRange* ranges, size_t n) {
  const CodepointRange* end = ranges + n;
  const CodepointRange* it = std::upper_bound(
      ranges, end, cp, [](uint32_t v, const CodepointRange& r) { return v < r.first; });
  if (it == ranges) return false;
  --it;
  return cp <= it->last;
}

struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  ByteMap() {
    // Printable Latin-1 bytes keep their code point; the rest are moved to
    // 256 + n in byte order, so that every byte has a visible stand-in.
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
    }
  }
};

const ByteMap& GetByteMap() {
  static const ByteMap map;
  return map;
}

}  // namespace

int Utf8SeqLen(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

uint32_t DecodeUtf8(std::string_view text, size_t pos, int* len) {
  uint8_t lead = static_cast<uint8_t>(text[pos]);
  int n = Utf8SeqLen(lead);
  if (n == 1 || pos + n > text.size()) {
    *len = 1;
    return lead;
  }
  uint32_t cp = lead & (0x7F >> n);
  for (int i = 1; i < n; ++i) {
    uint8_t c = static_cast<uint8_t>(text[pos + i]);
    if ((c & 0xC0) != 0x80) {
      *len = 1;
      return lead;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *len = n;
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t IncompleteUtf8Tail(std::string_view bytes) {
  // Walk back over at most 3 continuation bytes to the lead byte.
  size_t n = bytes.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    uint8_t c = static_cast<uint8_t>(bytes[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    int need = Utf8SeqLen(c);
    return (need > 1 && static_cast<size_t>(need) > back) ? back : 0;
  }
  return 0;
}

bool IsLetter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return InRanges(cp, unicode_internal::kLetterRanges, unicode_internal::kLetterRangesSize);
}

bool IsNumber(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return InRanges(cp, unicode_internal::kNumberRanges, unicode_internal::kNumberRangesSize);
}

bool IsWhitespace(uint32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

uint32_t ByteToUnicode(uint8_t b) { return GetByteMap().to_cp[b]; }

int UnicodeToByte(uint32_t cp) {
  static const std::array<int16_t, 324> inverse = [] {
    std::array<int16_t, 324> inv{};
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[GetByteMap().to_cp[b]] = static_cast<int16_t>(b);
    return inv;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

}  // namespace gs
