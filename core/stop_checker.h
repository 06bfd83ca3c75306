// Stop strings over streamed text: holds back text that could be the start
// of a stop string and reports when one completes. The text half of
// TextStream (core/text_stream.h), which is what callers of generation use.
#pragma once

#include <string>
#include <vector>

namespace gs {

class StopChecker {
 public:
  explicit StopChecker(std::vector<std::string> stops);
  // Returns the text that is safe to emit now. When a stop string completes,
  // sets *stopped, returns the text before it (never the stop string itself)
  // and ignores everything pushed afterwards.
  std::string Push(const std::string& text, bool* stopped);
  // The held-back text, at the end of the stream (no stop string completed).
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace gs
