// Helpers shared by the libFuzzer targets: one scratch directory per process
// (removed at exit) whose file names are reused on every iteration, so that
// millions of runs neither leak files nor fill the disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gs::fuzz {

// The process's scratch directory, created on first use (under $TMPDIR or /tmp).
const std::string& ScratchDir();

// Overwrites `path` with `n` bytes; aborts when the disk refuses (a harness
// fault, not a finding).
void WriteFile(const std::string& path, const uint8_t* data, size_t n);
void WriteFile(const std::string& path, std::string_view text);

// A fixture under tests/data, e.g. "tokenizer/qwen2".
std::string DataPath(const std::string& rel);

// Splits a fuzz input "<u32 little-endian length n><n bytes><rest>" into its
// two parts; n is clamped to what is there, so every input splits.
void SplitInput(const uint8_t* data, size_t size, std::string_view* first,
                std::string_view* rest);

}  // namespace gs::fuzz
