#include "core/gguf_file.h"

#include <cstring>

namespace gs {

namespace {

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr uint64_t kDefaultAlignment = 32;

// GGUF metadata value type ids (GGUF spec, gguf_metadata_value_type).
enum GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// Bytes a scalar of `t` occupies; 0 for strings and arrays (variable length).
uint64_t ScalarSize(uint32_t t) {
  switch (t) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

// Smallest encoding of one element of type `t`, to bound counts before allocating.
uint64_t MinSize(uint32_t t) {
  if (t == kString) return 8;     // length only
  if (t == kArray) return 4 + 8;  // element type + count
  return ScalarSize(t);
}

bool GgmlTypeToDType(uint32_t id, DType* out) {
  switch (id) {
    case 0:
      *out = DType::kF32;
      return true;
    case 1:
      *out = DType::kF16;
      return true;
    case 2:
      *out = DType::kQ4_0;
      return true;
    case 3:
      *out = DType::kQ4_1;
      return true;
    case 8:
      *out = DType::kQ8_0;
      return true;
    case 30:
      *out = DType::kBF16;
      return true;
    default:
      return false;
  }
}

}  // namespace

// Reads the header and directory from the mapping; every read is bounds-checked
// and every count is bounded by the bytes left before anything is allocated.
class GgufParser {
 public:
  explicit GgufParser(GgufFile* f) : f_(f), p_(f->file_->data()), size_(f->file_->size()) {}

  Status Parse() {
    char magic[4];
    if (!Bytes(magic, 4)) return Truncated("the magic number");
    if (std::memcmp(magic, "GGUF", 4) != 0) {
      return Status::Corruption(f_->path_ + ": not a GGUF file (bad magic number)");
    }
    uint32_t version;
    if (!Pod(&version)) return Truncated("the version");
    if (version != 2 && version != 3) {
      return Status::Unimplemented(f_->path_ + ": unsupported GGUF version " +
                                   std::to_string(version) + " (supported: 2, 3)");
    }
    f_->version_ = version;
    uint64_t n_tensors, n_kv;
    if (!Pod(&n_tensors)) return Truncated("the tensor count");
    if (!Pod(&n_kv)) return Truncated("the metadata count");
    if (n_kv > Left() / (8 + 4)) return Truncated("metadata (count " + std::to_string(n_kv) + ")");
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key;
      if (!String(&key)) return Truncated("the name of metadata key #" + std::to_string(i));
      uint32_t type;
      if (!Pod(&type)) return Truncated("the type of key " + key);
      GgufValue v;
      GS_RETURN_IF_ERROR(Value(type, key, &v, /*depth=*/0));
      f_->metadata_[key] = std::move(v);
    }

    uint64_t alignment = kDefaultAlignment;
    if (const GgufValue* a = f_->Get("general.alignment"); a != nullptr) {
      if (a->type != GgufValue::Type::kInt || a->i <= 0 || (a->i & (a->i - 1)) != 0) {
        return Status::Corruption(f_->path_ + ": general.alignment must be a power of two");
      }
      alignment = static_cast<uint64_t>(a->i);
    }

    const uint64_t kMinTensorInfo = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset
    if (n_tensors > Left() / kMinTensorInfo) {
      return Truncated("the tensor directory (count " + std::to_string(n_tensors) + ")");
    }
    f_->tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) GS_RETURN_IF_ERROR(TensorInfo(i));

    const uint64_t data_start = (pos_ + alignment - 1) / alignment * alignment;
    for (GgufTensor& t : f_->tensors_) {
      const std::string where = f_->path_ + ": tensor " + t.name;
      if (t.offset % alignment != 0) {
        return Status::Corruption(where + ": data offset " + std::to_string(t.offset) +
                                  " not aligned to " + std::to_string(alignment));
      }
      if (data_start > size_ || t.offset > size_ - data_start ||
          static_cast<uint64_t>(t.nbytes) > size_ - data_start - t.offset) {
        return Status::Corruption(where + ": data [" + std::to_string(data_start + t.offset) +
                                  ", +" + std::to_string(t.nbytes) +
                                  ") past the end of the file (" + std::to_string(size_) +
                                  " bytes)");
      }
      t.data = p_ + data_start + t.offset;
    }
    return Status::Ok();
  }

