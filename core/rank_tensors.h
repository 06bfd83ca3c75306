// The checkpoint tensors one rank reads, each with the slice its shard gives
// it: the one description of which tensor goes where. The model's loader,
// its random-weight twin and `plan`'s report all walk this list, so what
// `plan` reports is what the loader allocates.
#pragma once

#include <string>
#include <vector>

#include "core/model_config.h"
#include "kernels/dtype.h"
#include "kernels/range.h"
#include "parallel/shard_plan.h"

namespace gs {

enum class TensorRole {
  kAttnNorm,
  kMlpNorm,
  kQ,
  kK,
  kV,
  kQBias,
  kKBias,
  kVBias,
  kO,
  kGate,
  kUp,
  kDown,
  kEmbedding,
  kFinalNorm,
  kLmHead,
};

struct RankTensor {
  TensorRole role;
  int layer = -1;    // -1 for the tensors outside the layers
  std::string name;  // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  Range rows;        // of the checkpoint matrix ({0, 1} for a vector)
  Range cols;        // of the checkpoint matrix (the elements of a vector)
  bool matrix = false;

  // The dtype the CPU keeps it in when stored as `stored`: matrices, the
  // embedding table included, as stored (ResidentDType); vectors in fp32.
  DType Resident(DType stored) const;
};

// Every tensor rank `shard` reads, layer by layer, then the embedding, the
// final norm and the LM head (the embedding table when tied: the same rows,
// which the model keeps once). Not listed:
// the optional, unsliced rope_freqs.
std::vector<RankTensor> RankTensors(const ModelConfig& c, const RankShard& shard);

}  // namespace gs
