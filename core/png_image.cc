#include "core/png_image.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/bitmap_font.h"
#include "kernels/check.h"

namespace gs {

RgbImage::RgbImage(int width, int height, Rgb background) : width_(width), height_(height) {
  CHECK(width > 0 && height > 0) << width << "x" << height;
  data_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < data_.size(); i += 3) {
    data_[i] = background.r;
    data_[i + 1] = background.g;
    data_[i + 2] = background.b;
  }
}

void RgbImage::Set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  uint8_t* p = &data_[(static_cast<size_t>(y) * width_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

Rgb RgbImage::Get(int x, int y) const {
  CHECK(x >= 0 && y >= 0 && x < width_ && y < height_) << x << "," << y;
  const uint8_t* p = &data_[(static_cast<size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void RgbImage::FillRect(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + w, width_), y1 = std::min(y + h, height_);
  for (int yy = y0; yy < y1; ++yy) {
    for (int xx = x0; xx < x1; ++xx) Set(xx, yy, c);
  }
}

void RgbImage::DrawRect(int x, int y, int w, int h, Rgb c) {
  FillRect(x, y, w, 1, c);
  FillRect(x, y + h - 1, w, 1, c);
  FillRect(x, y, 1, h, c);
  FillRect(x + w - 1, y, 1, h, c);
}

int RgbImage::TextWidth(std::string_view text, int scale) {
  // One blank column between glyphs.
  return text.empty() ? 0 : static_cast<int>(text.size()) * (Glyph::kWidth + 1) * scale - scale;
}

int RgbImage::TextHeight(int scale) { return Glyph::kHeight * scale; }

int RgbImage::DrawText(int x, int y, std::string_view text, Rgb c, int scale) {
  int pen = x;
  for (char ch : text) {
    const Glyph& g = GlyphFor(ch);
    for (int r = 0; r < Glyph::kHeight; ++r) {
      for (int col = 0; col < Glyph::kWidth; ++col) {
        if (g.Ink(col, r)) FillRect(pen + col * scale, y + r * scale, scale, scale, c);
      }
    }
    pen += (Glyph::kWidth + 1) * scale;
  }
  return TextWidth(text, scale);
}

Status RgbImage::WritePng(const std::string& path) const {
  CHECK(!data_.empty()) << "empty image";
  png_image img;
  std::memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(width_);
  img.height = static_cast<png_uint_32>(height_);
  img.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&img, path.c_str(), 0, data_.data(), 0, nullptr)) {
    std::string msg = path + ": cannot write PNG: " + img.message;
    png_image_free(&img);
    return Status::IOError(msg);
  }
  return Status::Ok();
}

StatusOr<RgbImage> RgbImage::ReadPng(const std::string& path) {
  png_image img;
  std::memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) {
    return Status::IOError(path + ": cannot read PNG: " + img.message);
  }
  img.format = PNG_FORMAT_RGB;
  RgbImage out(static_cast<int>(img.width), static_cast<int>(img.height));
  if (!png_image_finish_read(&img, nullptr, out.data_.data(), 0, nullptr)) {
    std::string msg = path + ": cannot decode PNG: " + img.message;
    png_image_free(&img);
    return Status::Corruption(msg);
  }
  return out;
}

Rgb DivergingColor(double t) {
  if (std::isnan(t)) return {128, 128, 128};
  t = std::clamp(t, -1.0, 1.0);
  // Piecewise-linear through a few anchors of a blue-white-red ramp.
  struct Stop {
    double t;
    double r, g, b;
  };
  static const Stop kStops[] = {{-1.0, 5, 48, 97},
                                {-0.5, 67, 147, 195},
                                {0.0, 247, 247, 247},
                                {0.5, 214, 96, 77},
                                {1.0, 103, 0, 31}};
  for (size_t i = 1; i < std::size(kStops); ++i) {
    if (t <= kStops[i].t) {
      const Stop& a = kStops[i - 1];
      const Stop& b = kStops[i];
      const double f = (t - a.t) / (b.t - a.t);
      auto mix = [&](double x, double y) {
        return static_cast<uint8_t>(std::lround(x + (y - x) * f));
      };
      return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
    }
  }
  return {103, 0, 31};
}

}  // namespace gs
