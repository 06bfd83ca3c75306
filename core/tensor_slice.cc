#include "core/tensor_slice.h"

#include <cstring>

namespace gs {

namespace {
std::string RangeText(Range r) {
  std::string s = "[";  // appended step by step: GCC 12 warns falsely on "lit" + string&&
  s += std::to_string(r.begin);
  s += ", ";
  s += std::to_string(r.end);
  s += ")";
  return s;
}
}  // namespace

Status CheckSlice(const std::string& file, const TensorInfo& t, Range rows, Range cols) {
  const std::string where = file + ": tensor " + t.name;
  if (t.shape.empty() || t.shape.size() > 2) {
    return Status::Unimplemented(where + ": slicing needs a 1-D or 2-D tensor, it has " +
                                 std::to_string(t.shape.size()) + " dimensions");
  }
  if (rows.begin < 0 || rows.begin > rows.end || rows.end > t.rows()) {
    return Status::InvalidArgument(where + ": rows " + RangeText(rows) + " outside [0, " +
                                   std::to_string(t.rows()) + ")");
  }
  if (cols.begin < 0 || cols.begin > cols.end || cols.end > t.cols()) {
    return Status::InvalidArgument(where + ": cols " + RangeText(cols) + " outside [0, " +
                                   std::to_string(t.cols()) + ")");
  }
  const int64_t block = BlockElems(t.dtype);
  if (cols.begin % block != 0 || cols.end % block != 0) {
    return Status::InvalidArgument(where + ": cols " + RangeText(cols) + " not aligned to the " +
                                   std::to_string(block) + "-element blocks of " +
                                   DTypeName(t.dtype));
  }
  return Status::Ok();
}

void CopySliceF32(const TensorInfo& t, const uint8_t* data, Range rows, Range cols,
                  const RowMap& row_map, float* dst) {
  const int64_t row_bytes = RowBytes(t.dtype, t.cols());
  const int64_t col_offset = RowBytes(t.dtype, cols.begin);
  for (int64_t r = rows.begin; r < rows.end; ++r) {
    const int64_t stored = row_map ? row_map(r) : r;
    DequantizeRow(t.dtype, data + stored * row_bytes + col_offset, dst, cols.size());
    dst += cols.size();
  }
}

void CopySliceRaw(const TensorInfo& t, const uint8_t* data, Range rows, Range cols,
                  const RowMap& row_map, std::vector<uint8_t>* out) {
  const int64_t row_bytes = RowBytes(t.dtype, t.cols());
  const int64_t col_offset = RowBytes(t.dtype, cols.begin);
  const int64_t n = RowBytes(t.dtype, cols.size());
  size_t at = out->size();
  out->resize(at + static_cast<size_t>(n * rows.size()));
  for (int64_t r = rows.begin; r < rows.end; ++r, at += n) {
    const int64_t stored = row_map ? row_map(r) : r;
    std::memcpy(out->data() + at, data + stored * row_bytes + col_offset, n);
  }
}

}  // namespace gs
