#include <iostream>

#include "launcher/commands.h"

namespace gs::launcher {

std::optional<RankModel> LoadModelOrReport(const std::string& command, const std::string& path,
                                           Communicator& comm, int* exit_code) {
  auto rm = LoadRankModel(path, comm);
  if (rm.ok()) return std::move(rm).value();
  // A failing rank prints its own error; rank 0 also prints the summary
  // naming the ranks that failed.
  if (rm.status().code() != StatusCode::kUnavailable || comm.rank() == 0) {
    std::cerr << "groupshard " << command << ": " << rm.status().ToString() << "\n";
  }
  *exit_code = rm.status().code() == StatusCode::kInvalidArgument ? kUsageError : 1;
  return std::nullopt;
}

}  // namespace gs::launcher
