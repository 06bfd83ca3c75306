#include "parallel/model_shape.h"

#include <sstream>
#include <string>

namespace gs {

Status CheckPositive(const char* name, double v) {
  if (v > 0) return Status::Ok();
  std::ostringstream msg;
  msg << name << " must be positive, got " << v;
  return Status::InvalidArgument(msg.str());
}

Status ModelShape::Validate() const {
  GS_RETURN_IF_ERROR(CheckPositive("hidden_size", hidden_size));
  GS_RETURN_IF_ERROR(CheckPositive("intermediate_size", intermediate_size));
  GS_RETURN_IF_ERROR(CheckPositive("n_layers", n_layers));
  GS_RETURN_IF_ERROR(CheckPositive("n_heads", n_heads));
  GS_RETURN_IF_ERROR(CheckPositive("n_kv_heads", n_kv_heads));
  GS_RETURN_IF_ERROR(CheckPositive("head_dim", head_dim));
  GS_RETURN_IF_ERROR(CheckPositive("vocab_size", vocab_size));
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
