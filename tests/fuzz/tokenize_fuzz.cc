// Encode and Decode of arbitrary bytes with the real test tokenizers. The first
// byte picks the tokenizer (byte-level qwen2 or SentencePiece spm.gguf) and
// the flags; the rest is the text, and also read as token ids to decode.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

std::unique_ptr<gs::Tokenizer> LoadOrDie(const std::string& rel) {
  auto t = gs::Tokenizer::Load(gs::fuzz::DataPath(rel));
  if (!t.ok()) {
    std::fprintf(stderr, "tokenize_fuzz: %s\n", t.status().ToString().c_str());
    std::abort();
  }
  return std::move(t).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gs::Tokenizer* const kTokenizers[] = {
      LoadOrDie("tokenizer/qwen2").release(),
      LoadOrDie("tokenizer/spm.gguf").release(),
  };
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const gs::Tokenizer& tok = *kTokenizers[flags & 1];
  const bool add_special = flags & 2, skip_special = flags & 4;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::vector<int32_t> ids = tok.Encode(text, add_special);
  (void)tok.Decode(ids, skip_special);

  // The same bytes as token ids, in and out of the vocabulary.
  std::vector<int32_t> raw_ids(text.size() / 4);
  if (!raw_ids.empty()) std::memcpy(raw_ids.data(), text.data(), raw_ids.size() * 4);
  for (int32_t& id : raw_ids) {
    if (flags & 8) id = static_cast<int32_t>(static_cast<uint32_t>(id) % tok.vocab_size());
  }
  (void)tok.Decode(raw_ids, skip_special);
  gs::StreamDecoder stream(tok, skip_special);
  std::string streamed;
  for (int32_t id : raw_ids) streamed += stream.Push(id);
  streamed += stream.Flush();
  for (int32_t id : raw_ids) {
    if (id >= 0 && id < tok.vocab_size()) (void)tok.TokenBytes(id);  // CHECKs its contract
  }
  return 0;
}
