#include <iostream>

#include "launcher/commands.h"

namespace gs::launcher {

RunFn AddPerplexityCommand(CLI::App& app) {
  return [](int*, char***) {
    std::cerr << "groupshard perplexity: not available in this build\n";
    return 1;
  };
}

}  // namespace gs::launcher
