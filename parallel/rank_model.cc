#include "parallel/rank_model.h"

#include <vector>

namespace gs {

StatusOr<RankModel> LoadRankModel(const std::string& path, Communicator& comm) {
  RankModel rm;
  Status st;
  {
    auto src = WeightSource::Open(path);
    if (!src.ok()) {
      st = src.status();
    } else {
      rm.source = std::move(src).value();
      auto plan = ShardPlan::Make(rm.source->config(), comm.size());
      if (!plan.ok()) {
        st = plan.status();
      } else {
        rm.plan = std::make_unique<ShardPlan>(std::move(plan).value());
        auto model = LlamaModel::Load(*rm.source, *rm.plan, comm);
        if (!model.ok()) {
          st = Status(model.status().code(), "rank " + std::to_string(comm.rank()) + ": " +
                                                 model.status().message());
        } else {
          rm.model = std::move(model).value();
        }
      }
    }
  }
  // Agree: one int per rank, the status code (0 = ok).
  const int32_t mine = static_cast<int32_t>(st.code());
  std::vector<int32_t> all(comm.size());
  comm.AllGather(&mine, sizeof(mine), all.data());
  if (!st.ok()) return st;
  std::string failed;
  for (int r = 0; r < comm.size(); ++r) {
    if (all[r] != 0) failed += (failed.empty() ? "" : ", ") + std::to_string(r);
  }
  if (!failed.empty()) {
    return Status::Unavailable("rank(s) " + failed + " failed to load the model");
  }
  return rm;
}

}  // namespace gs
