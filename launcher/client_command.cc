#include <cstdio>
#include <iostream>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "launcher/commands.h"
#include "proto/client.h"

namespace gs::launcher {

namespace {

namespace pb = groupshard::v1;

struct ClientOpts {
  std::string server = "127.0.0.1:50051";
  std::string prompt;
  std::string system;
  std::vector<std::string> messages;  // chat: role=content, or plain content (user)
  int max_tokens = 0;
  float temperature = 1.0f;
  int top_k = 0;
  float top_p = 1.0f;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool logprobs = false;
  bool ignore_eos = false;
  bool json = false;
  double timeout_s = 0;
  std::string health_service;
};

int Fail(const char* what, const grpc::Status& st) {
  std::cerr << "groupshard client " << what << ": " << GrpcCodeName(st.error_code()) << ": "
            << st.error_message() << "\n";
  return st.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kUsageError : 1;
}

int RunGenerate(const ClientOpts& o, bool chat) {
  InferenceClient client(o.server);
  pb::GenerateRequest req;
  if (chat) {
    if (!o.system.empty()) {
      pb::ChatMessage* m = req.add_messages();
      m->set_role("system");
      m->set_content(o.system);
    }
    for (const std::string& s : o.messages) {
      pb::ChatMessage* m = req.add_messages();
      const size_t eq = s.find('=');
      if (eq != std::string::npos && s.find_first_of(" \n") > eq) {
        m->set_role(s.substr(0, eq));
        m->set_content(s.substr(eq + 1));
      } else {
        m->set_role("user");
        m->set_content(s);
      }
    }
  } else {
    req.set_prompt(o.prompt);
  }
  if (o.max_tokens > 0) req.set_max_tokens(o.max_tokens);
  pb::SamplingParams* sp = req.mutable_sampling();
  sp->set_temperature(o.temperature);
  sp->set_top_k(o.top_k);
  sp->set_top_p(o.top_p);
  sp->set_seed(o.seed);
  for (const std::string& s : o.stop) req.add_stop(s);
  req.set_logprobs(o.logprobs);
  req.set_ignore_eos(o.ignore_eos);
  std::string text;
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  pb::GenerateResponse last;
  grpc::Status st = client.Generate(
      req,
      [&](const pb::GenerateResponse& m) {
        text += m.text();
        ids.insert(ids.end(), m.token_ids().begin(), m.token_ids().end());
        logprobs.insert(logprobs.end(), m.logprobs().begin(), m.logprobs().end());
        if (!o.json && !m.text().empty()) {
          std::fwrite(m.text().data(), 1, m.text().size(), stdout);
          std::fflush(stdout);
        }
        if (m.finish_reason() != pb::FINISH_REASON_UNSPECIFIED) last = m;
        return true;
      },
      std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000)));
  if (!o.json && !text.empty()) std::cout << std::endl;
  if (!st.ok()) return Fail(chat ? "chat" : "generate", st);
  const pb::Usage& u = last.usage();
  if (o.json) {
    nlohmann::json j;
    j["text"] = text;
    j["token_ids"] = ids;
    if (o.logprobs) j["logprobs"] = logprobs;
    j["finish_reason"] = pb::FinishReason_Name(last.finish_reason());
    j["usage"] = {{"prompt_tokens", u.prompt_tokens()},
                  {"completion_tokens", u.completion_tokens()},
                  {"time_to_first_token_s", u.time_to_first_token_s()},
                  {"total_time_s", u.total_time_s()}};
    std::cout << j.dump() << std::endl;
  } else {
    std::fprintf(stderr, "[%d prompt tokens, %d generated, time to first token %.3f s, %.3f s, %s]\n",
                 u.prompt_tokens(), u.completion_tokens(), u.time_to_first_token_s(),
                 u.total_time_s(), pb::FinishReason_Name(last.finish_reason()).c_str());
  }
  return 0;
}

int RunInfo(const ClientOpts& o) {
  InferenceClient client(o.server);
  pb::ModelInfoResponse info;
  grpc::Status st = client.ModelInfo(&info);
  if (!st.ok()) return Fail("info", st);
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(info, &json, opts).ok()) return 1;
  std::cout << json;
  return 0;
}

int RunHealth(const ClientOpts& o) {
  InferenceClient client(o.server);
  grpc::health::v1::HealthCheckResponse::ServingStatus status;
  grpc::Status st = client.Health(o.health_service, &status);
  if (!st.ok()) return Fail("health", st);
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(status) << "\n";
  return status == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

void AddSampling(CLI::App* sub, ClientOpts* o) {
  sub->add_option("--max-tokens", o->max_tokens, "Tokens to generate at most (server default)");
  sub->add_option("--temperature", o->temperature, "0 = greedy")->capture_default_str();
  sub->add_option("--top-k", o->top_k, "0 = off");
  sub->add_option("--top-p", o->top_p, "Nucleus mass in (0,1]");
  sub->add_option("--seed", o->seed, "Sampling seed");
  sub->add_option("--stop", o->stop, "Stop string (repeatable)");
  sub->add_flag("--logprobs", o->logprobs, "Ask for log-probabilities");
  sub->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-sequence");
  sub->add_flag("--json", o->json, "Print one JSON object at the end instead of streaming");
  sub->add_option("--timeout", o->timeout_s, "Deadline in seconds (0 = none)");
}

}  // namespace

RunFn AddClientCommand(CLI::App& app) {
  auto o = std::make_shared<ClientOpts>();
  app.require_subcommand(1);
  app.add_option("--server", o->server, "host:port of the server")->capture_default_str();
  CLI::App* gen = app.add_subcommand("generate", "Stream a completion of --prompt");
  gen->add_option("--prompt", o->prompt, "Prompt text")->required();
  AddSampling(gen, o.get());
  CLI::App* chat = app.add_subcommand("chat", "Stream a chat reply");
  chat->add_option("--message", o->messages, "A message: text (user) or role=text; repeatable")
      ->required();
  chat->add_option("--system", o->system, "System message");
  AddSampling(chat, o.get());
  CLI::App* info = app.add_subcommand("info", "Print ModelInfo as JSON");
  CLI::App* health = app.add_subcommand("health", "Print the server's health (exit 0 if SERVING)");
  health->add_option("--service", o->health_service, "Service name (default: the whole server)");
  // --server may also follow the subcommand.
  for (CLI::App* sub : {gen, chat, info, health}) {
    sub->add_option("--server", o->server, "host:port of the server");
  }
  return [o, gen, chat, info, health](int*, char***) {
    if (gen->parsed()) return RunGenerate(*o, false);
    if (chat->parsed()) return RunGenerate(*o, true);
    if (info->parsed()) return RunInfo(*o);
    if (health->parsed()) return RunHealth(*o);
    return kUsageError;
  };
}

}  // namespace gs::launcher
