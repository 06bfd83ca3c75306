#include "core/key_images.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace gs {

namespace {

constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kGrey{110, 110, 110};
constexpr Rgb kWhite{255, 255, 255};
// One colour per KV group for frames and labels, cycling.
constexpr Rgb kGroupColors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {148, 103, 189},
                                {214, 39, 40},  {140, 86, 75},  {227, 119, 194}, {23, 190, 207}};
Rgb GroupColor(int g) { return kGroupColors[g % std::size(kGroupColors)]; }

// Layout of the key grid.
constexpr int kMargin = 12;
constexpr int kRowLabelW = 44;  // "G12" at scale 2 plus a gap
constexpr int kTitleH = 46;     // title (scale 2) and one line of notes
constexpr int kPanelLabelH = 20;
constexpr int kPanelGap = 12;
constexpr int kLegendH = 34;

int CellW(const LayerKeys& k) { return std::clamp(160 / std::max(k.head_dim, 1), 1, 16); }
int CellH(const LayerKeys& k) { return std::clamp(160 / std::max(k.n_tokens, 1), 1, 16); }

std::string Fmt(const char* f, double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

// A horizontal colour ramp from -1 to 1 with its end labels.
void DrawLegend(RgbImage& img, int x, int y, int w, const std::string& lo, const std::string& hi) {
  for (int i = 0; i < w; ++i) {
    img.FillRect(x + i, y, 1, 10, DivergingColor(2.0 * i / std::max(w - 1, 1) - 1.0));
  }
  img.DrawRect(x - 1, y - 1, w + 2, 12, kGrey);
  img.DrawText(x, y + 15, lo, kBlack);
  img.DrawText(x + w / 2 - 2, y + 15, "0", kBlack);
  img.DrawText(x + w - RgbImage::TextWidth(hi), y + 15, hi, kBlack);
}

}  // namespace

PanelGeometry KeyPanelGeometry(const LayerKeys& keys, int h) {
  const int per_group = keys.n_heads / keys.n_kv_heads;
  const int pw = keys.head_dim * CellW(keys), ph = keys.n_tokens * CellH(keys);
  PanelGeometry g;
  g.cell_w = CellW(keys);
  g.cell_h = CellH(keys);
  g.x = kMargin + kRowLabelW + (h % per_group) * (pw + kPanelGap);
  g.y = kTitleH + keys.GroupOfHead(h) * (kPanelLabelH + ph + kPanelGap) + kPanelLabelH;
  return g;
}

RgbImage RenderKeyGrid(const LayerKeys& keys, const std::string& title) {
  const int per_group = keys.n_heads / keys.n_kv_heads;
  const int pw = keys.head_dim * CellW(keys), ph = keys.n_tokens * CellH(keys);
  const int grid_w = per_group * (pw + kPanelGap) - kPanelGap;
  const int title_w = RgbImage::TextWidth(title, 2);
  const int width = kMargin * 2 + kRowLabelW + std::max({grid_w, title_w - kRowLabelW, 200});
  const int height =
      kTitleH + keys.n_kv_heads * (kPanelLabelH + ph + kPanelGap) + kLegendH + kMargin;
  RgbImage img(width, height);
  img.DrawText(kMargin, kMargin, title, kBlack, 2);
  const float scale = std::max(keys.MaxAbs(), 1e-30f);
  img.DrawText(kMargin, kMargin + 20,
               "EACH PANEL: TOKENS DOWN, HEAD_DIM ACROSS. ROW = KV GROUP. HEAD H READS GROUP H/" +
                   std::to_string(per_group),
               kGrey);
  for (int g = 0; g < keys.n_kv_heads; ++g) {
    const PanelGeometry first = KeyPanelGeometry(keys, g * per_group);
    img.DrawText(kMargin, first.y + ph / 2 - 7, "G" + std::to_string(g), GroupColor(g), 2);
  }
  for (int h = 0; h < keys.n_heads; ++h) {
    const PanelGeometry p = KeyPanelGeometry(keys, h);
    const int g = keys.GroupOfHead(h);
    img.DrawText(p.x, p.y - kPanelLabelH + 3, "H" + std::to_string(h), kBlack, 2);
    img.DrawText(p.x + RgbImage::TextWidth("H" + std::to_string(h), 2) + 8, p.y - kPanelLabelH + 10,
                 "G" + std::to_string(g), GroupColor(g));
    const std::vector<float> k = keys.HeadKeys(h);  // [n_tokens, head_dim]
    for (int t = 0; t < keys.n_tokens; ++t) {
      for (int d = 0; d < keys.head_dim; ++d) {
        img.FillRect(p.x + d * p.cell_w, p.y + t * p.cell_h, p.cell_w, p.cell_h,
                     DivergingColor(k[static_cast<size_t>(t) * keys.head_dim + d] / scale));
      }
    }
    img.DrawRect(p.x - 2, p.y - 2, pw + 4, ph + 4, GroupColor(g));
  }
  DrawLegend(img, kMargin + kRowLabelW, height - kLegendH - kMargin + 8, 160, Fmt("-%.2g", scale),
             Fmt("+%.2g", scale));
  return img;
}

