// End to end: request validation at the service edge, queue and message
// limits, the CLI client, and a second independent client (Python grpcio)
// including server reflection.
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <nlohmann/json.hpp>

#include "proto/client.h"
#include "tests/proto/server_process.h"
#include "tests/test_util.h"

namespace gs {
namespace {

namespace pb = groupshard::v1;
using std::chrono::seconds;

grpc::Status Call(InferenceClient& client, const pb::GenerateRequest& req, std::vector<int32_t>* ids = nullptr) {
  return client.Generate(
      req,
      [&](const pb::GenerateResponse& m) {
        if (ids) ids->insert(ids->end(), m.token_ids().begin(), m.token_ids().end());
        return true;
      },
      seconds(120));
}

pb::GenerateRequest Good(int max_tokens) {
  pb::GenerateRequest req;
  req.set_prompt("hello server");
  req.set_max_tokens(max_tokens);
  req.set_ignore_eos(true);
  req.mutable_sampling()->set_temperature(0.0f);
  return req;
}

TEST(ServeApi, MalformedRequestsNameTheFieldWhileAHealthyStreamRuns) {
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 2,
                           {"--kv-blocks", "64", "--max-message-bytes", "8192"}, &why))
      << why;
  InferenceClient client(server.address());
  std::vector<int32_t> healthy_ids;
  grpc::Status healthy;
  std::thread stream([&] { healthy = Call(client, Good(240), &healthy_ids); });

  struct Case {
    const char* field;
    std::function<void(pb::GenerateRequest&)> edit;
  };
  const std::vector<Case> cases = {
      {"prompt", [](auto& r) { r.clear_prompt(); }},
      {"prompt", [](auto& r) { r.set_prompt(std::string(400, 'x')); }},
      {"max_tokens", [](auto& r) { r.set_max_tokens(0); }},
      {"max_tokens", [](auto& r) { r.set_max_tokens(-5); }},
      {"max_tokens", [](auto& r) { r.set_max_tokens(5000); }},
      {"sampling.temperature", [](auto& r) { r.mutable_sampling()->set_temperature(-1.0f); }},
      {"sampling.top_p", [](auto& r) { r.mutable_sampling()->set_top_p(0.0f); }},
      {"sampling.top_p", [](auto& r) { r.mutable_sampling()->set_top_p(1.01f); }},
      {"sampling.top_k", [](auto& r) { r.mutable_sampling()->set_top_k(-2); }},
      {"prompt", [](auto& r) { r.set_prompt("bad \xF0\x28\x8C\x28 bytes"); }},
      {"messages[0].role",
       [](auto& r) {
         r.clear_prompt();
         auto* m = r.add_messages();
         m->set_role("oracle");
         m->set_content("hi");
       }},
  };
  for (const Case& c : cases) {
    pb::GenerateRequest req = Good(8);
    c.edit(req);
    const grpc::Status st = Call(client, req);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field << ": " << st.error_message();
    EXPECT_EQ(st.error_message().rfind(c.field, 0), 0u) << c.field << " vs " << st.error_message();
  }
  // String fields that are not UTF-8 (gRPC's parse answered INTERNAL with no
  // message, and protobuf logged a line per request).
  for (const Case& c : std::vector<Case>{
           {"request_id", [](auto& r) { r.set_request_id("id\xff\xfe"); }},
           {"messages[1].role",
            [](auto& r) {
              r.clear_prompt();
              auto* a = r.add_messages();
              a->set_role("user");
              a->set_content("hi");
              auto* b = r.add_messages();
              b->set_role("us\xff" "er");
              b->set_content("there");
            }},
       }) {
    pb::GenerateRequest req = Good(8);
    c.edit(req);
    const grpc::Status st = Call(client, req);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(st.error_message(), std::string(c.field) + ": not valid UTF-8");
  }
  // Bytes that are no request at all.
  {
    auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
    grpc::GenericStub raw(channel);
    for (const char* method : {"/groupshard.v1.Inference/Generate",
                               "/groupshard.v1.Inference/Tokenize"}) {
      const std::string garbage(6, '\xff');
      grpc::Slice slice(garbage);
      grpc::ByteBuffer request(&slice, 1), response;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
      std::promise<grpc::Status> done;
      raw.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                    [&](grpc::Status st) { done.set_value(st); });
      const grpc::Status st = done.get_future().get();
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
      EXPECT_EQ(st.error_message(), "malformed request") << method;
    }
  }
  // Larger than --max-message-bytes: refused by the transport.
  pb::GenerateRequest huge = Good(4);
  huge.set_prompt(std::string(20000, 'a'));
  EXPECT_EQ(Call(client, huge).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  stream.join();
  ASSERT_TRUE(healthy.ok()) << healthy.error_message();
  EXPECT_EQ(healthy_ids.size(), 240u);
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
  // No client can fill the log: no parse errors, and refusals rate-limited
  // (5 lines per status code and 10 s; this test sends more).
  const std::string log = server.Log();
  EXPECT_EQ(log.find("libprotobuf"), std::string::npos) << log;
  int refusals = 0;
  for (size_t at = log.find("request ended: INVALID_ARGUMENT"); at != std::string::npos;
       at = log.find("request ended: INVALID_ARGUMENT", at + 1)) {
    ++refusals;
  }
  EXPECT_GE(refusals, 1) << log;
  EXPECT_LE(refusals, 5) << log;
}

