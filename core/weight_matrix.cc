#include "core/weight_matrix.h"

namespace gs {

DType ResidentDType(DType stored, bool is_matrix) {
  // fp32 for now: all CPU kernels take fp32 weights.
  (void)stored;
  (void)is_matrix;
  return DType::kF32;
}

}  // namespace gs
