// Reads every tensor of a WeightSource the way the loader does, in a few small
// slices (first and last rows, first and last block of columns), both
// dequantized and raw. Shared by the GGUF and safetensors fuzz targets.
#pragma once

#include <algorithm>
#include <vector>

#include "core/weight_source.h"

namespace gs::fuzz {

inline void ReadSomeOfEveryTensor(const WeightSource& src) {
  (void)CheckModelTensors(src);
  (void)src.config().Validate();
  std::vector<float> f32;
  std::vector<uint8_t> raw;
  for (const std::string& name : src.TensorNames()) {
    const TensorInfo* info = src.Find(name);
    if (info == nullptr) continue;
    const int64_t rows = info->rows(), cols = info->cols();
    const int64_t block = BlockElems(info->dtype);
    if (rows <= 0 || cols <= 0 || block <= 0) continue;
    const int64_t n_rows = std::min<int64_t>(rows, 2);
    const int64_t n_cols = std::min<int64_t>(cols, std::max<int64_t>(block, 8) / block * block);
    const Range row_ranges[] = {{0, n_rows}, {rows - n_rows, rows}};
    const Range col_ranges[] = {{0, n_cols}, {cols - n_cols, cols}};
    for (const Range& r : row_ranges) {
      for (const Range& c : col_ranges) {
        f32.assign(static_cast<size_t>(r.size() * c.size()), 0.0f);
        (void)src.ReadF32(name, r, c, f32.data());
        raw.clear();
        (void)src.ReadRaw(name, r, c, &raw);
      }
    }
    // Out-of-bounds and misaligned requests must come back as errors.
    f32.assign(static_cast<size_t>(n_cols), 0.0f);
    (void)src.ReadF32(name, {rows, rows + 1}, {0, n_cols}, f32.data());
    (void)src.ReadF32(name, {0, 1}, {cols - n_cols + 1, cols + 1}, f32.data());
  }
}

}  // namespace gs::fuzz
