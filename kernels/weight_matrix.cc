#include "kernels/weight_matrix.h"

namespace gs {

DType ResidentDType(DType stored, bool is_matrix) {
  // Matrices stay as stored: the CPU kernels multiply fp32, bf16/f16 and
  // Q8_0/Q4_0/Q4_1 blocks directly, so decoding streams the stored bytes.
  // Vectors (norms, biases) are small and kept in fp32.
  return is_matrix ? stored : DType::kF32;
}

}  // namespace gs
