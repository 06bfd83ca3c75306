// GGUF container and GgufSource: the input is a whole .gguf file. Opens it
// (header, metadata, tensor directory, config), then reads a slice of every
// tensor through the WeightSource interface.
#include <cstddef>
#include <cstdint>

#include "core/gguf_source.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/weight_slices.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = gs::fuzz::ScratchDir() + "/model.gguf";
  gs::fuzz::WriteFile(path, data, size);
  auto src = gs::GgufSource::Open(path);
  if (!src.ok()) return 0;
  gs::fuzz::ReadSomeOfEveryTensor(**src);
  return 0;
}
