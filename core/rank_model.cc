#include "core/rank_model.h"

#include <vector>

#include "core/llama_model_runner.h"
#include "parallel/mpi_communicator.h"
#include "core/cuda/cuda_context.h"

namespace gs {

RankModel::RankModel() = default;
RankModel::RankModel(RankModel&&) noexcept = default;
RankModel& RankModel::operator=(RankModel&&) noexcept = default;
RankModel::~RankModel() {
  // The runner and the model use the device context: they go first.
  runner.reset();
  model.reset();
}

namespace {

// Collective: every rank learns whether every rank's `st` is ok. A failing
// rank gets its own status back; the others one naming the failed ranks.
Status Agree(const Status& st, Communicator& comm, const std::string& what) {
  // One int per rank, the status code (0 = ok).
  const int32_t mine = static_cast<int32_t>(st.code());
  std::vector<int32_t> all(comm.size());
  comm.AllGather(&mine, sizeof(mine), all.data());
  if (!st.ok()) return st;
  std::string failed;
  for (int r = 0; r < comm.size(); ++r) {
    if (all[r] != 0) failed += (failed.empty() ? "" : ", ") + std::to_string(r);
  }
  if (!failed.empty()) return Status::Unavailable("rank(s) " + failed + " " + what);
  return Status::Ok();
}

// Ranks of `comm` on this node (1 when it is not an MPI communicator).
int RanksOnNode(Communicator& comm) {
  auto* mpi = dynamic_cast<MpiCommunicator*>(&comm);
  if (mpi == nullptr || comm.size() == 1) return 1;
  return World::FromMpi(mpi->comm()).local_size;
}

Status WithRank(const Status& st, Communicator& comm) {
  return Status(st.code(), "rank " + std::to_string(comm.rank()) + ": " + st.message());
}

// Opens the checkpoint and makes the plan (no collectives).
Status OpenAndPlan(const std::string& path, Communicator& comm, RankModel* rm) {
  GS_ASSIGN_OR_RETURN(rm->source, WeightSource::Open(path));
  GS_ASSIGN_OR_RETURN(ShardPlan plan, ShardPlan::Make(rm->source->config(), comm.size()));
  rm->plan = std::make_unique<ShardPlan>(std::move(plan));
  return Status::Ok();
}

StatusOr<RankModel> LoadOnCpu(const std::string& path, Communicator& comm) {
  RankModel rm;
  Status st = OpenAndPlan(path, comm, &rm);
  if (st.ok()) {
    auto model = LlamaModel::Load(*rm.source, *rm.plan, comm);
    if (!model.ok()) {
      st = WithRank(model.status(), comm);
    } else {
      rm.model = std::move(model).value();
      rm.runner = std::make_unique<LlamaModelRunner>(*rm.model);
    }
  }
  GS_RETURN_IF_ERROR(Agree(st, comm, "failed to load the model"));
  return rm;
}

StatusOr<RankModel> LoadOnCuda(const std::string& path, Communicator& comm) {
  // Before any file is read: a node without a usable GPU ends every rank.
  GS_RETURN_IF_ERROR(Agree(CheckDeviceUsable(Device::kCuda, comm.size(), RanksOnNode(comm)), comm,
                           "cannot use --device cuda"));
  RankModel rm;
  rm.device = Device::kCuda;
  // Then every rank must reach the NCCL set-up together, or none may.
  GS_RETURN_IF_ERROR(Agree(OpenAndPlan(path, comm, &rm), comm, "failed to load the model"));
  Status st;
#ifdef GS_HAVE_CUDA
  rm.cuda = OpenCudaContext(comm);
  auto model = LlamaModel::Load(*rm.source, *rm.plan, rm.cuda->comm(), rm.cuda->MakeOps());
  if (!model.ok()) {
    st = WithRank(model.status(), comm);
  } else {
    rm.model = std::move(model).value();
    rm.runner = std::make_unique<LlamaModelRunner>(*rm.model);
  }
#else
  st = Status::Internal("CheckDeviceUsable passed --device cuda in a build without CUDA");
#endif
  GS_RETURN_IF_ERROR(Agree(st, comm, "failed to load the model"));
  return rm;
}

}  // namespace

StatusOr<RankModel> LoadRankModel(const std::string& path, Communicator& comm, Device device) {
  return device == Device::kCuda ? LoadOnCuda(path, comm) : LoadOnCpu(path, comm);
}

Device DefaultDeviceForGroup(Communicator& comm) {
#ifdef GS_HAVE_CUDA
  // Every rank asks its own node; all must say yes, or the ranks would load
  // on different devices.
  const Status mine = CheckDeviceUsable(Device::kCuda, comm.size(), RanksOnNode(comm));
  return Agree(mine, comm, "").ok() ? Device::kCuda : Device::kCpu;
#else
  return Device::kCpu;  // the same answer on every rank, without asking
#endif
}

}  // namespace gs
