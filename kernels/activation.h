// SwiGLU gating: out = silu(gate) * up, elementwise.
#pragma once

#include <cstdint>

namespace gs::kernels {

// gate, up, out [n] (out may alias gate).
void SiluMul(const float* gate, const float* up, int64_t n, float* out);

}  // namespace gs::kernels
