#include "proto/http_gateway_openai.h"

namespace gs {

namespace pb = groupshard::v1;
using nlohmann::json;

namespace {

Status Bad(const std::string& field, const std::string& why) {
  return Status::InvalidArgument(field + ": " + why);
}

// Chat content: a string, or a list of {"type":"text","text":...} parts.
StatusOr<std::string> ContentText(const json& c, const std::string& field) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_null()) return std::string();
  if (!c.is_array()) return Bad(field, "expected a string or a list of text parts");
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    const json& p = c[i];
    if (!p.is_object() || p.value("type", "") != "text" || !p.contains("text") ||
        !p["text"].is_string()) {
      return Bad(field + "[" + std::to_string(i) + "]", "only text parts are supported");
    }
    out += p["text"].get<std::string>();
  }
  return out;
}

}  // namespace

StatusOr<OpenAiRequest> ParseOpenAiRequest(const json& body, bool chat) {
  if (!body.is_object()) return Bad("body", "expected a JSON object");
  OpenAiRequest r;
  r.chat = chat;
  pb::GenerateRequest& g = r.generate;
  try {
    r.model = body.value("model", "");
    r.stream = body.value("stream", false);
    if (body.contains("stream_options") && body["stream_options"].is_object()) {
      r.include_usage = body["stream_options"].value("include_usage", false);
    }
    if (body.contains("n") && !body["n"].is_null() && body["n"].get<int>() != 1) {
      return Bad("n", "only n=1 is supported");
    }
    if (chat) {
      if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
        return Bad("messages", "expected a non-empty list");
      }
      const json& msgs = body["messages"];
      for (size_t i = 0; i < msgs.size(); ++i) {
        const std::string field = "messages[" + std::to_string(i) + "]";
        if (!msgs[i].is_object() || !msgs[i].contains("role")) return Bad(field, "expected {role, content}");
        pb::ChatMessage* m = g.add_messages();
        m->set_role(msgs[i]["role"].get<std::string>());
        GS_ASSIGN_OR_RETURN(std::string text,
                            ContentText(msgs[i].value("content", json()), field + ".content"));
        m->set_content(text);
      }
    } else {
      if (!body.contains("prompt")) return Bad("prompt", "required");
      const json& p = body["prompt"];
      if (p.is_string()) {
        g.set_prompt(p.get<std::string>());
      } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
        g.set_prompt(p[0].get<std::string>());
      } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
        for (const json& t : p) g.add_prompt_token_ids(t.get<int32_t>());
      } else {
        return Bad("prompt", "expected a string or a list of token ids (one prompt per request)");
      }
    }
    const char* max_key = body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (body.contains(max_key) && !body[max_key].is_null()) g.set_max_tokens(body[max_key].get<int32_t>());
    pb::SamplingParams* s = g.mutable_sampling();
    if (body.contains("temperature") && !body["temperature"].is_null()) {
      s->set_temperature(body["temperature"].get<float>());
    }
    if (body.contains("top_p") && !body["top_p"].is_null()) s->set_top_p(body["top_p"].get<float>());
    if (body.contains("top_k") && !body["top_k"].is_null()) s->set_top_k(body["top_k"].get<int32_t>());
    if (body.contains("min_p") && !body["min_p"].is_null()) s->set_min_p(body["min_p"].get<float>());
    if (body.contains("repetition_penalty") && !body["repetition_penalty"].is_null()) {
      s->set_repetition_penalty(body["repetition_penalty"].get<float>());
    }
    if (body.contains("seed") && !body["seed"].is_null()) s->set_seed(body["seed"].get<uint64_t>());
    if (body.contains("stop") && !body["stop"].is_null()) {
      const json& st = body["stop"];
      if (st.is_string()) {
        g.add_stop(st.get<std::string>());
      } else if (st.is_array()) {
        for (const json& x : st) g.add_stop(x.get<std::string>());
      } else {
        return Bad("stop", "expected a string or a list of strings");
      }
    }
    if (body.contains("ignore_eos")) g.set_ignore_eos(body["ignore_eos"].get<bool>());
  } catch (const json::exception& e) {
    return Bad("body", std::string("wrong type: ") + e.what());
  }
  return r;
}

json OpenAiError(const std::string& message, const std::string& type, const std::string& param,
                 const std::string& code) {
  return json{{"error",
               {{"message", message},
                {"type", type},
                {"param", param.empty() ? json() : json(param)},
                {"code", code.empty() ? json() : json(code)}}}};
}

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::FAILED_PRECONDITION: return 400;
    case grpc::StatusCode::UNAUTHENTICATED: return 401;
    case grpc::StatusCode::PERMISSION_DENIED: return 403;
    case grpc::StatusCode::NOT_FOUND: return 404;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return 429;
    case grpc::StatusCode::CANCELLED: return 499;
    case grpc::StatusCode::UNIMPLEMENTED: return 501;
    case grpc::StatusCode::UNAVAILABLE: return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return 504;
    default: return 500;
  }
}

json OpenAiErrorFor(const grpc::Status& st) {
  const int http = HttpStatusFor(st.error_code());
  std::string type = "server_error";
  std::string param;
  if (http == 400) {
    type = "invalid_request_error";
    // Our messages start with the field they are about ("max_tokens: ...").
    const std::string& m = st.error_message();
    const size_t colon = m.find(':');
    if (colon != std::string::npos && m.find(' ') > colon) param = m.substr(0, colon);
  } else if (http == 401) {
    type = "authentication_error";
  } else if (http == 429) {
    type = "rate_limit_error";
  }
  std::string code;
  switch (st.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: code = "invalid_argument"; break;
    case grpc::StatusCode::UNAVAILABLE: code = "unavailable"; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: code = "resource_exhausted"; break;
    case grpc::StatusCode::UNAUTHENTICATED: code = "invalid_api_key"; break;
    default: break;
  }
  return OpenAiError(st.error_message(), type, param, code);
}

json FinishReasonJson(pb::FinishReason r) {
  switch (r) {
    case pb::FINISH_REASON_STOP: return "stop";
    case pb::FINISH_REASON_LENGTH: return "length";
    case pb::FINISH_REASON_CANCELLED: return "stop";
    default: return nullptr;
  }
}

json UsageJson(const pb::Usage& u) {
  return json{{"prompt_tokens", u.prompt_tokens()},
              {"completion_tokens", u.completion_tokens()},
              {"total_tokens", u.prompt_tokens() + u.completion_tokens()}};
}

json StreamChunk(const OpenAiRequest& r, const std::string& id, int64_t created,
                 const std::string& text, const json& finish_reason, bool first) {
  json choice = {{"index", 0}, {"finish_reason", finish_reason}};
  if (r.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || first) delta["content"] = text;
    choice["delta"] = delta;
    choice["logprobs"] = nullptr;
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  return json{{"id", id},
              {"object", r.chat ? "chat.completion.chunk" : "text_completion"},
              {"created", created},
              {"model", r.model},
              {"choices", json::array({choice})}};
}

json FullResponse(const OpenAiRequest& r, const std::string& id, int64_t created,
                  const std::string& text, const json& finish_reason, const pb::Usage& usage) {
  json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", nullptr}};
  if (r.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
  }
  return json{{"id", id},
              {"object", r.chat ? "chat.completion" : "text_completion"},
              {"created", created},
              {"model", r.model},
              {"choices", json::array({choice})},
              {"usage", UsageJson(usage)}};
}

}  // namespace gs
