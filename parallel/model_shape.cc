#include "parallel/model_shape.h"

#include <string>

namespace gs {

Status ModelShape::Validate() const {
  auto positive = [](const char* name, int v) {
    return v > 0 ? Status::Ok()
                 : Status::InvalidArgument(std::string(name) + " must be positive, got " +
                                           std::to_string(v));
  };
  GS_RETURN_IF_ERROR(positive("hidden_size", hidden_size));
  GS_RETURN_IF_ERROR(positive("intermediate_size", intermediate_size));
  GS_RETURN_IF_ERROR(positive("n_layers", n_layers));
  GS_RETURN_IF_ERROR(positive("n_heads", n_heads));
  GS_RETURN_IF_ERROR(positive("n_kv_heads", n_kv_heads));
  GS_RETURN_IF_ERROR(positive("head_dim", head_dim));
  GS_RETURN_IF_ERROR(positive("vocab_size", vocab_size));
  if (n_heads % n_kv_heads != 0) {
    return Status::InvalidArgument("n_heads (" + std::to_string(n_heads) +
                                   ") must be a multiple of n_kv_heads (" +
                                   std::to_string(n_kv_heads) + ")");
  }
  if (head_dim % 2 != 0) {  // RoPE rotates pairs of dimensions
    return Status::InvalidArgument("head_dim must be even, got " + std::to_string(head_dim));
  }
  return Status::Ok();
}

}  // namespace gs
