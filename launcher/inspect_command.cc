#include <iostream>

#include "launcher/commands.h"

namespace gs::launcher {

RunFn AddInspectCommand(CLI::App& app) {
  return [](int*, char***) {
    std::cerr << "groupshard inspect: not available in this build\n";
    return 1;
  };
}

}  // namespace gs::launcher
