// A weight matrix as held in memory by one rank: [rows = outputs, cols =
// inputs], row-major, in the resident dtype (see ResidentDType).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/huge_pages.h"
#include "kernels/weight_arena.h"

namespace gs {

// The bytes of one matrix: owned (tests, random weights), or a slice of a
// WeightArena shared by a rank's weights (loaded models). A copy owns its
// bytes.
class WeightData {
 public:
  WeightData() = default;
  WeightData(const WeightData& o);
  WeightData& operator=(const WeightData& o);
  WeightData(WeightData&& o) noexcept;
  WeightData& operator=(WeightData&& o) noexcept;

  uint8_t* data() { return ptr_; }
  const uint8_t* data() const { return ptr_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // `n` owned bytes (zeroed), replacing what was held.
  void resize(size_t n);
  // `n` bytes of `arena` (not initialised), replacing what was held.
  void Allocate(WeightArena& arena, size_t n);

 private:
  StreamedBytes own_;
  std::shared_ptr<uint8_t> arena_chunk_;
  uint8_t* ptr_ = nullptr;
  size_t size_ = 0;
};

struct WeightMatrix {
  DType dtype = DType::kF32;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features
  WeightData data;   // on huge pages: streamed once per step
  // Q8_0/Q4_0/Q4_1 rows are in GGUF block layout when loaded and in the CPU
  // kernels' packed layout (pairs of blocks; Q4 in groups of four pairs, see
  // kernels/cpu/quant_dot.h) once kernels::PackForCpu has run (the only
  // layout the CPU products take).
  bool paired = false;

  const float* f32() const { return reinterpret_cast<const float*>(data.data()); }
  int64_t bytes() const { return static_cast<int64_t>(data.size()); }
};

// The dtype a stored weight is kept in once loaded. Matrices stay in a dtype
// the kernels multiply directly; everything else is fp32.
DType ResidentDType(DType stored, bool is_matrix);

}  // namespace gs
