#include "core/text_stream.h"

#include <utility>

namespace gs {

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::string> stops)
    : tokenizer_(tokenizer), decoder_(tokenizer), stops_(std::move(stops)) {}

std::string TextStream::Push(int32_t token, bool* stopped) {
  // A special token (EOS, chat markers) is not shown, and it bypasses the
  // decoder too, so the piece after it decodes as if it were not there.
  const std::string piece = tokenizer_.IsSpecial(token) ? std::string() : decoder_.Push(token);
  return stops_.Push(piece, stopped);
}

std::string TextStream::Flush(bool* stopped) {
  if (stops_.stopped()) {
    *stopped = true;
    return "";
  }
  // The decoder's tail goes through the stop checker first: a stop string
  // may end in the bytes it held back.
  std::string out = stops_.Push(decoder_.Flush(), stopped);
  if (!*stopped) out += stops_.Flush();
  return out;
}

}  // namespace gs
