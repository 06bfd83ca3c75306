// An 8-bit RGB raster with the few drawing operations the inspect pictures
// need (rectangles, text in the built-in bitmap font, colour maps), read and
// written as PNG through libpng.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/status.h"

namespace gs {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

class RgbImage {
 public:
  RgbImage() = default;
  RgbImage(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  // Row-major RGB bytes, 3 per pixel.
  const std::vector<uint8_t>& data() const { return data_; }

  // Drawing clips to the image: pixels outside it are ignored.
  void Set(int x, int y, Rgb c);
  Rgb Get(int x, int y) const;
  void FillRect(int x, int y, int w, int h, Rgb c);
  // One-pixel outline of the rectangle.
  void DrawRect(int x, int y, int w, int h, Rgb c);
  // Text in the 5x7 font with its top-left corner at (x, y), each font pixel
  // drawn as scale x scale. Returns the width drawn.
  int DrawText(int x, int y, std::string_view text, Rgb c, int scale = 1);
  static int TextWidth(std::string_view text, int scale = 1);
  static int TextHeight(int scale = 1);

  Status WritePng(const std::string& path) const;
  // Any PNG libpng reads, converted to 8-bit RGB.
  static StatusOr<RgbImage> ReadPng(const std::string& path);

 private:
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> data_;
};

// Blue (-1) through white (0) to red (+1); t is clamped to [-1, 1].
Rgb DivergingColor(double t);

}  // namespace gs
