// Hugging Face directory: config.json (ParseHfConfig) plus model.safetensors.
// Input: <u32 n><n bytes of config.json><model.safetensors>. Opens the
// directory and reads a slice of every tensor.
#include <cstddef>
#include <cstdint>

#include "core/model_config.h"
#include "core/safetensors_source.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/weight_slices.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = gs::fuzz::ScratchDir();
  std::string_view config, tensors;
  gs::fuzz::SplitInput(data, size, &config, &tensors);
  (void)gs::ParseHfConfig(std::string(config), "config.json");
  gs::fuzz::WriteFile(dir + "/config.json", config);
  gs::fuzz::WriteFile(dir + "/model.safetensors", tensors);
  auto src = gs::SafetensorsSource::Open(dir);
  if (!src.ok()) return 0;
  gs::fuzz::ReadSomeOfEveryTensor(**src);
  return 0;
}
