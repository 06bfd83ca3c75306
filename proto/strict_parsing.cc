#include "proto/strict_parsing.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "proto/log.h"
#include "proto/request_builder.h"

namespace gs {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

constexpr int kMaxDepth = 32;  // nested messages followed; deeper ones are the parser's to refuse

// Looks for a string field of `d` (in `fields`, read without interpreting
// them) that is not UTF-8; names it in *bad ("messages[0].role").
bool FindInvalidString(const Descriptor* d, const UnknownFieldSet& fields,
                       const std::string& prefix, int depth, std::string* bad) {
  std::map<int, int> occurrences;  // per field number: the index of a repeated field
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& f = fields.field(i);
    const int index = occurrences[f.number()]++;
    const FieldDescriptor* fd = d->FindFieldByNumber(f.number());
    if (fd == nullptr || f.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    std::string name = prefix + fd->name();
    if (fd->is_repeated()) name += "[" + std::to_string(index) + "]";
    if (fd->type() == FieldDescriptor::TYPE_STRING) {
      if (FindInvalidUtf8(f.length_delimited()) >= 0) {
        *bad = name;
        return true;
      }
    } else if (fd->type() == FieldDescriptor::TYPE_MESSAGE && depth < kMaxDepth) {
      UnknownFieldSet nested;
      if (!nested.ParseFromString(f.length_delimited())) continue;  // refused below
      if (FindInvalidString(fd->message_type(), nested, name + ".", depth + 1, bad)) return true;
    }
  }
  return false;
}

// Refusals here never reach a service: logged here, a few per key and minute.
grpc::Status Refuse(const std::string& key, const std::string& message) {
  static RateLimitedLog log(5, std::chrono::seconds(60));
  log.Write(spdlog::level::warn, key, "refused a request: INVALID_ARGUMENT: " + message);
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status Malformed() { return Refuse("malformed", "malformed request"); }

// Requests of the services groupshard serves (Inference, Health).
bool IsServedRequest(const Descriptor* d) {
  const std::string& package = d->file()->package();
  const std::string& name = d->name();
  constexpr std::string_view kSuffix = "Request";
  return (package == "groupshard.v1" || package == "grpc.health.v1") &&
         name.size() > kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace

grpc::Status ParseRequestStrictly(const std::string& bytes, google::protobuf::Message* msg) {
  UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return Malformed();
  std::string bad;
  if (FindInvalidString(msg->GetDescriptor(), fields, "", 0, &bad)) {
    return Refuse("utf8", bad + ": not valid UTF-8");
  }
  if (!msg->ParseFromString(bytes)) return Malformed();
  return grpc::Status::OK;
}

grpc::Status DeserializeMessage(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg) {
  auto* full = dynamic_cast<google::protobuf::Message*>(msg);
  if (full == nullptr || !IsServedRequest(full->GetDescriptor())) {
    return grpc::GenericDeserialize<grpc::ProtoBufferReader, grpc::protobuf::MessageLite>(buffer,
                                                                                         msg);
  }
  if (buffer == nullptr) return Malformed();
  std::vector<grpc::Slice> slices;
  if (!buffer->Dump(&slices).ok()) return Malformed();
  std::string bytes;
  bytes.reserve(buffer->Length());
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  buffer->Clear();
  return ParseRequestStrictly(bytes, full);
}

}  // namespace gs
