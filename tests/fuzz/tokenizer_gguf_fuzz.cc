// Tokenizer::FromGguf: the input is a whole .gguf file whose tokenizer.ggml.*
// metadata is read. A tokenizer that loads encodes and decodes a fixed text.
#include <cstddef>
#include <cstdint>

#include "core/gguf_file.h"
#include "core/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = gs::fuzz::ScratchDir() + "/tokenizer.gguf";
  gs::fuzz::WriteFile(path, data, size);
  auto gguf = gs::GgufFile::Open(path);
  if (!gguf.ok()) return 0;
  auto tok = gs::Tokenizer::FromGguf(**gguf);
  if (!tok.ok()) return 0;
  const auto ids = (*tok)->Encode("Hello, world! <s> 123 héllo\n", true);
  (void)(*tok)->Decode(ids);
  (void)(*tok)->ApplyChatTemplate({{"user", "hi"}}, true);
  return 0;
}
