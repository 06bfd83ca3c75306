#include <iostream>

#include "launcher/commands.h"

namespace gs::launcher {

RunFn AddClientCommand(CLI::App& app) {
  return [](int*, char***) {
    std::cerr << "groupshard client: not available in this build\n";
    return 1;
  };
}

}  // namespace gs::launcher
