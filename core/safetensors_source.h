// A WeightSource over a Hugging Face model directory: config.json plus
// model.safetensors or a sharded set listed in model.safetensors.index.json.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/weight_source.h"

namespace gs {

class SafetensorsSource : public WeightSource {
 public:
  // Reads `dir`/config.json and maps every shard; validates each header.
  static StatusOr<std::unique_ptr<SafetensorsSource>> Open(const std::string& dir);

  const ModelConfig& config() const override { return config_; }
  // The model directory (tokenizer.json, tokenizer_config.json live there).
  std::string path() const override { return dir_; }
  const TensorInfo* Find(const std::string& name) const override;
  std::vector<std::string> TensorNames() const override;
  Status ReadF32(const std::string& name, Range rows, Range cols, float* dst) const override;
  Status ReadRaw(const std::string& name, Range rows, Range cols,
                 std::vector<uint8_t>* out) const override;

 private:
  struct Entry {
    TensorInfo info;
    const uint8_t* data = nullptr;  // into the shard's mapping
    const MappedFile* file = nullptr;
  };
  // Parses one shard's header and adds its tensors.
  Status AddShard(const std::string& path);
  const Entry* Lookup(const std::string& name, Status* err) const;

  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, Entry> tensors_;
};

}  // namespace gs
