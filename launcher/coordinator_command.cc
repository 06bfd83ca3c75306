#include <iostream>

#include "launcher/commands.h"

namespace gs::launcher {

RunFn AddCoordinatorCommand(CLI::App& app) {
  return [](int*, char***) {
    std::cerr << "groupshard coordinator: not available in this build\n";
    return 1;
  };
}

}  // namespace gs::launcher