RgbImage RenderSimilarity(const LayerKeys& keys, const std::vector<double>& similarity,
                          const std::string& title) {
  const int N = keys.n_heads;
  const int per_group = N / keys.n_kv_heads;
  const int cell = std::clamp(360 / std::max(N, 1), 6, 48);
  const int label_scale = cell >= 24 ? 2 : 1;
  const int label_w = RgbImage::TextWidth(std::to_string(N - 1), label_scale) + 10;
  const int x0 = kMargin + label_w, y0 = kTitleH + RgbImage::TextHeight(label_scale) + 8;
  const int width = std::max(x0 + N * cell + kMargin, kMargin * 2 + RgbImage::TextWidth(title, 2));
  const int height = y0 + N * cell + kLegendH + kMargin + 8;
  RgbImage img(std::max(width, x0 + 200), height);
  img.DrawText(kMargin, kMargin, title, kBlack, 2);
  img.DrawText(kMargin, kMargin + 20, "COSINE OF KEYS, HEAD X HEAD", kGrey);
  for (int a = 0; a < N; ++a) {
    const Rgb gc = GroupColor(a / per_group);
    const std::string s = std::to_string(a);
    img.DrawText(x0 + a * cell + (cell - RgbImage::TextWidth(s, label_scale)) / 2,
                 y0 - RgbImage::TextHeight(label_scale) - 4, s, gc, label_scale);
    img.DrawText(x0 - RgbImage::TextWidth(s, label_scale) - 6,
                 y0 + a * cell + (cell - RgbImage::TextHeight(label_scale)) / 2, s, gc,
                 label_scale);
    for (int b = 0; b < N; ++b) {
      const double v = similarity[static_cast<size_t>(a) * N + b];
      img.FillRect(x0 + b * cell, y0 + a * cell, cell, cell, DivergingColor(v));
      if (cell >= 32) {
        const std::string txt = v == 1.0 ? "1" : Fmt("%.2f", v);
        img.DrawText(x0 + b * cell + (cell - RgbImage::TextWidth(txt)) / 2,
                     y0 + a * cell + (cell - RgbImage::TextHeight()) / 2, txt,
                     std::fabs(v) > 0.6 ? kWhite : kBlack);
      }
    }
  }
  // Group boundaries.
  for (int g = 0; g <= keys.n_kv_heads; ++g) {
    const int off = g * per_group * cell;
    img.FillRect(x0 + off - 1, y0 - 1, 2, N * cell + 2, kBlack);
    img.FillRect(x0 - 1, y0 + off - 1, N * cell + 2, 2, kBlack);
  }
  DrawLegend(img, x0, y0 + N * cell + 14, 160, "-1", "+1");
  return img;
}

}  // namespace gs
