// Tokenizer::Load on a Hugging Face directory. Input:
// <u32 n><n bytes of tokenizer_config.json><tokenizer.json>; an empty config
// part means no tokenizer_config.json. A tokenizer that loads encodes and
// decodes a fixed text.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "core/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = gs::fuzz::ScratchDir();
  std::string_view config, tokenizer;
  gs::fuzz::SplitInput(data, size, &config, &tokenizer);
  gs::fuzz::WriteFile(dir + "/tokenizer.json", tokenizer);
  const std::string config_path = dir + "/tokenizer_config.json";
  if (config.empty()) {
    std::error_code ec;
    std::filesystem::remove(config_path, ec);
  } else {
    gs::fuzz::WriteFile(config_path, config);
  }
  auto tok = gs::Tokenizer::Load(dir);
  if (!tok.ok()) return 0;
  const auto ids = (*tok)->Encode("Hello, world! <|im_start|> 123 héllo\n", true);
  (void)(*tok)->Decode(ids);
  (void)(*tok)->ApplyChatTemplate({{"user", "hi"}}, true);
  return 0;
}
