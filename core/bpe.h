// The merge loop shared by both BPE flavours: byte-level BPE (merge the pair
// with the lowest merge rank) and SentencePiece BPE (merge the pair whose
// joined piece has the highest score). Ties go to the leftmost pair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace gs {

// One symbol: token `id` (-1 if the span has none) over text[start, start+len).
struct BpeSymbol {
  int32_t id = -1;
  size_t start = 0;
  size_t len = 0;
};

// Decides whether `left` and `right` may merge; if so, sets *priority (lower
// merges first) and *merged (the id of the joined symbol).
using BpePairFn = std::function<bool(const BpeSymbol& left, const BpeSymbol& right,
                                     double* priority, int32_t* merged)>;

// Merges adjacent symbols until no allowed pair remains; O(n log n).
std::vector<BpeSymbol> BpeMerge(std::vector<BpeSymbol> symbols, const BpePairFn& pair_fn);

}  // namespace gs
