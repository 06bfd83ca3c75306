// Bearer tokens and TLS on the coordinator's gRPC and HTTP listeners: a
// missing or wrong token gets UNAUTHENTICATED / 401 and nothing else; TLS
// works with a certificate made at test time by openssl.
#include <gtest/gtest.h>

#include "proto/coordinator_security.h"
#include "proto/coordinator_server.h"
#include "proto/health.grpc.pb.h"
#include "tests/proto/coordinator_fake_backend.h"
#include "tests/test_util.h"

#ifdef GS_HAVE_HTTPLIB
#include <httplib.h>
#endif

namespace gs {
namespace {

namespace pb = groupshard::v1;
using testing::FakeBackend;

TEST(CoordinatorSecurityTest, BearerMatchesOnlyTheExactToken) {
  EXPECT_TRUE(BearerMatches("anything", ""));
  EXPECT_TRUE(BearerMatches("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(BearerMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(BearerMatches("Bearer s3cret!", "s3cret"));
  EXPECT_FALSE(BearerMatches("bearer s3cret", "s3cret"));
  EXPECT_FALSE(BearerMatches("", "s3cret"));
}

// Generate through `stub` with an optional authorization value; the status
// and how many messages came back.
std::pair<grpc::Status, int> Call(pb::Inference::Stub& stub, const std::string& auth) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!auth.empty()) ctx.AddMetadata("authorization", auth);
  pb::GenerateRequest req;
  req.add_prompt_token_ids(1);
  req.set_max_tokens(2);
  auto reader = stub.Generate(&ctx, req);
  pb::GenerateResponse m;
  int n = 0;
  while (reader->Read(&m)) ++n;
  return {reader->Finish(), n};
}

TEST(CoordinatorSecurityTest, TokenCheckedOnEveryGrpcAndHttpCall) {
  FakeBackend a;
  ASSERT_TRUE(a.Start());
  CoordinatorOptions o;
  o.listen = "127.0.0.1:0";
  o.backends = {a.address()};
  o.auth_token = "s3cret";
  if (HttpGatewayAvailable()) o.http_listen = "127.0.0.1:0";
  auto c = Coordinator::Start(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto channel = grpc::CreateChannel((*c)->address(), grpc::InsecureChannelCredentials());
  auto stub = pb::Inference::NewStub(channel);
  for (const std::string& bad : {std::string(), std::string("Bearer wrong"), std::string("s3cret")}) {
    auto [st, n] = Call(*stub, bad);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << bad;
    EXPECT_EQ(n, 0);
    grpc::ClientContext ctx;
    if (!bad.empty()) ctx.AddMetadata("authorization", bad);
    pb::ModelInfoResponse info;
    EXPECT_EQ(stub->ModelInfo(&ctx, pb::ModelInfoRequest(), &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(info.model(), "");
    grpc::ClientContext hctx;
    grpc::health::v1::HealthCheckResponse h;
    EXPECT_EQ(grpc::health::v1::Health::NewStub(channel)
                  ->Check(&hctx, grpc::health::v1::HealthCheckRequest(), &h)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  auto [ok, n] = Call(*stub, "Bearer s3cret");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(n, 2);
  EXPECT_EQ(a.generate_calls, 1);  // refused calls never reached the backend

#ifdef GS_HAVE_HTTPLIB
  const std::string addr = (*c)->http_address();
  httplib::Client h("127.0.0.1", std::stoi(addr.substr(addr.rfind(':') + 1)));
  for (const char* path : {"/health", "/metrics", "/v1/models"}) {
    auto r = h.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(r->body.find("groupshard_"), std::string::npos);
    r = h.Get(path, {{"Authorization", "Bearer wrong"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    r = h.Get(path, {{"Authorization", "Bearer s3cret"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  }
  auto r = h.Post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = h.Post("/v1/completions", {{"Authorization", "Bearer s3cret"}}, "{\"prompt\":\"x\",\"max_tokens\":2}",
             "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(a.generate_calls, 2);
#endif
}

TEST(CoordinatorSecurityTest, TlsOnGrpcAndHttp) {
  std::string out;
  if (gs::testing::RunCommand("openssl version 2>&1", &out) != 0) GTEST_SKIP() << "no openssl";
  const std::string dir = gs::testing::TempDir();
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  ASSERT_EQ(gs::testing::RunCommand("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
                                    " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                                        key + " -out " + cert + " 2>&1",
                                    &out),
            0)
      << out;
  FakeBackend a;
  ASSERT_TRUE(a.Start());
  CoordinatorOptions o;
  o.listen = "127.0.0.1:0";
  o.backends = {a.address()};
  o.tls_cert = cert;
  o.tls_key = key;
  if (HttpGatewayAvailable()) o.http_listen = "127.0.0.1:0";
  auto c = Coordinator::Start(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();

  auto creds = MakeChannelCredentials(cert);
  ASSERT_TRUE(creds.ok());
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto tls = pb::Inference::NewStub(grpc::CreateCustomChannel((*c)->address(), *creds, args));
  auto [st, n] = Call(*tls, "");
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(n, 2);
  // A plaintext client gets nothing from a TLS port.
  auto plain = pb::Inference::NewStub(grpc::CreateChannel((*c)->address(), grpc::InsecureChannelCredentials()));
  auto [pst, pn] = Call(*plain, "");
  EXPECT_FALSE(pst.ok());
  EXPECT_EQ(pn, 0);

#ifdef GS_HAVE_HTTPLIB
  const std::string addr = (*c)->http_address();
  const int port = std::stoi(addr.substr(addr.rfind(':') + 1));
  httplib::SSLClient hs("127.0.0.1", port);
  hs.set_ca_cert_path(cert.c_str());
  hs.enable_server_certificate_verification(true);
  auto r = hs.Post("/v1/chat/completions",
                   "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2}", "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  httplib::Client hp("127.0.0.1", port);
  hp.set_read_timeout(5, 0);
  auto pr = hp.Get("/health");
  EXPECT_TRUE(!pr || pr->status != 200);
#endif
}

}  // namespace
}  // namespace gs
