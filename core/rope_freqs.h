// RoPE's inverse frequencies for a model: the base frequencies of
// rope_theta with the model's rope scaling applied. The rotation itself is
// an operation (kernels/rope.h) that takes the result.
#pragma once

#include <vector>

#include "core/model_config.h"

namespace gs {

// Inverse frequencies [head_dim/2], with rope scaling applied (llama3 or
// linear). `freq_factors`, if non-empty, divides each frequency (GGUF's
// rope_freqs tensor, which stores llama3 scaling precomputed).
std::vector<float> RopeInvFreq(const ModelConfig& c, const std::vector<float>& freq_factors = {});

}  // namespace gs
