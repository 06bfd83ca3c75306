#include "proto/request_builder.h"

#include <algorithm>

namespace gs {

namespace {

Status Invalid(const std::string& field, const std::string& what) {
  return Status::InvalidArgument(field + ": " + what);
}

Status CheckUtf8(std::string_view s, const std::string& field) {
  const long bad = FindInvalidUtf8(s);
  if (bad < 0) return Status::Ok();
  return Invalid(field, "invalid UTF-8 at byte " + std::to_string(bad));
}

// Every id of `ids` inside the vocabulary; errors name "field[i]".
Status CheckTokenIds(const google::protobuf::RepeatedField<int32_t>& ids, const std::string& field,
                     int vocab_size) {
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) {
      return Invalid(field + "[" + std::to_string(i) + "]",
                     "id " + std::to_string(ids[i]) + " outside the vocabulary of " +
                         std::to_string(vocab_size));
    }
  }
  return Status::Ok();
}

}  // namespace

long FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    int len = 0;
    uint32_t min_cp = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min_cp = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min_cp = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min_cp = 0x10000, cp = c & 0x07;
    } else {
      return static_cast<long>(i);
    }
    if (i + len > n) return static_cast<long>(i);
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return static_cast<long>(i);
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return static_cast<long>(i);
    }
    i += len;
  }
  return -1;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    const long bad = FindInvalidUtf8(s);
    if (bad < 0) {
      out.append(s);
      break;
    }
    out.append(s.substr(0, static_cast<size_t>(bad)));
    out.append("\xEF\xBF\xBD");
    s.remove_prefix(static_cast<size_t>(bad) + 1);
  }
  return out;
}

StatusOr<std::vector<ChatMessage>> ParseChatMessages(
    const google::protobuf::RepeatedPtrField<groupshard::v1::ChatMessage>& messages) {
  std::vector<ChatMessage> out;
  for (int i = 0; i < messages.size(); ++i) {
    const std::string field = "messages[" + std::to_string(i) + "]";
    const auto& m = messages[i];
    if (m.role() != "system" && m.role() != "user" && m.role() != "assistant") {
      return Invalid(field + ".role", "unknown role '" + SanitizeUtf8(m.role()) +
                                          "' (system, user or assistant)");
    }
    GS_RETURN_IF_ERROR(CheckUtf8(m.content(), field + ".content"));
    out.push_back({m.role(), m.content()});
  }
  return out;
}

StatusOr<std::shared_ptr<ActiveRequest>> PrepareGenerate(const groupshard::v1::GenerateRequest& req,
                                                         const Tokenizer& tokenizer,
                                                         const RequestLimits& limits) {
  auto out = std::make_shared<ActiveRequest>();
  GenerateRequest& er = out->engine_request;
  const int forms = (!req.prompt().empty()) + (req.prompt_token_ids_size() > 0) +
                    (req.messages_size() > 0);
  if (forms == 0) return Invalid("prompt", "empty (give prompt, prompt_token_ids or messages)");
  if (forms > 1) return Invalid("prompt", "give only one of prompt, prompt_token_ids, messages");

  // Sampling first: cheap, and independent of the prompt.
  const auto& sp = req.sampling();
  SamplingParams& s = er.sampling;
  s.temperature = sp.has_temperature() ? sp.temperature() : 1.0f;
  s.top_k = sp.top_k();
  s.top_p = sp.has_top_p() ? sp.top_p() : 1.0f;
  s.min_p = sp.min_p();
  s.repetition_penalty = sp.has_repetition_penalty() ? sp.repetition_penalty() : 1.0f;
  s.seed = sp.seed();
  if (Status st = s.Validate(); !st.ok()) return Status::InvalidArgument("sampling." + st.message());

  if (req.has_max_tokens() && req.max_tokens() <= 0) {
    return Invalid("max_tokens", "must be positive, got " + std::to_string(req.max_tokens()));
  }
  if (req.has_max_tokens() && req.max_tokens() >= limits.max_position) {
    return Invalid("max_tokens", std::to_string(req.max_tokens()) + " exceeds the context of " +
                                     std::to_string(limits.max_position) + " tokens");
  }
  if (req.stop_size() > limits.max_stop_strings) {
    return Invalid("stop", "at most " + std::to_string(limits.max_stop_strings) + " strings");
  }
  for (int i = 0; i < req.stop_size(); ++i) {
    const std::string field = "stop[" + std::to_string(i) + "]";
    if (req.stop(i).empty()) return Invalid(field, "empty");
    GS_RETURN_IF_ERROR(CheckUtf8(req.stop(i), field));
    out->stop.push_back(req.stop(i));
  }

  if (!req.prompt().empty()) {
    GS_RETURN_IF_ERROR(CheckUtf8(req.prompt(), "prompt"));
    er.prompt = tokenizer.Encode(req.prompt(), /*add_special=*/true);
    if (er.prompt.empty()) return Invalid("prompt", "encodes to no tokens");
  } else if (req.prompt_token_ids_size() > 0) {
    GS_RETURN_IF_ERROR(CheckTokenIds(req.prompt_token_ids(), "prompt_token_ids", limits.vocab_size));
    er.prompt.assign(req.prompt_token_ids().begin(), req.prompt_token_ids().end());
  } else {
    GS_ASSIGN_OR_RETURN(std::vector<ChatMessage> msgs, ParseChatMessages(req.messages()));
    auto rendered = tokenizer.ApplyChatTemplate(msgs, /*add_generation_prompt=*/true);
    if (!rendered.ok()) return Invalid("messages", rendered.status().message());
    er.prompt = tokenizer.Encode(*rendered, /*add_special=*/false);
  }

  const int n_prompt = static_cast<int>(er.prompt.size());
  const int context = std::min(limits.max_position, limits.kv_tokens);
  if (n_prompt >= context) {
    return Invalid("prompt", std::to_string(n_prompt) + " tokens leave no room in the context of " +
                                 std::to_string(context) + " tokens");
  }
  if (req.has_max_tokens()) {
    er.max_tokens = req.max_tokens();
    if (n_prompt + er.max_tokens > context) {
      return Invalid("max_tokens", std::to_string(er.max_tokens) + " + " +
                                       std::to_string(n_prompt) + " prompt tokens exceed the " +
                                       (context == limits.max_position ? "context" : "KV cache") +
                                       " of " + std::to_string(context) + " tokens");
    }
  } else {
    er.max_tokens = std::min(limits.default_max_tokens, context - n_prompt);
  }
  GS_RETURN_IF_ERROR(CheckTokenIds(req.resume_token_ids(), "resume_token_ids", limits.vocab_size));
  if (req.resume_token_ids_size() >= er.max_tokens) {
    return Invalid("resume_token_ids", std::to_string(req.resume_token_ids_size()) +
                                           " tokens leave none of max_tokens " +
                                           std::to_string(er.max_tokens) + " to generate");
  }
  er.resume.assign(req.resume_token_ids().begin(), req.resume_token_ids().end());
  if (!req.ignore_eos()) er.eos_ids = tokenizer.eos_ids();
  out->logprobs = req.logprobs();
  er.logprobs = req.logprobs();
  out->client_id = req.request_id();
  return out;
}

}  // namespace gs
