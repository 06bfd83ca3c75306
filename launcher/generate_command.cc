#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/engine.h"
#include "core/sampler.h"
#include "core/text_stream.h"
#include "core/tokenizer.h"
#include "launcher/commands.h"
#include "parallel/mpi_communicator.h"
#include "core/rank_model.h"

namespace gs::launcher {

namespace {

struct GenerateOpts {
  std::string model;
  std::string prompt;
  std::string system;
  bool chat = false;
  int max_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool json = false;
  bool ignore_eos = false;
  int block_size = 16;
  int threads = 1;
  std::string device;  // "" = cuda when usable, else cpu
  std::string kv_dtype;  // "" = the device's default
  kernels::Activations act = kernels::Activations::kInt8;
  double launch_timeout = 30;  // --launch-timeout
};

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Loads the tokenizer and encodes the prompt (through the chat template with
// --chat). Returns 0 or the exit code, after printing why.
int PreparePrompt(const GenerateOpts& o, std::unique_ptr<Tokenizer>* tok,
                  std::vector<int32_t>* prompt_ids) {
  auto t = Tokenizer::Load(o.model);
  if (!t.ok()) {
    std::cerr << "groupshard generate: " << t.status().ToString() << "\n";
    return 1;
  }
  *tok = std::move(t).value();
  std::string text = o.prompt;
  int error = 0;
  if (o.chat) {
    std::vector<ChatMessage> msgs;
    if (!o.system.empty()) msgs.push_back({"system", o.system});
    msgs.push_back({"user", o.prompt});
    auto rendered = (*tok)->ApplyChatTemplate(msgs, true);
    if (!rendered.ok()) {
      std::cerr << "groupshard generate: " << rendered.status().ToString() << "\n";
      error = 1;
    } else {
      text = *rendered;
    }
  }
  *prompt_ids = (*tok)->Encode(text, /*add_special=*/!o.chat);
  if (prompt_ids->empty()) {
    std::cerr << "groupshard generate: the prompt encodes to no tokens\n";
    error = kUsageError;
  }
  return error;
}

// What one generation produced, for the summary line or the JSON object.
struct Generation {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  std::string text;
  FinishReason finish = FinishReason::kNone;
  Clock::time_point t_first;
};

// Steps the engine until the one request ends or a stop string completes,
// streaming the text to stdout unless --json.
Generation StreamTokens(const GenerateOpts& o, Engine& engine, const Tokenizer& tok) {
  Generation g;
  TextStream stream(tok, o.stop);
  auto emit = [&](const std::string& s) {
    g.text += s;
    if (!o.json && !s.empty()) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    }
  };
  std::vector<TokenEvent> events;
  while (engine.HasWork()) {
    events.clear();
    engine.Step(&events);
    for (const TokenEvent& e : events) {
      if (e.token >= 0) {
        if (g.ids.empty()) g.t_first = Clock::now();
        g.ids.push_back(e.token);
        g.logprobs.push_back(e.logprob);
        bool stopped = false;
        emit(stream.Push(e.token, &stopped));
        if (stopped) {
          g.finish = FinishReason::kStop;
          std::vector<TokenEvent> ignored;
          engine.Cancel(e.id, FinishReason::kStop, &ignored);
          break;
        }
      }
      if (e.finish != FinishReason::kNone) g.finish = e.finish;
    }
  }
  // The text held back as a possible stop-string start or half a character.
  // A stop string completed only by it cuts the text but, as before, leaves
  // the engine's finish reason.
  bool stopped = false;
  if (!stream.stopped()) emit(stream.Flush(&stopped));
  return g;
}

void PrintResult(const GenerateOpts& o, const std::vector<int32_t>& prompt_ids, const Generation& g,
                 Clock::time_point t0, int tp_size, const char* device) {
  const auto t_end = Clock::now();
  const double total_s = Seconds(t0, t_end);
  const double ttft = g.ids.empty() ? 0.0 : Seconds(t0, g.t_first);
  const double decode_s = Seconds(g.t_first, t_end);
  const double tps = g.ids.size() > 1 ? (g.ids.size() - 1) / decode_s : 0.0;
  if (o.json) {
    nlohmann::json j;
    j["prompt_token_ids"] = prompt_ids;
    j["token_ids"] = g.ids;
    j["logprobs"] = g.logprobs;
    j["text"] = g.text;
    j["finish_reason"] = FinishReasonName(g.finish);
    j["timings"] = {{"time_to_first_token_s", ttft},
                    {"total_s", total_s},
                    {"decode_tokens_per_s", tps},
                    {"tp_size", tp_size},
                    {"device", device}};
    // Text cut mid-character (or from a random-weight model) is not UTF-8:
    // replace those bytes rather than throw; token_ids hold the exact output.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  } else {
    std::cout << std::endl;
    std::fprintf(stderr,
                 "[%zu prompt tokens, %zu generated, time to first token %.3f s, %.2f tokens/s, "
                 "finish %s, %d rank(s) on %s]\n",
                 prompt_ids.size(), g.ids.size(), ttft, tps, FinishReasonName(g.finish), tp_size,
                 device);
  }
}

int RunGenerate(const GenerateOpts& o, int* argc, char*** argv) {
  MpiRuntime mpi(argc, argv, "groupshard generate", o.launch_timeout);
  MpiCommunicator comm;
  const bool leader = comm.rank() == 0;
  const bool tty = isatty(STDERR_FILENO);
  const auto t_load = Clock::now();
  if (leader && tty) std::fprintf(stderr, "loading %s on %d rank(s)\n", o.model.c_str(), comm.size());
  int load_error = 0;
  auto rm = LoadModelOrReport("generate", o.model, mpi, comm, &load_error, o.device, o.kv_dtype);
  if (!rm) return load_error;
  ModelRunner& runner = *rm->runner;
  if (leader && tty) {
    std::fprintf(stderr, "loaded in %.1f s on %s\n", Seconds(t_load, Clock::now()),
                 runner.device_name().c_str());
  }
  if (rm->model) {
    rm->model->SetThreads(o.threads);
    rm->model->set_activations(o.act);
  }

  // Rank 0 tokenizes; the others only learn the cache size.
  std::unique_ptr<Tokenizer> tok;
  std::vector<int32_t> prompt_ids;
  int32_t setup[2] = {0, 0};  // n_blocks, error
  if (leader) {
    setup[1] = PreparePrompt(o, &tok, &prompt_ids);
    const int total = static_cast<int>(prompt_ids.size()) + o.max_tokens;
    if (tok) setup[0] = (total + o.block_size - 1) / o.block_size;
  }
  comm.Broadcast(setup, sizeof(setup), 0);
  if (setup[1] != 0) return setup[1];
  runner.AllocateKvCache(setup[0], o.block_size);
  if (!leader) {
    RunWorker(runner, comm);
    return 0;
  }

  EngineOptions eo;
  eo.n_blocks = setup[0];
  eo.block_size = o.block_size;
  eo.prefix_cache = false;  // one request: nothing to share
  Engine engine(runner, comm, eo);
  GenerateRequest req;
  req.id = 1;
  req.prompt = prompt_ids;
  req.sampling = o.sampling;
  req.max_tokens = o.max_tokens;
  if (!o.ignore_eos) req.eos_ids = tok->eos_ids();
  Status st = engine.Add(req);
  if (!st.ok()) {
    std::cerr << "groupshard generate: " << st.ToString() << "\n";
    engine.Shutdown();
    return kUsageError;
  }
  const auto t0 = Clock::now();
  const Generation g = StreamTokens(o, engine, *tok);
  engine.Shutdown();
  PrintResult(o, prompt_ids, g, t0, comm.size(), DeviceName(rm->device));
  return 0;
}

}  // namespace

RunFn AddGenerateCommand(CLI::App& app) {
  auto o = std::make_shared<GenerateOpts>();
  app.add_option("--model", o->model, "Model: HF directory or .gguf file")
      ->required()
      ->check(CLI::ExistingPath);
  app.add_option("--prompt", o->prompt, "Prompt text")->required();
  app.add_flag("--chat", o->chat, "Wrap the prompt in the model's chat template");
  app.add_option("--system", o->system, "System message (with --chat)");
  app.add_option("--max-tokens", o->max_tokens, "Tokens to generate at most")
      ->check(CLI::PositiveNumber);
  app.add_option("--temperature", o->sampling.temperature, "0 = greedy")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--top-k", o->sampling.top_k, "Keep the k most likely tokens (0 = off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", o->sampling.top_p, "Nucleus mass in (0,1]")
      ->check(CLI::Range(0.0f, 1.0f) & CLI::Validator([](std::string& s) {
                return std::stof(s) > 0.0f ? std::string() : std::string("must be > 0");
              }, "(0,1]"));
  app.add_option("--min-p", o->sampling.min_p, "Drop tokens below min_p * p_max")
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--repetition-penalty", o->sampling.repetition_penalty, "> 1 penalises repeats")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", o->sampling.seed, "Sampling seed");
  app.add_option("--stop", o->stop, "Stop string (repeatable)");
  app.add_flag("--json", o->json, "Print one JSON object instead of streaming text");
  app.add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-sequence tokens");
  app.add_option("--block-size", o->block_size, "KV-cache block size in tokens")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o->threads, "Threads per rank (cpu)")->check(CLI::PositiveNumber);
  AddDeviceOption(app, &o->device);
  AddActivationsOption(app, &o->act);
  AddKvDTypeOption(app, &o->kv_dtype);
  AddLaunchTimeoutOption(app, &o->launch_timeout);
  return [o](int* argc, char*** argv) { return RunGenerate(*o, argc, argv); };
}

}  // namespace gs::launcher
