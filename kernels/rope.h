// Rotary position embedding in the Hugging Face convention: dimension i pairs
// with i + head_dim/2 (rotate_half). GGUF weights are converted to this order
// at load, so one convention holds inside.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model_config.h"

namespace gs::kernels {

// Inverse frequencies [head_dim/2], with rope scaling applied (llama3 or
// linear). `freq_factors`, if non-empty, divides each frequency (GGUF's
// rope_freqs tensor, which stores llama3 scaling precomputed).
std::vector<float> RopeInvFreq(const ModelConfig& c, const std::vector<float>& freq_factors = {});

// x [n_tokens, n_heads, head_dim], rotated in place by each token's position.
void RopeApply(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions,
               const std::vector<float>& inv_freq);

}  // namespace gs::kernels
