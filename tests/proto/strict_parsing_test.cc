// Requests read before they are parsed: bytes that are no request, and
// string fields that are not UTF-8, answered with INVALID_ARGUMENT naming
// what is wrong.
#include "proto/strict_parsing.h"

#include <gtest/gtest.h>

#include <string>

namespace gs {
namespace {

namespace pb = groupshard::v1;

// `req` serialized, with every "@@" in it replaced by the bytes FF FE (two
// bytes for two, so lengths stay right): strings protobuf itself would refuse.
std::string WithInvalidUtf8(const pb::GenerateRequest& req) {
  std::string bytes = req.SerializeAsString();
  for (size_t at = bytes.find("@@"); at != std::string::npos; at = bytes.find("@@", at)) {
    bytes.replace(at, 2, "\xff\xfe");
  }
  return bytes;
}

TEST(StrictParsingTest, AValidRequestParses) {
  pb::GenerateRequest req;
  req.set_request_id("r1");
  req.set_prompt("hello");
  auto* m = req.add_messages();
  m->set_role("user");
  m->set_content("caf\xc3\xa9");
  pb::GenerateRequest out;
  const grpc::Status st = ParseRequestStrictly(req.SerializeAsString(), &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.request_id(), "r1");
  EXPECT_EQ(out.messages(0).content(), "caf\xc3\xa9");
}

TEST(StrictParsingTest, InvalidUtf8IsNamedByField) {
  struct Case {
    std::string want;
    pb::GenerateRequest req;
  };
  pb::GenerateRequest id;
  id.set_request_id("id@@");
  pb::GenerateRequest role;
  role.add_messages()->set_role("user");
  role.add_messages()->set_role("us@@er");
  for (const Case& c : {Case{"request_id", id}, Case{"messages[1].role", role}}) {
    pb::GenerateRequest out;
    const grpc::Status st = ParseRequestStrictly(WithInvalidUtf8(c.req), &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.want;
    EXPECT_EQ(st.error_message(), c.want + ": not valid UTF-8");
  }
  // Bytes fields (the prompt, a message's content) are not strings: their
  // check is the service's, which names them too.
  pb::GenerateRequest prompt;
  prompt.set_prompt("@@");
  prompt.add_messages()->set_content("@@");
  pb::GenerateRequest out;
  EXPECT_TRUE(ParseRequestStrictly(WithInvalidUtf8(prompt), &out).ok());
}

TEST(StrictParsingTest, BytesThatAreNoRequestAreMalformed) {
  pb::GenerateRequest req;
  req.set_request_id("a fairly long request id");
  const std::string whole = req.SerializeAsString();
  for (const std::string& bytes : {std::string(6, '\xff'), whole.substr(0, whole.size() - 3),
                                   std::string("\x0a\x80", 2)}) {
    pb::GenerateRequest out;
    const grpc::Status st = ParseRequestStrictly(bytes, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(st.error_message(), "malformed request");
  }
}

}  // namespace
}  // namespace gs