 private:
  uint64_t Left() const { return size_ - pos_; }

  bool Bytes(void* dst, uint64_t n) {
    if (n > Left()) return false;
    std::memcpy(dst, p_ + pos_, n);
    pos_ += n;
    return true;
  }
  template <typename T>
  bool Pod(T* v) {
    return Bytes(v, sizeof(T));
  }
  bool String(std::string* s) {
    uint64_t n;
    if (!Pod(&n) || n > Left()) return false;
    s->assign(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return true;
  }

  Status Truncated(const std::string& what) const {
    return Status::Corruption(f_->path_ + ": truncated GGUF file: " + what +
                              " runs past the end (" + std::to_string(size_) + " bytes)");
  }

  // Reads one scalar of type `t` as an int or a float.
  bool Scalar(uint32_t t, int64_t* i, double* d, bool* is_float) {
    *is_float = false;
    switch (t) {
      case kU8: {
        uint8_t v;
        if (!Pod(&v)) return false;
        *i = v;
        return true;
      }
      case kI8: {
        int8_t v;
        if (!Pod(&v)) return false;
        *i = v;
        return true;
      }
      case kBool: {
        uint8_t v;
        if (!Pod(&v)) return false;
        *i = v != 0;
        return true;
      }
      case kU16: {
        uint16_t v;
        if (!Pod(&v)) return false;
        *i = v;
        return true;
      }
      case kI16: {
        int16_t v;
        if (!Pod(&v)) return false;
        *i = v;
        return true;
      }
      case kU32: {
        uint32_t v;
        if (!Pod(&v)) return false;
        *i = v;
        return true;
      }
      case kI32: {
        int32_t v;
        if (!Pod(&v)) return false;
        *i = v;
        return true;
      }
      case kU64: {
        uint64_t v;
        if (!Pod(&v)) return false;
        *i = static_cast<int64_t>(v);
        return true;
      }
      case kI64: {
        int64_t v;
        if (!Pod(&v)) return false;
        *i = v;
        return true;
      }
      case kF32: {
        float v;
        if (!Pod(&v)) return false;
        *d = v;
        *is_float = true;
        return true;
      }
      case kF64: {
        double v;
        if (!Pod(&v)) return false;
        *d = v;
        *is_float = true;
        return true;
      }
      default:
        return false;
    }
  }

  Status Value(uint32_t type, const std::string& key, GgufValue* v, int depth) {
    if (type == kString) {
      v->type = GgufValue::Type::kString;
      if (!String(&v->s)) return Truncated("the string value of key " + key);
      return Status::Ok();
    }
    if (type == kArray) {
      v->type = GgufValue::Type::kArray;
      uint32_t et;
      uint64_t n;
      if (!Pod(&et) || !Pod(&n)) return Truncated("the array header of key " + key);
      if (MinSize(et) == 0) return BadType(et, key);
      if (n > Left() / MinSize(et)) {
        return Truncated("the array of key " + key + " (" + std::to_string(n) + " elements)");
      }
      if (et == kString) {
        v->elem_type = GgufValue::Type::kString;
        v->strs.resize(n);
        for (uint64_t k = 0; k < n; ++k) {
          if (!String(&v->strs[k])) return Truncated("element " + std::to_string(k) + " of " + key);
        }
      } else if (et == kArray) {
        // Nested arrays are legal but no key we read uses them: parse and drop.
        if (depth > 4) return Status::Corruption(f_->path_ + ": arrays nested too deep in " + key);
        v->elem_type = GgufValue::Type::kArray;
        for (uint64_t k = 0; k < n; ++k) {
          GgufValue inner;
          GS_RETURN_IF_ERROR(Value(kArray, key, &inner, depth + 1));
        }
      } else {
        const bool fl = et == kF32 || et == kF64;
        v->elem_type = fl            ? GgufValue::Type::kFloat
                       : et == kBool ? GgufValue::Type::kBool
                                     : GgufValue::Type::kInt;
        (fl ? v->floats.reserve(n) : v->ints.reserve(n));
        for (uint64_t k = 0; k < n; ++k) {
          int64_t i = 0;
          double d = 0;
          bool is_float;
          if (!Scalar(et, &i, &d, &is_float)) return Truncated("the array of key " + key);
          if (fl)
            v->floats.push_back(d);
          else
            v->ints.push_back(i);
        }
      }
      return Status::Ok();
    }
    if (ScalarSize(type) == 0) return BadType(type, key);
    bool is_float;
    if (!Scalar(type, &v->i, &v->f, &is_float)) return Truncated("the value of key " + key);
    if (type == kBool) {
      v->type = GgufValue::Type::kBool;
      v->b = v->i != 0;
    } else if (is_float) {
      v->type = GgufValue::Type::kFloat;
    } else {
      v->type = GgufValue::Type::kInt;
      v->f = static_cast<double>(v->i);
    }
    return Status::Ok();
  }

  Status BadType(uint32_t t, const std::string& key) const {
    return Status::Corruption(f_->path_ + ": key " + key + " has unknown value type " +
                              std::to_string(t));
  }

  Status TensorInfo(uint64_t index) {
    GgufTensor t;
    if (!String(&t.name)) return Truncated("the name of tensor #" + std::to_string(index));
    const std::string where = f_->path_ + ": tensor " + t.name;
    uint32_t n_dims;
    if (!Pod(&n_dims)) return Truncated("the directory entry of tensor " + t.name);
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Status::Corruption(where + ": " + std::to_string(n_dims) +
                                " dimensions (1-4 allowed)");
    }
    int64_t n_elems = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne;
      if (!Pod(&ne)) return Truncated("the shape of tensor " + t.name);
      // Any real tensor fits in the file, which bounds each dimension and the product.
      if (ne == 0 || ne > size_ * 2 || static_cast<uint64_t>(n_elems) > (size_ * 2) / ne) {
        return Status::Corruption(where + ": dimension " + std::to_string(d) + " = " +
                                  std::to_string(ne) + " is impossible for this file size");
      }
      t.ne.push_back(static_cast<int64_t>(ne));
      n_elems *= static_cast<int64_t>(ne);
    }
    uint32_t type;
    if (!Pod(&type) || !Pod(&t.offset)) return Truncated("the directory entry of tensor " + t.name);
    if (!GgmlTypeToDType(type, &t.dtype)) {
      return Status::Unimplemented(where + ": unsupported ggml type id " + std::to_string(type) +
                                   " (supported: F32=0, F16=1, Q4_0=2, Q4_1=3, Q8_0=8, BF16=30)");
    }
    if (t.ne[0] % BlockElems(t.dtype) != 0) {
      return Status::Corruption(where + ": row of " + std::to_string(t.ne[0]) +
                                " elements is not a " + "whole number of " + DTypeName(t.dtype) +
                                " blocks");
    }
    t.nbytes = RowBytes(t.dtype, t.ne[0]) * (n_elems / t.ne[0]);
    if (f_->tensor_index_.count(t.name) != 0) {
      return Status::Corruption(where + ": listed twice");
    }
    f_->tensor_index_[t.name] = f_->tensors_.size();
    f_->tensors_.push_back(std::move(t));
    return Status::Ok();
  }

  GgufFile* f_;
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  GS_ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(path));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->file_ = std::move(mapped);
  GgufParser parser(f.get());
  GS_RETURN_IF_ERROR(parser.Parse());
  return f;
}

const GgufValue* GgufFile::Get(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace gs
