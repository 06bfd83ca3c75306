// UTF-8 decoding, the few Unicode classes the pre-tokenizers need (\p{L},
// \p{N}, \s; categories from utf8proc), NFC normalization (utf8proc), and
// GPT-2's byte <-> printable-character map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gs {

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

// Unicode Normalization Form C of UTF-8 `text` (canonical decomposition,
// then composition); text that is not valid UTF-8 comes back unchanged.
std::string ToNfc(std::string_view text);

// GPT-2's reversible map from bytes to printable code points, used by
// byte-level BPE vocabularies ("Ġ" stands for the byte 0x20).
uint32_t ByteToUnicode(uint8_t b);
// Inverse of ByteToUnicode; -1 for code points outside the map.
int UnicodeToByte(uint32_t cp);

}  // namespace gs
