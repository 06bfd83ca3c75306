// What one forward step computes: the tokens of every scheduled sequence,
// where their K/V go, and which rows need logits. Built by rank 0's scheduler
// and broadcast to every rank as is.
#pragma once

#include <cstdint>
#include <vector>

namespace gs {

struct ModelInput {
  std::vector<int32_t> tokens;     // [n_tokens]
  std::vector<int32_t> positions;  // [n_tokens]
  std::vector<int32_t> slots;      // [n_tokens] KV slot: block * block_size + offset
  std::vector<int32_t> token_seq;  // [n_tokens] index into the block tables
  std::vector<int32_t> block_tables;  // [n_seqs, max_blocks], -1 padded
  int32_t max_blocks = 0;
  std::vector<int32_t> logit_rows;  // token indices whose logits are wanted, in order

  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_seqs() const { return max_blocks == 0 ? 0 : block_tables.size() / max_blocks; }
  void Clear() {
    tokens.clear();
    positions.clear();
    slots.clear();
    token_seq.clear();
    block_tables.clear();
    max_blocks = 0;
    logit_rows.clear();
  }
};

}  // namespace gs
