// Subcommands of the groupshard executable. Each Add*Command registers its
// flags on `app` and returns the function main calls when it is chosen.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace gs::launcher {

using RunFn = std::function<int(int* argc, char*** argv)>;

RunFn AddGenerateCommand(CLI::App& app);
RunFn AddPlanCommand(CLI::App& app);

// Exit code for bad arguments and bad requests from the command line.
constexpr int kUsageError = 2;

}  // namespace gs::launcher
