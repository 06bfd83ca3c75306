// The gRPC service's request check: arbitrary bytes parsed as a
// groupshard.v1.GenerateRequest, then PrepareGenerate against the qwen2 test
// tokenizer (which has a chat template, so messages are rendered too).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "core/tokenizer.h"
#include "proto/request_builder.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gs::Tokenizer* const tok = [] {
    auto t = gs::Tokenizer::Load(gs::fuzz::DataPath("tokenizer/qwen2"));
    if (!t.ok()) {
      std::fprintf(stderr, "request_fuzz: %s\n", t.status().ToString().c_str());
      std::abort();
    }
    return std::move(t).value().release();
  }();
  groupshard::v1::GenerateRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return 0;
  gs::RequestLimits limits;
  limits.max_position = 256;
  limits.vocab_size = tok->vocab_size();
  limits.kv_tokens = 1024;
  limits.default_max_tokens = 64;
  (void)gs::PrepareGenerate(req, *tok, limits);
  return 0;
}
