// The dimensions of a Llama-family decoder that a shard plan cuts: heads,
// KV groups, the MLP width and the vocabulary. The rest of a model's
// hyper-parameters (RoPE, norms, token ids) live in core's ModelConfig,
// which extends this. Dimension names: see the design notes' vocabulary.
#pragma once

#include "kernels/status.h"

namespace gs {

struct ModelShape {
  int hidden_size = 0;        // H
  int intermediate_size = 0;  // I
  int n_layers = 0;           // L
  int n_heads = 0;            // N
  int n_kv_heads = 0;         // G (groups)
  int head_dim = 0;           // hd
  int vocab_size = 0;         // V

  int group_size() const { return n_heads / n_kv_heads; }  // query heads per KV group
  // Positive sizes, heads that divide into groups, an even head_dim (RoPE
  // rotates pairs).
  Status Validate() const;
};

// Ok when v > 0, else InvalidArgument "<name> must be positive, got <v>".
Status CheckPositive(const char* name, double v);

}  // namespace gs
