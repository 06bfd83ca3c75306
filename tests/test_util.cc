#include "tests/test_util.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sys/wait.h>

namespace gs::testing {

namespace {
// The source and build trees this binary was built from, unless the
// environment names others: a test binary built on one machine and run from
// another checkout (scripts/gpu-check --bundle) sets GS_SOURCE_DIR and
// GS_BINARY_DIR.
std::string TreeDir(const char* env, const char* built) {
  const char* e = std::getenv(env);
  return e != nullptr && *e != '\0' ? std::string(e) : std::string(built);
}
}  // namespace

std::string SourceDir() { return TreeDir("GS_SOURCE_DIR", GS_SOURCE_DIR); }

std::string DataPath(const std::string& rel) { return SourceDir() + "/tests/data/" + rel; }

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "gs_test_XXXXXX").string();
  char* d = mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string("/tmp");
}

int RunCommand(const std::string& cmd, std::string* output) {
  // Grouped, so a redirection of stderr inside `cmd` (2>/dev/null) holds and
  // only the rest of stderr joins the output.
  std::string full = "{ " + cmd + "\n} 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    if (output) output->append(buf.data(), n);
  }
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string SmolLM2Path() {
  static std::once_flag once;
  static std::string path;
  std::call_once(once, [] {
    std::string out;
    int rc = RunCommand(SourceDir() + "/scripts/fetch-model 2>/dev/null", &out);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (rc == 0 && std::filesystem::exists(out)) path = out;
  });
  return path;
}

std::string Python() { return GS_PYTHON; }

std::string GroupshardBin() {
  return TreeDir("GS_BINARY_DIR", GS_BINARY_DIR) + "/bin/groupshard";
}

}  // namespace gs::testing
