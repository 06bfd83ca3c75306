#include "tests/fuzz/fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace gs::fuzz {

namespace {

std::string MakeScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/gs_fuzz.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::perror("gs fuzz: mkdtemp");
    std::abort();
  }
  return templ;
}

}  // namespace

const std::string& ScratchDir() {
  static const std::string* dir = [] {
    auto* d = new std::string(MakeScratchDir());
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return d;
  }();
  return *dir;
}

void WriteFile(const std::string& path, const uint8_t* data, size_t n) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (n > 0 && std::fwrite(data, 1, n, f) != n) || std::fclose(f) != 0) {
    std::perror(("gs fuzz: write " + path).c_str());
    std::abort();
  }
}

void WriteFile(const std::string& path, std::string_view text) {
  WriteFile(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

std::string DataPath(const std::string& rel) { return std::string(GS_SOURCE_DIR) + "/tests/data/" + rel; }

void SplitInput(const uint8_t* data, size_t size, std::string_view* first,
                std::string_view* rest) {
  uint32_t n = 0;
  size_t header = size < 4 ? size : 4;
  if (header > 0) std::memcpy(&n, data, header);  // little-endian, like the formats
  const char* p = reinterpret_cast<const char*>(data) + header;
  const size_t left = size - header;
  const size_t take = n < left ? n : left;
  *first = std::string_view(p, take);
  *rest = std::string_view(p + take, left - take);
}

}  // namespace gs::fuzz
