// Writes a safetensors file (8-byte header length, JSON header, raw
// little-endian tensor data) one tensor at a time, so a converted checkpoint
// never has to sit in memory whole.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/status.h"

namespace gs {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;   // F32, F16 or BF16: safetensors has no GGUF block types
  std::vector<int64_t> shape;  // outermost first
  int64_t bytes() const;
};

// Produces the data of entry i (exactly entries[i].bytes() bytes) into `out`.
using TensorProducer = std::function<Status(size_t i, std::vector<uint8_t>* out)>;

// Writes `path` with the entries' data in the order given; the header maps
// each name to its dtype, shape and byte range and carries
// {"__metadata__": {"format": "pt"}} as torch's writer does.
// Errors: an unsupported dtype, a producer failure or a wrong size (naming
// the tensor), an I/O failure (naming the file).
Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                        const TensorProducer& produce);

}  // namespace gs
