// A weight matrix as held in memory by one rank: [rows = outputs, cols =
// inputs], row-major, in the resident dtype (see ResidentDType).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/huge_pages.h"

namespace gs {

struct WeightMatrix {
  DType dtype = DType::kF32;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features
  StreamedBytes data;  // on huge pages: streamed once per step
  // Q8_0/Q4_0/Q4_1 rows are in GGUF block layout when loaded and in the CPU
  // kernels' paired layout once kernels::PackForCpu has run (the only layout
  // the CPU products take).
  bool paired = false;

  const float* f32() const { return reinterpret_cast<const float*>(data.data()); }
  int64_t bytes() const { return static_cast<int64_t>(data.size()); }
};

// The dtype a stored weight is kept in once loaded. Matrices stay in a dtype
// the kernels multiply directly; everything else is fp32.
DType ResidentDType(DType stored, bool is_matrix);

}  // namespace gs
