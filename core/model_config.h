// Hyper-parameters of a Llama-family decoder, read from config.json or GGUF
// metadata. One vocabulary of dimension names: see ../DESIGN notes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace gs {

struct RopeScaling {
  enum class Type { kNone, kLlama3, kLinear };
  Type type = Type::kNone;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position = 8192;
};

struct ModelConfig {
  std::string arch;  // "llama", "mistral", "qwen2"
  int hidden_size = 0;        // H
  int intermediate_size = 0;  // I
  int n_layers = 0;           // L
  int n_heads = 0;            // N
  int n_kv_heads = 0;         // G (groups)
  int head_dim = 0;           // hd
  int vocab_size = 0;         // V
  int max_position = 2048;
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attn_bias = false;  // q/k/v projections carry a bias (Qwen2)
  int bos_id = -1;
  std::vector<int> eos_ids;

  int group_size() const { return n_heads / n_kv_heads; }  // query heads per KV group
  // Checks the numbers are consistent (heads divide, positive sizes...).
  Status Validate() const;
};

// Parses a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM). `path` is used in error messages.
StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& path);

}  // namespace gs
