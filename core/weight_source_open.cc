// WeightSource::Open, the one place that knows every format: kept apart from
// weight_source.cc so that the shared interface code does not depend on the
// implementations it is an interface for.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/gguf_source.h"
#include "core/safetensors_source.h"
#include "core/weight_source.h"

namespace gs {

namespace {

// A .gguf file renamed to something else is still recognised by its header.
bool HasGgufMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

StatusOr<std::unique_ptr<WeightSource>> WeightSource::Open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::unique_ptr<WeightSource> src;
  if (fs::is_directory(path, ec)) {
    GS_ASSIGN_OR_RETURN(src, SafetensorsSource::Open(path));
  } else if (!fs::exists(path, ec)) {
    return Status::NotFound(path + ": no such file or directory");
  } else if (path.ends_with(".gguf") || HasGgufMagic(path)) {
    GS_ASSIGN_OR_RETURN(src, GgufSource::Open(path));
  } else {
    return Status::InvalidArgument(path +
                                   ": not a model (expected a Hugging Face directory with "
                                   "config.json and safetensors, or a .gguf file)");
  }
  GS_RETURN_IF_ERROR(CheckModelTensors(*src));
  return src;
}

}  // namespace gs
