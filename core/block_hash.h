// The identity of a full KV block for prefix caching: a 64-bit hash of the
// block's tokens chained with the hash of the block before, so equal hashes
// mean (up to a collision) equal token prefixes, not just equal blocks.
#pragma once

#include <cstdint>

namespace gs {

// The parent hash of a sequence's first block.
constexpr uint64_t kFirstBlockParent = 0x6773707265666978ull;  // "gsprefix"

// Hash of `n` tokens that follow the block whose hash is `parent`. Each token
// goes through a full-avalanche 64-bit mix (the finalizer of MurmurHash3) with
// its index, so swapped or shifted tokens give unrelated hashes.
inline uint64_t HashBlock(uint64_t parent, const int32_t* tokens, int n) {
  auto mix = [](uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
  };
  uint64_t h = mix(parent ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(n + 1)));
  for (int i = 0; i < n; ++i) {
    const uint64_t t = static_cast<uint32_t>(tokens[i]);
    h = mix(h ^ (t | static_cast<uint64_t>(i + 1) << 32)) + 0x9e3779b97f4a7c15ull;
  }
  return mix(h);
}

}  // namespace gs
