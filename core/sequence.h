// One request as the engine tracks it: its tokens so far, how many of them
// have K/V in the cache, and its block table.
#pragma once

#include <cstdint>
#include <vector>

#include <string>

namespace gs {

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* FinishReasonName(FinishReason r);

struct Sequence {
  uint64_t id = 0;
  std::vector<int32_t> tokens;  // prompt followed by generated tokens
  int n_prompt = 0;
  int n_computed = 0;           // leading tokens whose K/V are in the cache
  std::vector<int32_t> block_table;
  std::vector<uint64_t> block_hashes;  // chain hashes of its leading full, computed blocks
  int max_tokens = 0;           // generated tokens allowed
  std::vector<int32_t> eos_ids; // generation ends after emitting one of these
  int64_t arrival = 0;          // admission order; larger is newer
  int preemptions = 0;

  int n_generated() const { return static_cast<int>(tokens.size()) - n_prompt; }
  int n_tokens() const { return static_cast<int>(tokens.size()); }
};

}  // namespace gs
