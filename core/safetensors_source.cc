#include "core/safetensors_source.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/tensor_slice.h"

namespace gs {

namespace {

using nlohmann::json;

StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::filesystem::exists(path) ? Status::IOError(path + ": cannot read")
                                         : Status::NotFound(path + ": no such file");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ParseDType(const std::string& s, DType* t) {
  if (s == "F32")
    *t = DType::kF32;
  else if (s == "F16")
    *t = DType::kF16;
  else if (s == "BF16")
    *t = DType::kBF16;
  else
    return false;
  return true;
}

}  // namespace

StatusOr<std::unique_ptr<SafetensorsSource>> SafetensorsSource::Open(const std::string& dir) {
  std::unique_ptr<SafetensorsSource> src(new SafetensorsSource());
  src->dir_ = dir;
  const std::string config_path = dir + "/config.json";
  GS_ASSIGN_OR_RETURN(std::string config_text, ReadTextFile(config_path));
  GS_ASSIGN_OR_RETURN(src->config_, ParseHfConfig(config_text, config_path));

  const std::string single = dir + "/model.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (std::filesystem::exists(single)) {
    GS_RETURN_IF_ERROR(src->AddShard(single));
    return src;
  }
  if (!std::filesystem::exists(index_path)) {
    return Status::NotFound(dir + ": neither model.safetensors nor model.safetensors.index.json");
  }
  GS_ASSIGN_OR_RETURN(std::string index_text, ReadTextFile(index_path));
  json index = json::parse(index_text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded()) return Status::Corruption(index_path + ": not valid JSON");
  auto wm = index.find("weight_map");
  if (!index.is_object() || wm == index.end() || !wm->is_object()) {
    return Status::Corruption(index_path + ": missing object \"weight_map\"");
  }
  std::set<std::string> shards;
  for (const auto& [name, file] : wm->items()) {
    if (!file.is_string()) {
      return Status::Corruption(index_path + ": weight_map entry " + name + " is not a file name");
    }
    shards.insert(file.get<std::string>());
  }
  for (const std::string& shard : shards) GS_RETURN_IF_ERROR(src->AddShard(dir + "/" + shard));
  for (const auto& [name, file] : wm->items()) {
    if (src->tensors_.count(name) == 0) {
      return Status::Corruption(index_path + ": tensor " + name +
                                " listed in weight_map is not in " + file.get<std::string>());
    }
  }
  return src;
}

Status SafetensorsSource::AddShard(const std::string& path) {
  GS_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  const uint64_t size = file->size();
  if (size < 8) {
    return Status::Corruption(path + ": truncated safetensors file (" + std::to_string(size) +
                              " bytes, no header length)");
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file->data()[i];
  if (header_len > size - 8) {
    return Status::Corruption(path + ": safetensors header length " + std::to_string(header_len) +
                              " runs past the end of the file (" + std::to_string(size) +
                              " bytes)");
  }
  const auto* hb = reinterpret_cast<const char*>(file->data() + 8);
  json header = json::parse(hb, hb + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Status::Corruption(path + ": safetensors header is not a JSON object");
  }
  const uint8_t* data = file->data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor " + name;
    if (tensors_.count(name) != 0) return Status::Corruption(where + ": appears in two files");
    auto dt = e.find("dtype");
    auto shape = e.find("shape");
    auto offs = e.find("data_offsets");
    if (!e.is_object() || dt == e.end() || !dt->is_string() || shape == e.end() ||
        !shape->is_array() || offs == e.end() || !offs->is_array() || offs->size() != 2 ||
        !(*offs)[0].is_number_unsigned() || !(*offs)[1].is_number_unsigned()) {
      return Status::Corruption(where + ": header entry needs dtype, shape and data_offsets");
    }
    Entry entry;
    entry.info.name = name;
    if (!ParseDType(dt->get<std::string>(), &entry.info.dtype)) {
      return Status::Unimplemented(where + ": unsupported dtype " + dt->get<std::string>() +
                                   " (supported: F32, F16, BF16)");
    }
    uint64_t n_elems = 1;
    for (const json& d : *shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > data_size ||
          (d.get<uint64_t>() != 0 && n_elems > data_size / d.get<uint64_t>())) {
        return Status::Corruption(where + ": impossible shape " + shape->dump());
      }
      n_elems *= d.get<uint64_t>();
      entry.info.shape.push_back(d.get<int64_t>());
    }
    const uint64_t begin = (*offs)[0].get<uint64_t>(), end = (*offs)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return Status::Corruption(where + ": data_offsets [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") past the end of the file (" +
                                std::to_string(data_size) + " data bytes)");
    }
    const uint64_t want = n_elems * static_cast<uint64_t>(BlockBytes(entry.info.dtype));
    if (end - begin != want) {
      return Status::Corruption(where + ": shape " + shape->dump() + " of " +
                                dt->get<std::string>() + " needs " + std::to_string(want) +
                                " bytes, data_offsets span " + std::to_string(end - begin));
    }
    entry.data = data + begin;
    entry.file = file.get();
    tensors_.emplace(name, std::move(entry));
  }
  files_.push_back(std::move(file));
  return Status::Ok();
}

const SafetensorsSource::Entry* SafetensorsSource::Lookup(const std::string& name,
                                                          Status* err) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    *err = Status::NotFound(dir_ + ": no tensor " + name);
    return nullptr;
  }
  return &it->second;
}

const TensorInfo* SafetensorsSource::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second.info;
}

std::vector<std::string> SafetensorsSource::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, e] : tensors_) names.push_back(name);
  return names;
}

Status SafetensorsSource::ReadF32(const std::string& name, Range rows, Range cols,
                                  float* dst) const {
  Status err;
  const Entry* e = Lookup(name, &err);
  if (e == nullptr) return err;
  GS_RETURN_IF_ERROR(CheckSlice(e->file->path(), e->info, rows, cols));
  CopySliceF32(e->info, e->data, rows, cols, RowMap(), dst);
  return Status::Ok();
}

Status SafetensorsSource::ReadRaw(const std::string& name, Range rows, Range cols,
                                  std::vector<uint8_t>* out) const {
  Status err;
  const Entry* e = Lookup(name, &err);
  if (e == nullptr) return err;
  GS_RETURN_IF_ERROR(CheckSlice(e->file->path(), e->info, rows, cols));
  CopySliceRaw(e->info, e->data, rows, cols, RowMap(), out);
  return Status::Ok();
}

}  // namespace gs
