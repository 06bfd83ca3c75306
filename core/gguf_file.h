// The GGUF container (v2/v3): header, metadata key/values and tensor
// directory, with the tensor data memory-mapped. Format per the GGUF spec
// (ggml docs/gguf.md). Owns the mapping; not the model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "core/mapped_file.h"
#include "kernels/status.h"

namespace gs {

// One metadata value. Scalars use the field matching `type`; arrays use the
// vector matching their element type (strings, ints for any integer/bool
// element type, floats for f32/f64).
struct GgufValue {
  enum class Type { kInt, kFloat, kBool, kString, kArray };
  Type type = Type::kInt;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  Type elem_type = Type::kInt;  // for arrays
  std::vector<std::string> strs;
  std::vector<int64_t> ints;
  std::vector<double> floats;
};

struct GgufTensor {
  std::string name;             // as in the file, e.g. "blk.0.attn_q.weight"
  DType dtype = DType::kF32;
  std::vector<int64_t> ne;      // GGUF order: ne[0] is the fastest (input) dimension
  uint64_t offset = 0;          // from the start of the data section
  const uint8_t* data = nullptr;  // into the mapping
  int64_t nbytes = 0;
};

class GgufFile {
 public:
  // Parses and validates the whole directory; every tensor's bytes must lie
  // inside the file. Errors name the file and the key or tensor at fault.
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  const GgufValue* Get(const std::string& key) const;  // nullptr if absent
  const GgufTensor* FindTensor(const std::string& name) const;
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }

 private:
  std::string path_;
  uint32_t version_ = 0;
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
  friend class GgufParser;
};

}  // namespace gs
