// `serve --memory-per-rank`: the KV cache the server allocates is what
// `plan --memory-per-rank` prints for the same budget, and a budget with no
// room for one block is refused with a message naming the rank.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "proto/client.h"
#include "tests/proto/server_process.h"
#include "tests/test_util.h"

namespace gs {
namespace {

namespace pb = groupshard::v1;
using gs::testing::GroupshardBin;
using gs::testing::RunCommand;

nlohmann::json PlanJson(const std::string& model, const std::string& args) {
  std::string out;
  const int rc = RunCommand(GroupshardBin() + " plan --json --model " + model + " " + args +
                                " 2>&1",
                            &out);
  EXPECT_EQ(rc, 0) << out;
  return nlohmann::json::parse(out, nullptr, false);
}

// Activation scratch of the largest step on one rank, from the model's
// shape (the buffers of one layer's data flow, fp32 on the CPU): the
// residual stream, the row-parallel sum and the normed input [n, H]; q and
// the attention output [n, heads·hd]; k and v [n, groups·hd]; gate, up and
// their product [n, mlp_cols]; the final norm of the logit rows [rows, H]
// and their logits [rows, vocab_rows]. At least 64 bytes each.
int64_t ExpectedScratch(const nlohmann::json& plan, const nlohmann::json& rank, int64_t n,
                        int64_t rows) {
  const int64_t H = plan["hidden_size"], hd = plan["head_dim"];
  const int64_t nq = (rank["q_heads"][1].get<int64_t>() - rank["q_heads"][0].get<int64_t>()) * hd;
  const int64_t nkv =
      (rank["kv_groups"][1].get<int64_t>() - rank["kv_groups"][0].get<int64_t>()) * hd;
  const int64_t I = rank["mlp_cols"][1].get<int64_t>() - rank["mlp_cols"][0].get<int64_t>();
  const int64_t V = rank["vocab_rows"][1].get<int64_t>() - rank["vocab_rows"][0].get<int64_t>();
  int64_t total = 0;
  for (int64_t elems : {n * H, n * H, n * H, n * nq, n * nkv, n * nkv, n * nq, n * I, n * I,
                        n * I, rows * H, rows * V}) {
    total += std::max<int64_t>(elems * 4, 64);
  }
  return total;
}

void CheckCapacity(const nlohmann::json& j, int64_t memory, int block_size, int64_t n,
                   int64_t rows) {
  ASSERT_TRUE(j.contains("capacity")) << j.dump();
  const auto& cap = j["capacity"];
  EXPECT_EQ(cap["memory_per_rank"], memory);
  int64_t least = -1;
  for (const auto& r : j["ranks"]) {
    int64_t scratch = ExpectedScratch(j, r, n, rows);
    if (r["rank"] == 0) scratch += rows * j["vocab_size"].get<int64_t>() * 4;  // host logits
    EXPECT_EQ(r["scratch_bytes"], scratch) << "rank " << r["rank"];
    const int64_t left = memory - r["weight_bytes"].get<int64_t>() - scratch;
    EXPECT_EQ(r["kv_budget_bytes"], left);
    const int64_t block = r["kv_bytes_per_token"].get<int64_t>() * block_size;
    EXPECT_EQ(r["kv_block_bytes"], block);
    const int64_t fit = left > 0 ? left / block : 0;
    EXPECT_EQ(r["kv_blocks_fit"], fit);
    least = least < 0 ? fit : std::min(least, fit);
  }
  EXPECT_EQ(cap["kv_blocks"], least);
  EXPECT_EQ(cap["kv_tokens"], least * block_size);
  for (const auto& r : j["ranks"]) {
    EXPECT_EQ(r["kv_cache_bytes"], least * r["kv_block_bytes"].get<int64_t>());
    // What the rank holds stays within its budget.
    EXPECT_LE(r["weight_bytes"].get<int64_t>() + r["scratch_bytes"].get<int64_t>() +
                  r["kv_cache_bytes"].get<int64_t>(),
              memory);
  }
}

// SmolLM2 on 2 ranks (3 groups: 2 + 1, so rank 0 has the least room), each
// cache dtype: the server's block count and bytes per token equal plan's.
TEST(ServeMemoryE2E, ServerAllocatesWhatPlanPrints) {
  const std::string model = gs::testing::SmolLM2Path();
  ASSERT_FALSE(model.empty()) << "SmolLM2 unavailable (scripts/fetch-model)";
  const int64_t memory = 320ll << 20;
  for (const char* dtype : {"f32", "q8_0"}) {
    SCOPED_TRACE(dtype);
    const std::string args = std::string("--tp 2 --kv-dtype ") + dtype +
                             " --memory-per-rank 320MiB --block-size 16 --max-batch-tokens 128 "
                             "--max-running 8 --context 2048";
    const nlohmann::json j = PlanJson(model, args);
    ASSERT_FALSE(j.is_discarded());
    CheckCapacity(j, memory, 16, 128, 8);
    ASSERT_GT(j["capacity"]["kv_blocks"].get<int>(), 0);
    EXPECT_EQ(j["capacity"]["limiting_rank"], 0);
    EXPECT_EQ(j["capacity"]["sequences"], j["capacity"]["kv_blocks"].get<int>() / (2048 / 16));

    testing::ServerProcess server;
    std::string why;
    ASSERT_TRUE(server.Start(model, 2,
                             {"--kv-dtype", dtype, "--memory-per-rank", "320MiB",
                              "--block-size", "16", "--max-batch-tokens", "128",
                              "--max-running", "8"},
                             &why))
        << why;
    InferenceClient client(server.address());
    pb::ModelInfoResponse info;
    ASSERT_TRUE(client.ModelInfo(&info).ok());
    EXPECT_EQ(info.kv_total_blocks(), j["capacity"]["kv_blocks"].get<int>());
    EXPECT_EQ(info.kv_block_size(), 16);
    EXPECT_EQ(info.kv_bytes_per_token_rank0(), j["ranks"][0]["kv_bytes_per_token"].get<int64_t>());
    EXPECT_EQ(server.Terminate(std::chrono::seconds(60)), 0) << server.Log();
  }
}

TEST(ServeMemoryE2E, BudgetWithoutRoomForABlockIsRefused) {
  const std::string model = gs::testing::DataPath("models/g9x3.gguf");
  std::string out;
  const int rc = RunCommand(
      "timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 " +
          GroupshardBin() + " serve --device cpu --listen 127.0.0.1:0 --model " + model +
          " --memory-per-rank 64KiB 2>&1",
      &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--memory-per-rank 65536 bytes leaves rank"), std::string::npos) << out;
  EXPECT_NE(out.find("less than one KV block"), std::string::npos) << out;
  // plan says the same.
  out.clear();
  ASSERT_EQ(RunCommand(GroupshardBin() + " plan --tp 2 --memory-per-rank 64KiB --model " + model,
                       &out),
            0)
      << out;
  EXPECT_NE(out.find("does not fit: rank"), std::string::npos) << out;
}

}  // namespace
}  // namespace gs
