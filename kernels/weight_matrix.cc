#include "kernels/weight_matrix.h"

namespace gs {

DType ResidentDType(DType stored, bool is_matrix) {
  // Matrices stay as stored: the CPU kernels multiply fp32, bf16/f16 and
  // Q8_0/Q4_0/Q4_1 blocks directly, so decoding streams the stored bytes.
  // Vectors (norms, biases) are small and kept in fp32.
  return is_matrix ? stored : DType::kF32;
}

WeightData::WeightData(const WeightData& o) { *this = o; }

WeightData& WeightData::operator=(const WeightData& o) {
  if (this == &o) return *this;
  own_.assign(o.ptr_, o.ptr_ + o.size_);
  arena_chunk_.reset();
  ptr_ = own_.data();
  size_ = o.size_;
  return *this;
}

WeightData::WeightData(WeightData&& o) noexcept { *this = std::move(o); }

WeightData& WeightData::operator=(WeightData&& o) noexcept {
  if (this == &o) return *this;
  // Moving a vector keeps its buffer, so ptr_ stays valid either way.
  own_ = std::move(o.own_);
  arena_chunk_ = std::move(o.arena_chunk_);
  ptr_ = o.ptr_;
  size_ = o.size_;
  o.own_.clear();
  o.ptr_ = nullptr;
  o.size_ = 0;
  return *this;
}

void WeightData::resize(size_t n) {
  arena_chunk_.reset();
  own_.assign(n, 0);
  ptr_ = own_.data();
  size_ = n;
}

void WeightData::Allocate(WeightArena& arena, size_t n) {
  own_ = StreamedBytes();
  WeightArena::Slice s = arena.Take(n);
  arena_chunk_ = std::move(s.owner);
  ptr_ = s.data;
  size_ = n;
}

}  // namespace gs
