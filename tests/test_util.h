// Shared helpers for tests: where fixtures live, and the real model.
#pragma once

#include <string>
#include <vector>

namespace gs::testing {

// The source tree: the one this binary was built from, or $GS_SOURCE_DIR
// when set (and $GS_BINARY_DIR for the build tree's bin/, GroupshardBin).
std::string SourceDir();
// Absolute path of a file under tests/data/.
std::string DataPath(const std::string& rel);
// A fresh temporary directory, removed by nobody (under /tmp).
std::string TempDir();
// Path of SmolLM2-135M-Instruct.Q4_1.gguf via scripts/fetch-model, or "" when
// it cannot be had (callers GTEST_SKIP with a message).
std::string SmolLM2Path();
// Path of the built groupshard executable.
std::string GroupshardBin();
// The Python interpreter the tests run (GS_PYTHON in tests/CMakeLists.txt:
// scripts/setup's .venv/bin/python3 when it exists).
std::string Python();
// Runs a shell command, returns its exit status and captures its stdout and
// whatever of its stderr the command does not redirect itself.
int RunCommand(const std::string& cmd, std::string* output);

}  // namespace gs::testing
