// UTF-8 decoding and the few Unicode classes the pre-tokenizers need
// (\p{L}, \p{N}, \s), plus GPT-2's byte <-> printable-character map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gs {

struct CodepointRange {
  uint32_t first;
  uint32_t last;
};

// Length in bytes of the UTF-8 sequence whose lead byte is `lead`; 1 for
// bytes that cannot start a sequence (they are then taken one at a time).
int Utf8SeqLen(uint8_t lead);
// Decodes the code point at text[pos]; sets *len to the bytes consumed. An
// invalid or truncated sequence decodes as its first byte with *len = 1.
uint32_t DecodeUtf8(std::string_view text, size_t pos, int* len);
void AppendUtf8(uint32_t cp, std::string* out);
// Bytes at the end of `bytes` that begin a UTF-8 sequence not yet complete
// (0 when the text ends on a character boundary or the tail is invalid).
size_t IncompleteUtf8Tail(std::string_view bytes);

bool IsLetter(uint32_t cp);      // general category L*
bool IsNumber(uint32_t cp);      // general category N*
bool IsWhitespace(uint32_t cp);  // the White_Space property (regex \s)

// GPT-2's reversible map from bytes to printable code points, used by
// byte-level BPE vocabularies ("Ġ" stands for the byte 0x20).
uint32_t ByteToUnicode(uint8_t b);
// Inverse of ByteToUnicode; -1 for code points outside the map.
int UnicodeToByte(uint32_t cp);

namespace unicode_internal {
extern const CodepointRange kLetterRanges[];
extern const size_t kLetterRangesSize;
extern const CodepointRange kNumberRanges[];
extern const size_t kNumberRangesSize;
}  // namespace unicode_internal

}  // namespace gs
