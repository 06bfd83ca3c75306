#include "core/safetensors_writer.h"

#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

namespace gs {

namespace {

const char* SafetensorsDType(DType t) {
  // Safetensors spells the float types as DTypeName does and has no
  // block-quantized ones.
  return BlockElems(t) == 1 ? DTypeName(t) : nullptr;
}

}  // namespace

int64_t SafetensorsEntry::bytes() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n * BlockBytes(dtype);
}

Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                        const TensorProducer& produce) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  int64_t offset = 0;
  for (const SafetensorsEntry& e : entries) {
    const char* dt = SafetensorsDType(e.dtype);
    if (dt == nullptr) {
      return Status::InvalidArgument(path + ": tensor " + e.name + " has dtype " +
                                     DTypeName(e.dtype) + ", which safetensors cannot hold");
    }
    header[e.name] = {
        {"dtype", dt}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes()}}};
    offset += e.bytes();
  }
  std::string text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return Status::IOError(path + ": cannot open for writing");
  auto write = [&](const void* p, size_t n) { return std::fwrite(p, 1, n, f.get()) == n; };
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  if (!write(len, 8) || !write(text.data(), text.size())) {
    return Status::IOError(path + ": write failed");
  }
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < entries.size(); ++i) {
    buf.clear();
    GS_RETURN_IF_ERROR(produce(i, &buf));
    if (static_cast<int64_t>(buf.size()) != entries[i].bytes()) {
      return Status::Internal(path + ": tensor " + entries[i].name + " produced " +
                              std::to_string(buf.size()) + " bytes, expected " +
                              std::to_string(entries[i].bytes()));
    }
    if (!write(buf.data(), buf.size())) return Status::IOError(path + ": write failed");
  }
  if (std::fflush(f.get()) != 0) return Status::IOError(path + ": write failed");
  return Status::Ok();
}

}  // namespace gs
