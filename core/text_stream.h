// The text of one generated token stream, as a client should see it: token
// ids go in one at a time, and out comes only text that is final, with
// special tokens dropped, no half UTF-8 character, and nothing that could
// still turn out to be the start of a stop string. Shared by `groupshard
// generate` and the serving loop so that both cut text the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/stop_checker.h"
#include "core/tokenizer.h"

namespace gs {

class TextStream {
 public:
  // `tokenizer` must outlive the stream. Empty stop strings are ignored.
  TextStream(const Tokenizer& tokenizer, std::vector<std::string> stops);

  // Feeds one generated token and returns the text that may be emitted now
  // (often empty while bytes are held back). When a stop string completes,
  // sets *stopped and returns the text before it, never the stop string;
  // every later call returns "" with *stopped set.
  std::string Push(int32_t token, bool* stopped);

  // End of the stream: returns everything still held back (an incomplete
  // character's bytes, a partial stop string). The held-back text can itself
  // complete a stop string, which sets *stopped and cuts there. Returns ""
  // once stopped.
  std::string Flush(bool* stopped);

  // A stop string has completed; the stream emits nothing more.
  bool stopped() const { return stops_.stopped(); }

 private:
  const Tokenizer& tokenizer_;
  StreamDecoder decoder_;
  StopChecker stops_;
};

}  // namespace gs
