// A WeightSource over one .gguf file (architectures "llama" and "qwen2"):
// builds the ModelConfig from the metadata, renames tensors to Hugging Face
// names and shapes, and undoes the converter's q/k row permutation for llama.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/gguf_file.h"
#include "core/weight_source.h"

namespace gs {

class GgufSource : public WeightSource {
 public:
  static StatusOr<std::unique_ptr<GgufSource>> Open(const std::string& path);

  const ModelConfig& config() const override { return config_; }
  // The .gguf file; its tokenizer.* metadata is reachable through gguf().
  std::string path() const override { return file_->path(); }
  const TensorInfo* Find(const std::string& name) const override;
  std::vector<std::string> TensorNames() const override;
  Status ReadF32(const std::string& name, Range rows, Range cols, float* dst) const override;
  Status ReadRaw(const std::string& name, Range rows, Range cols,
                 std::vector<uint8_t>* out) const override;

  // The parsed container, for the tokenizer.* and chat template metadata.
  const GgufFile& gguf() const { return *file_; }

 private:
  struct Entry {
    TensorInfo info;  // Hugging Face name and shape
    const GgufTensor* stored = nullptr;
    int permute_heads = 0;  // > 0: rows were permuted per head by the converter
  };
  Status BuildConfig();
  Status AddTensor(const GgufTensor& t);
  const Entry* Lookup(const std::string& name, Status* err) const;

  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  std::map<std::string, Entry> tensors_;
};

// GGUF tensor name -> Hugging Face name, or "" for names outside the Llama
// family mapping. Those tensors are kept under their GGUF name, e.g.
// "rope_freqs.weight" (Llama 3 RoPE scaling stored as per-pair frequency divisors).
std::string GgufToHfName(const std::string& gguf_name);

// For a tensor whose rows the llama.cpp converter permuted within each head of
// `head_dim` rows: the stored row that holds Hugging Face row `hf_row`.
int64_t PermutedQkRow(int64_t hf_row, int64_t head_dim);

}  // namespace gs
