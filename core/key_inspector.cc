#include "core/key_inspector.h"

#include <cmath>

#include "kernels/check.h"
#include "core/sequence_forward.h"

namespace gs {

std::vector<float> LayerKeys::HeadKeys(int h) const {
  CHECK(h >= 0 && h < n_heads) << h;
  const int g = GroupOfHead(h);
  std::vector<float> out(static_cast<size_t>(n_tokens) * head_dim);
  for (int t = 0; t < n_tokens; ++t) {
    const float* src = &k[(static_cast<size_t>(t) * n_kv_heads + g) * head_dim];
    std::copy(src, src + head_dim, &out[static_cast<size_t>(t) * head_dim]);
  }
  return out;
}

float LayerKeys::MaxAbs() const {
  float m = 0;
  for (float v : k) m = std::max(m, std::fabs(v));
  return m;
}

StatusOr<LayerKeys> CaptureLayerKeys(LlamaModel& model, const std::vector<int32_t>& tokens,
                                     int layer) {
  const ModelConfig& c = model.config();
  if (layer < 0 || layer >= c.n_layers) {
    return Status::InvalidArgument("layer " + std::to_string(layer) +
                                   " out of range: the model has " + std::to_string(c.n_layers) +
                                   " layers (0.." + std::to_string(c.n_layers - 1) + ")");
  }
  if (tokens.empty()) return Status::InvalidArgument("no tokens to run");
  if (model.shard().n_local_groups() != c.n_kv_heads) {
    return Status::InvalidArgument("inspect needs the whole model on one rank");
  }
  LayerKeys keys;
  keys.layer = layer;
  keys.n_tokens = static_cast<int>(tokens.size());
  keys.n_heads = c.n_heads;
  keys.n_kv_heads = c.n_kv_heads;
  keys.head_dim = c.head_dim;
  model.set_observer([&](int il, const float*, const float* k, int64_t n) {
    if (il != layer) return;
    CHECK_EQ(n, static_cast<int64_t>(tokens.size()));
    keys.k.assign(k, k + n * c.n_kv_heads * c.head_dim);
  });
  SequenceForward run(model, static_cast<int>(tokens.size()));
  run.Run(tokens, {static_cast<int32_t>(tokens.size() - 1)}, nullptr);
  model.set_observer(nullptr);
  CHECK(!keys.k.empty()) << "observer never saw layer " << layer;
  return keys;
}

std::vector<double> KeySimilarity(const LayerKeys& keys) {
  const int N = keys.n_heads;
  std::vector<std::vector<float>> heads(N);
  std::vector<double> sq(N, 0.0);  // squared norms
  for (int h = 0; h < N; ++h) {
    heads[h] = keys.HeadKeys(h);
    for (float v : heads[h]) sq[h] += static_cast<double>(v) * v;
  }
  std::vector<double> sim(static_cast<size_t>(N) * N, 0.0);
  for (int a = 0; a < N; ++a) {
    for (int b = 0; b < N; ++b) {
      if (sq[a] == 0 || sq[b] == 0) continue;
      double dot = 0;
      for (size_t i = 0; i < heads[a].size(); ++i) {
        dot += static_cast<double>(heads[a][i]) * heads[b][i];
      }
      // sqrt(sq*sq) rounds back to sq exactly, so a head compared with
      // identical keys (same group) comes out exactly 1.
      sim[a * N + b] = dot / std::sqrt(sq[a] * sq[b]);
    }
  }
  return sim;
}

nlohmann::json InspectJson(const LayerKeys& keys, const std::vector<double>& similarity) {
  nlohmann::json j;
  j["layer"] = keys.layer;
  j["n_tokens"] = keys.n_tokens;
  j["n_heads"] = keys.n_heads;
  j["n_kv_heads"] = keys.n_kv_heads;
  j["head_dim"] = keys.head_dim;
  std::vector<int> groups;
  for (int h = 0; h < keys.n_heads; ++h) groups.push_back(keys.GroupOfHead(h));
  j["head_group"] = groups;
  nlohmann::json rows = nlohmann::json::array();
  for (int a = 0; a < keys.n_heads; ++a) {
    rows.push_back(std::vector<double>(similarity.begin() + a * keys.n_heads,
                                       similarity.begin() + (a + 1) * keys.n_heads));
  }
  j["similarity"] = rows;
  return j;
}

}  // namespace gs
