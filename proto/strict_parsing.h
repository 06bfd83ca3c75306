// How the gRPC services read their requests. gRPC's default parse answers
// INTERNAL with an empty message for bytes that are not a request, and
// protobuf refuses (and logs, once per request) a proto3 string field that is
// not UTF-8. Here a request is first read field by field without
// interpreting strings: bytes that are not a protobuf message get
// INVALID_ARGUMENT "malformed request", a string field that is not UTF-8 gets
// INVALID_ARGUMENT naming the field ("messages[0].role: not valid UTF-8"),
// and nothing is logged. Only then is the request parsed.
//
// The SerializationTraits specializations below must be seen by every file
// that instantiates gRPC's templates for these request types (generated code
// included), so the build puts this header in front of each file of the
// proto library and of everything that links it (-include).
#pragma once

#include <grpcpp/impl/codegen/proto_utils.h>

#include "proto/groupshard.pb.h"
#include "proto/health.pb.h"

namespace gs {

// Parses `bytes` into `msg` as described above.
grpc::Status ParseRequestStrictly(const std::string& bytes, google::protobuf::Message* msg);
// What gRPC calls to read any message: requests of the groupshard and
// health services strictly (ParseRequestStrictly), anything else as gRPC
// does. The buffer is cleared afterwards, as gRPC's own parse does.
grpc::Status DeserializeMessage(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg);

}  // namespace gs

// Server-streaming handlers deserialize with the request's own type, unary
// ones through MessageLite (the generated code's base type, which client
// stubs use for their replies too): both come here, and only requests of
// the services groupshard serves are read strictly.
#define GS_STRICT_PARSE(Type)                                                                   \
  template <>                                                                                   \
  class grpc::SerializationTraits<Type, void> {                                                 \
   public:                                                                                      \
    static grpc::Status Serialize(const grpc::protobuf::MessageLite& msg, grpc::ByteBuffer* bb, \
                                  bool* own_buffer) {                                           \
      return grpc::GenericSerialize<grpc::ProtoBufferWriter, Type>(msg, bb, own_buffer);        \
    }                                                                                           \
    static grpc::Status Deserialize(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg) { \
      return gs::DeserializeMessage(buffer, msg);                                               \
    }                                                                                           \
  }

GS_STRICT_PARSE(grpc::protobuf::MessageLite);
GS_STRICT_PARSE(groupshard::v1::GenerateRequest);
GS_STRICT_PARSE(grpc::health::v1::HealthCheckRequest);

#undef GS_STRICT_PARSE
