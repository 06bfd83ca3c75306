// The raster, the bitmap font and PNG round trips through libpng.
#include "core/png_image.h"

#include <gtest/gtest.h>

#include <set>

#include "core/bitmap_font.h"
#include "tests/test_util.h"

namespace gs {
namespace {

TEST(PngImageTest, WritesAndReadsBackExactly) {
  RgbImage img(37, 21, {10, 20, 30});
  img.FillRect(3, 4, 10, 5, {200, 0, 100});
  img.DrawText(1, 12, "H7 G2", {0, 0, 0});
  img.Set(36, 20, {1, 2, 3});
  const std::string path = gs::testing::TempDir() + "/img.png";
  ASSERT_TRUE(img.WritePng(path).ok());
  auto back = RgbImage::ReadPng(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->width(), 37);
  EXPECT_EQ(back->height(), 21);
  EXPECT_EQ(back->data(), img.data());
  EXPECT_EQ(back->Get(36, 20), (Rgb{1, 2, 3}));
}

TEST(PngImageTest, ReadingAMissingOrBadFileFailsWithItsName) {
  auto missing = RgbImage::ReadPng("/nonexistent/x.png");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/x.png"), std::string::npos);
  EXPECT_FALSE(RgbImage(4, 4).WritePng("/nonexistent/dir/x.png").ok());
}

TEST(PngImageTest, DrawingClipsAtTheEdges) {
  RgbImage img(8, 8);
  img.FillRect(-5, -5, 100, 100, {1, 1, 1});
  img.DrawText(6, 6, "88", {2, 2, 2}, 3);
  EXPECT_EQ(img.Get(0, 0), (Rgb{1, 1, 1}));
}

TEST(BitmapFontTest, DigitsAndLabelLettersAreDistinctAndInked) {
  std::set<std::array<uint8_t, Glyph::kHeight>> seen;
  for (char c : std::string("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:=/()_")) {
    EXPECT_TRUE(HasGlyph(c)) << c;
    const Glyph& g = GlyphFor(c);
    int ink = 0;
    for (int r = 0; r < Glyph::kHeight; ++r) {
      for (int col = 0; col < Glyph::kWidth; ++col) ink += g.Ink(col, r);
    }
    EXPECT_GT(ink, 0) << c;
    EXPECT_TRUE(seen.insert(g.rows).second) << "glyph of '" << c << "' repeats another";
  }
  EXPECT_EQ(GlyphFor('h').rows, GlyphFor('H').rows);
  EXPECT_FALSE(HasGlyph('@'));
}

TEST(BitmapFontTest, TextIsDrawnWhereItsWidthSays) {
  RgbImage img(60, 10);
  const int w = img.DrawText(0, 0, "H12", {0, 0, 0});
  EXPECT_EQ(w, RgbImage::TextWidth("H12"));
  EXPECT_EQ(w, 3 * 6 - 1);
  // 'H' has ink in its first column on every row; nothing is drawn past w.
  for (int y = 0; y < 7; ++y) EXPECT_EQ(img.Get(0, y), (Rgb{0, 0, 0}));
  for (int x = w; x < 60; ++x) {
    for (int y = 0; y < 10; ++y) EXPECT_EQ(img.Get(x, y), (Rgb{255, 255, 255}));
  }
}

TEST(DivergingColorTest, BlueWhiteRed) {
  const Rgb lo = DivergingColor(-1), mid = DivergingColor(0), hi = DivergingColor(1);
  EXPECT_GT(lo.b, lo.r);
  EXPECT_GT(hi.r, hi.b);
  EXPECT_GT(mid.r, 240);
  EXPECT_GT(mid.b, 240);
  EXPECT_EQ(DivergingColor(5), hi);
  EXPECT_EQ(DivergingColor(-5), lo);
}

}  // namespace
}  // namespace gs
