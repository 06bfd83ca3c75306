#include "kernels/timed_ops.h"

namespace gs::kernels {

TimedOps::TimedOps(DeviceOps& inner) : inner_(inner) {
  static constexpr const char* kNames[kNumFixedKinds] = {
      "matmul", "attention", "kv_append", "rms_norm", "rope",       "silu_mul",
      "add",    "add_bias",  "embedding", "copy",     "step_setup", "allocate"};
  for (const char* n : kNames) kinds_.push_back({n});
}

void TimedOps::LabelProducts(const Weight& w, std::string_view label) {
  int kind = -1;
  for (size_t i = kNumFixedKinds; i < kinds_.size(); ++i) {
    if (kinds_[i].name == label) kind = static_cast<int>(i);
  }
  if (kind < 0) {
    kind = static_cast<int>(kinds_.size());
    kinds_.push_back({std::string(label)});
  }
  product_kind_[&w] = kind;
}

int TimedOps::ProductKind(std::span<const Product> parts) const {
  if (parts.empty() || product_kind_.empty()) return kMatMul;
  const auto it = product_kind_.find(parts[0].w);
  return it == product_kind_.end() ? kMatMul : it->second;
}

}  // namespace gs::kernels
