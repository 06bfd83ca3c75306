// The two pictures of `groupshard inspect`: a grid of per-head key heatmaps
// (one row per KV group, one panel per query head) and the head x head
// cosine-similarity matrix with the groups marked.
#pragma once

#include <string>
#include <vector>

#include "core/key_inspector.h"
#include "core/png_image.h"

namespace gs {

// Panel for head h sits in row GroupOfHead(h), column h % (N/G); each panel
// is tokens (down) x head_dim (across) on one colour scale shared by all.
RgbImage RenderKeyGrid(const LayerKeys& keys, const std::string& title);

// similarity: [n_heads * n_heads] from KeySimilarity.
RgbImage RenderSimilarity(const LayerKeys& keys, const std::vector<double>& similarity,
                          const std::string& title);

// Where RenderKeyGrid put head h's panel (for tests): top-left corner and the
// size of one token x head_dim cell in pixels.
struct PanelGeometry {
  int x = 0, y = 0;
  int cell_w = 1, cell_h = 1;
};
PanelGeometry KeyPanelGeometry(const LayerKeys& keys, int h);

}  // namespace gs
