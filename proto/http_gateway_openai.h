// The OpenAI wire format (completions and chat completions) on one side,
// groupshard.v1 messages on the other. Pure conversions, no I/O.
#pragma once

#include <string>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "kernels/status.h"
#include "proto/groupshard.pb.h"

namespace gs {

struct OpenAiRequest {
  groupshard::v1::GenerateRequest generate;
  bool chat = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string model;           // as the client named it (echoed back)
};

// Parses the body of POST /v1/completions (chat=false) or
// /v1/chat/completions (chat=true). INVALID_ARGUMENT names the field.
StatusOr<OpenAiRequest> ParseOpenAiRequest(const nlohmann::json& body, bool chat);

// {"error":{"message","type","param","code"}}.
nlohmann::json OpenAiError(const std::string& message, const std::string& type,
                           const std::string& param = "", const std::string& code = "");
// The HTTP status and error body for a failed gRPC call.
int HttpStatusFor(grpc::StatusCode code);
nlohmann::json OpenAiErrorFor(const grpc::Status& st);

// "stop", "length" or null.
nlohmann::json FinishReasonJson(groupshard::v1::FinishReason r);

// One streamed chunk: text_completion / chat.completion.chunk. `first`
// marks the chat chunk that carries the assistant role.
nlohmann::json StreamChunk(const OpenAiRequest& r, const std::string& id, int64_t created,
                           const std::string& text, const nlohmann::json& finish_reason,
                           bool first);
// The whole non-streamed reply.
nlohmann::json FullResponse(const OpenAiRequest& r, const std::string& id, int64_t created,
                            const std::string& text, const nlohmann::json& finish_reason,
                            const groupshard::v1::Usage& usage);
nlohmann::json UsageJson(const groupshard::v1::Usage& usage);

}  // namespace gs
