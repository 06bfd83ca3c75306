#include <iostream>

#include "launcher/commands.h"

namespace gs::launcher {

RunFn AddConvertCommand(CLI::App& app) {
  return [](int*, char***) {
    std::cerr << "groupshard convert: not available in this build\n";
    return 1;
  };
}

}  // namespace gs::launcher
