#include <iostream>

#include "launcher/commands.h"

namespace gs::launcher {

RunFn AddBenchCommand(CLI::App& app) {
  return [](int*, char***) {
    std::cerr << "groupshard bench: not available in this build\n";
    return 1;
  };
}

}  // namespace gs::launcher
