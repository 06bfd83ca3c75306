// What `groupshard inspect` looks at: the keys every query head attends with
// in one layer (after RoPE), and how alike the heads' keys are. Under GQA the
// query heads of one KV group read the same keys, so their similarity is
// exactly 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/llama_model.h"
#include "kernels/status.h"

namespace gs {

struct LayerKeys {
  int layer = 0;
  int n_tokens = 0;
  int n_heads = 0;     // N query heads
  int n_kv_heads = 0;  // G groups
  int head_dim = 0;
  std::vector<float> k;  // [n_tokens, n_kv_heads, head_dim], after RoPE

  int GroupOfHead(int h) const { return h / (n_heads / n_kv_heads); }
  // The keys query head h attends with: [n_tokens, head_dim].
  std::vector<float> HeadKeys(int h) const;
  // max |k| over the layer, the scale the heatmaps share.
  float MaxAbs() const;
};

// Runs `tokens` through `model` (which must hold every KV group: one rank)
// and keeps the keys of layer `layer`. Errors: layer out of range, no tokens,
// a sharded model.
StatusOr<LayerKeys> CaptureLayerKeys(LlamaModel& model, const std::vector<int32_t>& tokens,
                                     int layer);

// Cosine similarity of every pair of heads' flattened key matrices:
// [n_heads * n_heads], row-major. A head whose keys are all zero gets 0.
std::vector<double> KeySimilarity(const LayerKeys& keys);

// {"layer", "n_heads", "n_kv_heads", "head_dim", "n_tokens", "head_group": [...],
//  "similarity": [[...], ...]}
nlohmann::json InspectJson(const LayerKeys& keys, const std::vector<double>& similarity);

}  // namespace gs
