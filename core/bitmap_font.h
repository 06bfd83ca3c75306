// A tiny 5x7 pixel font (digits, A-Z, a few signs) for labelling pictures
// without a font library. Lower-case letters draw as upper case.
#pragma once

#include <array>
#include <cstdint>

namespace gs {

struct Glyph {
  static constexpr int kWidth = 5;
  static constexpr int kHeight = 7;
  // Row r (top first) has bit (kWidth-1-c) set when column c is ink.
  std::array<uint8_t, kHeight> rows;
  bool Ink(int c, int r) const { return (rows[r] >> (kWidth - 1 - c)) & 1; }
};

// The glyph for `ch`; characters the font lacks get a hollow box, so a
// missing glyph shows up instead of vanishing.
const Glyph& GlyphFor(char ch);
// Whether the font has a real glyph for `ch`.
bool HasGlyph(char ch);

}  // namespace gs
