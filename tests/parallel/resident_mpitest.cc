// Resident memory against `plan`, under mpirun: loading its shard grows each
// rank's anonymous resident memory (/proc/self/status RssAnon) by the weight
// bytes `plan` prints for that rank, and the weights over all ranks are
// within 5% of the file's tensor bytes: every table stays in its stored
// dtype and a tied table is held once.
//
// Models: GS_RESIDENT_MODEL when set (the resident_8b_np* entries point it at
// the Llama-3-8B shape made by scripts/make_bench_models.py), else the g9x3
// fixture and SmolLM2.
#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/plan_report.h"
#include "core/rank_model.h"
#include "parallel/mpi_communicator.h"
#include "tests/test_util.h"

namespace gs {
namespace {

// Anonymous resident bytes of this process, after handing freed heap memory
// back to the kernel (a load's temporaries must not count).
int64_t RssAnonBytes() {
  malloc_trim(0);
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoll(line.substr(8)) * 1024;
  }
  ADD_FAILURE() << "no RssAnon in /proc/self/status";
  return 0;
}

// Bytes of every tensor as the file stores it.
int64_t FileTensorBytes(const WeightSource& src) {
  int64_t total = 0;
  for (const std::string& name : src.TensorNames()) {
    const TensorInfo* t = src.Find(name);
    total += t->rows() * RowBytes(t->dtype, t->cols());
  }
  return total;
}

double MiB(int64_t b) { return static_cast<double>(b) / (1 << 20); }

class ResidentTest : public ::testing::Test {
 protected:
  MpiCommunicator comm_;
};

TEST_F(ResidentTest, LoadedWeightsAreWhatPlanPrints) {
  std::vector<std::string> paths;
  const char* forced = std::getenv("GS_RESIDENT_MODEL");
  if (forced != nullptr && *forced != '\0') {
    paths.push_back(forced);
  } else {
    paths.push_back(gs::testing::DataPath("models/g9x3"));
    const std::string smol = gs::testing::SmolLM2Path();
    ASSERT_FALSE(smol.empty()) << "SmolLM2 could not be fetched (scripts/fetch-model)";
    paths.push_back(smol);
  }
  const int P = comm_.size(), me = comm_.rank();
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    auto src = WeightSource::Open(path);
    ASSERT_TRUE(src.ok()) << src.status().message();
    if (!ShardPlan::Make((*src)->config(), P).ok()) {
      ASSERT_EQ(forced, nullptr) << "GS_RESIDENT_MODEL admits no plan for P=" << P;
      continue;
    }
    auto rep = MakePlanReport(**src, P, DType::kF16);
    ASSERT_TRUE(rep.ok());
    const int64_t planned = rep->ranks[me].weights.total();

    comm_.Barrier();
    const int64_t before = RssAnonBytes();
    auto rm = LoadRankModel(path, comm_);
    ASSERT_TRUE(rm.ok()) << rm.status().message();
    const int64_t grown = RssAnonBytes() - before;
    EXPECT_EQ(rm->model->weight_bytes().total(), planned);
    // Slack for what is not weights: the model's small host objects, the
    // thread stacks, and the last huge page of each arena chunk.
    EXPECT_NEAR(static_cast<double>(grown), static_cast<double>(planned),
                0.01 * static_cast<double>(planned) + 8.0 * (1 << 20))
        << "rank " << me << ": resident grew " << MiB(grown) << " MiB, plan says "
        << MiB(planned) << " MiB";

    int64_t all_planned = 0;
    for (const RankReport& r : rep->ranks) all_planned += r.weights.total();
    const int64_t file = FileTensorBytes(**src);
    if (rep->kv_replication == 1) {
      EXPECT_LE(std::abs(static_cast<double>(all_planned - file)), 0.05 * file)
          << "weights over all ranks " << MiB(all_planned) << " MiB against " << MiB(file)
          << " MiB of tensors in the file";
    }
    std::vector<int64_t> grown_of(P);
    comm_.AllGather(&grown, sizeof(grown), grown_of.data());
    if (me == 0) {
      for (int r = 0; r < P; ++r) {
        std::printf("[resident] P=%d %s rank %d: plan %.1f MiB, resident grew %.1f MiB\n", P,
                    path.substr(path.rfind('/') + 1).c_str(), r,
                    MiB(rep->ranks[r].weights.total()), MiB(grown_of[r]));
      }
      std::printf("[resident] P=%d all ranks %.1f MiB, file tensors %.1f MiB (%.3fx)\n", P,
                  MiB(all_planned), MiB(file), static_cast<double>(all_planned) / file);
    }
    comm_.Barrier();
  }
}

}  // namespace
}  // namespace gs
