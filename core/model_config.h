// Hyper-parameters of a Llama-family decoder, read from config.json or GGUF
// metadata. One vocabulary of dimension names: see ../DESIGN notes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/status.h"
#include "parallel/model_shape.h"

namespace gs {

struct RopeScaling {
  enum class Type { kNone, kLlama3, kLinear };
  Type type = Type::kNone;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position = 8192;
};

// The shape (ModelShape: H, I, L, N, G, hd, V) plus everything else the
// decoder needs.
struct ModelConfig : ModelShape {
  std::string arch;  // "llama", "mistral", "qwen2"
  int max_position = 2048;
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attn_bias = false;  // q/k/v projections carry a bias (Qwen2)
  int bos_id = -1;
  std::vector<int> eos_ids;

  // Checks the numbers are consistent (the shape's checks, then positive
  // max_position, eps and theta, rope scaling, token ids in the vocabulary).
  Status Validate() const;
};

// Parses a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM). `path` is used in error messages.
StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& path);

// Llama-3-8B's shape: hidden 4096, 32 layers, 32 heads, 8 KV groups, FFN
// 14336, vocabulary 128256, rope theta 500000 (the benchmarks' and the
// traffic tests' reference shape; no weights).
ModelConfig Llama3_8BShape();

}  // namespace gs
