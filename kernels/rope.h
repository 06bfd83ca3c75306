// Rotary position embedding in the Hugging Face convention: dimension i pairs
// with i + head_dim/2 (rotate_half). GGUF weights are converted to this order
// at load, so one convention holds inside.
#pragma once

#include <cstdint>

namespace gs::kernels {

// x [n_tokens, n_heads, head_dim], rotated in place by each token's position;
// inv_freq [head_dim/2] (the model computes it from its RoPE settings).
void RopeApply(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions,
               const float* inv_freq);

}  // namespace gs::kernels