TEST(ServeApi, FullQueueIsResourceExhausted) {
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 2,
                           {"--kv-blocks", "64", "--max-running", "1", "--max-queue", "1"}, &why))
      << why;
  InferenceClient client(server.address());
  ASSERT_TRUE(client.WaitForReady(seconds(10)));
  std::vector<grpc::Status> st(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) threads.emplace_back([&, i] { st[i] = Call(client, Good(240)); });
  for (auto& t : threads) t.join();
  int ok = 0, full = 0;
  for (const auto& s : st) {
    ok += s.ok();
    full += s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_GE(ok, 2);  // one running and one queued at least
  EXPECT_GE(full, 1);
  EXPECT_EQ(ok + full, 16);
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
}

TEST(ServeApi, CliAndPythonClientsAgreeAndReflectionListsServices) {
  testing::ServerProcess server;
  std::string why;
  ASSERT_TRUE(server.Start(testing::DataPath("models/g9x3.gguf"), 2, {"--kv-blocks", "64"}, &why))
      << why;
  const std::string addr = server.address();
  InferenceClient client(addr);
  pb::GenerateRequest req;
  for (int id : {1, 72, 101, 108, 108, 111}) req.add_prompt_token_ids(id);
  req.set_max_tokens(12);
  req.set_ignore_eos(true);
  req.mutable_sampling()->set_temperature(0.0f);
  std::vector<int32_t> ids;
  ASSERT_TRUE(Call(client, req, &ids).ok());

  const std::string py = testing::Python() + " " + testing::SourceDir() +
                         "/examples/python_client.py --server " + addr + " ";
  std::string out;
  ASSERT_EQ(testing::RunCommand(py + "generate --prompt-ids 1,72,101,108,108,111 --max-tokens 12 "
                                     "--ignore-eos 2>/dev/null",
                                &out),
            0)
      << out;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["token_ids"].get<std::vector<int32_t>>(), ids);
  EXPECT_EQ(j["finish_reason"], "FINISH_REASON_LENGTH");

  out.clear();
  ASSERT_EQ(testing::RunCommand(py + "list-services", &out), 0) << out;
  EXPECT_NE(out.find("groupshard.v1.Inference"), std::string::npos) << out;
  EXPECT_NE(out.find("grpc.health.v1.Health"), std::string::npos) << out;
  EXPECT_NE(out.find("grpc.reflection.v1alpha.ServerReflection"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(testing::RunCommand(py + "describe groupshard.v1.Inference", &out), 0) << out;
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["groupshard.v1.Inference"].get<std::vector<std::string>>(),
            (std::vector<std::string>{"Generate", "Tokenize", "Detokenize", "ModelInfo"}));
  out.clear();
  ASSERT_EQ(testing::RunCommand(py + "health", &out), 0) << out;
  EXPECT_EQ(out, "SERVING\n");

  // The CLI client and the Python client, the same request as text (the
  // server tokenizes it: byte-level fixture vocab, no BOS).
  out.clear();
  ASSERT_EQ(testing::RunCommand(py + "generate --prompt Hello --max-tokens 12 --ignore-eos "
                                     "2>/dev/null",
                                &out),
            0)
      << out;
  ids = nlohmann::json::parse(out)["token_ids"].get<std::vector<int32_t>>();
  ASSERT_EQ(ids.size(), 12u);
  out.clear();
  ASSERT_EQ(testing::RunCommand(testing::GroupshardBin() + " client generate --server " + addr +
                                    " --prompt Hello --max-tokens 12 --temperature 0 --ignore-eos "
                                    "--json 2>/dev/null",
                                &out),
            0)
      << out;
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["token_ids"].get<std::vector<int32_t>>(), ids);
  out.clear();
  EXPECT_EQ(testing::RunCommand(testing::GroupshardBin() + " client health --server " + addr, &out), 0);
  EXPECT_EQ(out, "SERVING\n");
  out.clear();
  ASSERT_EQ(testing::RunCommand(testing::GroupshardBin() + " client info --server " + addr, &out), 0);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["config"]["n_kv_heads"], 3);
  EXPECT_EQ(j["tp_size"], 2);
  EXPECT_EQ(server.Terminate(seconds(60)), 0) << server.Log();
}

}  // namespace
}  // namespace gs
