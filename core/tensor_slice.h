// Bounds checks and copies of a [rows x cols] slice out of a row-major tensor
// stored in a mapping; shared by the safetensors and GGUF weight sources.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/status.h"
#include "core/weight_source.h"

namespace gs {

// Maps a requested (Hugging Face order) row to the stored row; empty = identity.
using RowMap = std::function<int64_t(int64_t)>;

// Checks `rows` x `cols` lies inside `t` (1-D tensors take rows {0,1}) and that
// quantized column ranges fall on block boundaries. `file` names the source in errors.
Status CheckSlice(const std::string& file, const TensorInfo& t, Range rows, Range cols);

// Dequantizes the slice into `dst` (rows.size() x cols.size() floats). The
// slice must have passed CheckSlice; only its bytes are touched.
void CopySliceF32(const TensorInfo& t, const uint8_t* data, Range rows, Range cols,
                  const RowMap& row_map, float* dst);

// Appends the stored bytes of the slice, row after row, to `out`.
void CopySliceRaw(const TensorInfo& t, const uint8_t* data, Range rows, Range cols,
                  const RowMap& row_map, std::vector<uint8_t>* out);

}  // namespace gs
