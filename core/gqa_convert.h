// Turns a Hugging Face checkpoint with G_old KV heads into one with fewer,
// G_new, by mean-pooling the key and value projection heads inside each new
// group (Ainslie et al. 2023, "GQA: Training Generalized Multi-Query
// Transformer Models from Multi-Head Checkpoints"). Every other tensor is
// copied byte for byte.
#pragma once

#include <string>
#include <vector>

#include "kernels/status.h"

namespace gs {

struct GqaConvertResult {
  int n_heads = 0;       // N
  int old_kv_heads = 0;  // G_old
  int new_kv_heads = 0;  // G_new
  int pooled_tensors = 0;
  int copied_tensors = 0;
  std::vector<std::string> copied_files;  // tokenizer and generation files
  // KV-cache bytes per token shrink by these factors.
  double reduction_vs_mha() const { return static_cast<double>(n_heads) / new_kv_heads; }
  double reduction_vs_input() const { return static_cast<double>(old_kv_heads) / new_kv_heads; }
};

// Mean of each run of `per_group` consecutive heads of a [n_old_heads *
// head_dim, cols] projection (row-major): returns [n_old_heads / per_group *
// head_dim, cols]. New head g averages old heads g*per_group .. +per_group-1,
// which are exactly the old heads whose query heads group g now serves.
std::vector<float> MeanPoolHeads(const std::vector<float>& w, int n_old_heads, int head_dim,
                                 int64_t cols, int per_group);

// Reads the HF directory `model_dir` (config.json + safetensors), writes
// `out_dir`/config.json (num_key_value_heads = kv_groups),
// `out_dir`/model.safetensors (same dtypes as the input) and copies the
// tokenizer files present. Errors: kv_groups not dividing the current number
// of KV heads (listing the ones that do), a GGUF or unreadable input,
// out_dir == model_dir, I/O failures.
StatusOr<GqaConvertResult> ConvertToGqa(const std::string& model_dir, int kv_groups,
                                        const std::string& out_dir);

}  // namespace gs
