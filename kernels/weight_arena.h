// Memory for the weight matrices of one rank, carved from a few large
// streamed chunks (2 MiB aligned, on transparent huge pages) instead of one
// allocation per matrix. A matrix allocated alone would be rounded up to
// whole huge pages, and the kernel backs the rounding with memory: on the
// Llama-3-8B shape at P = 4 that is about 10% of the weights. Packed back to
// back, a rank holds what `plan` counts, plus at most part of one huge page
// per chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace gs {

class WeightArena {
 public:
  static constexpr size_t kChunkBytes = size_t{256} << 20;
  static constexpr size_t kAlign = 64;

  // `n` bytes, kAlign aligned and not yet touched, and the owner of the
  // chunk that holds them: the bytes live while any owner does (the arena
  // keeps only its current chunk). Not thread-safe.
  struct Slice {
    uint8_t* data = nullptr;
    std::shared_ptr<uint8_t> owner;
  };
  Slice Take(size_t n);

  // Bytes of the chunks this arena has made (for tests).
  size_t reserved_bytes() const { return reserved_; }

 private:
  std::shared_ptr<uint8_t> chunk_;
  size_t chunk_size_ = 0, used_ = 0, reserved_ = 0;
};

}  // namespace gs
