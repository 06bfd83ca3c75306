// Checks requests that arrive over gRPC and turns them into engine requests.
// Runs on gRPC threads (no MPI); every error is InvalidArgument naming the
// field at fault, so the service edge can pass it through unchanged.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/status.h"
#include "core/tokenizer.h"
#include "proto/groupshard.pb.h"
#include "proto/serving_queue.h"

namespace gs {

struct RequestLimits {
  int max_position = 2048;  // the model's context
  int vocab_size = 0;
  int kv_tokens = 0;        // tokens the whole KV cache holds (one sequence must fit)
  int default_max_tokens = 256;
  int max_stop_strings = 16;
};

// The first invalid byte offset of `s` as UTF-8 (strict: no overlong forms,
// surrogates or code points past U+10FFFF), or -1 when it is valid.
long FindInvalidUtf8(std::string_view s);
// Replaces each invalid byte with U+FFFD so the text fits a proto3 string.
std::string SanitizeUtf8(std::string_view s);

// Chat messages with their roles and contents checked ("messages[1].role").
StatusOr<std::vector<ChatMessage>> ParseChatMessages(
    const google::protobuf::RepeatedPtrField<groupshard::v1::ChatMessage>& messages);

// Validates `req` against the model and tokenizes its prompt. The result has
// no id yet (ServingQueue::Submit assigns it).
StatusOr<std::shared_ptr<ActiveRequest>> PrepareGenerate(const groupshard::v1::GenerateRequest& req,
                                                         const Tokenizer& tokenizer,
                                                         const RequestLimits& limits);

}  // namespace gs
