#include "core/engine.h"

#include <algorithm>

#include "core/kv_cache.h"
#include "kernels/check.h"

namespace gs {

Engine::Engine(ModelRunner& runner, Communicator& comm, const EngineOptions& options)
    : runner_(runner),
      channel_(comm),
      blocks_(options.n_blocks, options.block_size, options.prefix_cache),
      scheduler_(blocks_, options.scheduler) {
  CHECK_EQ(comm.rank(), 0);
  CHECK_EQ(runner.kv_blocks(), options.n_blocks);
  CHECK_EQ(runner.kv_block_size(), options.block_size);
}

Status Engine::Add(GenerateRequest req) {
  if (req.prompt.empty()) return Status::InvalidArgument("prompt: empty");
  if (req.max_tokens <= 0) return Status::InvalidArgument("max_tokens: must be positive");
  const int total = static_cast<int>(req.prompt.size()) + req.max_tokens;
  if (total > runner_.config().max_position) {
    return Status::InvalidArgument("prompt and max_tokens: " + std::to_string(total) +
                                   " tokens exceed the context of " +
                                   std::to_string(runner_.config().max_position));
  }
  if (!scheduler_.FitsAlone(total)) {
    return Status::ResourceExhausted("prompt and max_tokens: " + std::to_string(total) +
                                     " tokens exceed the KV cache of " +
                                     std::to_string(blocks_.n_blocks() * blocks_.block_size()));
  }
  if (static_cast<int>(req.resume.size()) >= req.max_tokens) {
    return Status::InvalidArgument("resume: " + std::to_string(req.resume.size()) +
                                   " tokens leave none of max_tokens " +
                                   std::to_string(req.max_tokens) + " to generate");
  }
  for (const auto* ids : {&req.prompt, &req.resume}) {
    for (int32_t t : *ids) {
      if (t < 0 || t >= runner_.config().vocab_size) {
        return Status::InvalidArgument(std::string(ids == &req.prompt ? "prompt" : "resume") +
                                       ": token id " + std::to_string(t) +
                                       " outside the vocabulary");
      }
    }
  }
  GS_RETURN_IF_ERROR(req.sampling.Validate());
  auto seq = std::make_unique<Sequence>();
  seq->id = req.id;
  seq->tokens = std::move(req.prompt);
  seq->n_prompt = seq->n_tokens();
  seq->tokens.insert(seq->tokens.end(), req.resume.begin(), req.resume.end());
  seq->max_tokens = req.max_tokens;
  seq->eos_ids = std::move(req.eos_ids);
  samplers_.emplace(req.id, Picker{Sampler(req.sampling), req.logprobs});
  scheduler_.Add(std::move(seq));
  return Status::Ok();
}

void Engine::Cancel(uint64_t id, FinishReason reason, std::vector<TokenEvent>* events) {
  if (scheduler_.Remove(id) == nullptr) return;
  samplers_.erase(id);
  events->push_back({id, -1, 0.0f, reason});
}

void Engine::BuildInput(const std::vector<ScheduledChunk>& chunks) {
  input_.Clear();
  const int B = blocks_.block_size();
  int max_blocks = 1;
  for (const ScheduledChunk& c : chunks) {
    max_blocks = std::max(max_blocks, static_cast<int>(c.seq->block_table.size()));
  }
  input_.max_blocks = max_blocks;
  input_.block_tables.assign(chunks.size() * max_blocks, -1);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ScheduledChunk& c = chunks[i];
    const Sequence& s = *c.seq;
    std::copy(s.block_table.begin(), s.block_table.end(),
              input_.block_tables.begin() + static_cast<std::ptrdiff_t>(i * max_blocks));
    for (int p = c.start; p < c.start + c.n_tokens; ++p) {
      input_.tokens.push_back(s.tokens[p]);
      input_.positions.push_back(p);
      input_.slots.push_back(KvSlot(s.block_table.data(), B, p));
      input_.token_seq.push_back(static_cast<int32_t>(i));
    }
    if (c.sample) input_.logit_rows.push_back(static_cast<int32_t>(input_.tokens.size() - 1));
  }
}

void Engine::Step(std::vector<TokenEvent>* events) {
  std::vector<ScheduledChunk> chunks = scheduler_.Schedule();
  if (chunks.empty()) return;
  BuildInput(chunks);
  channel_.Send(StepCommand::kRun, input_);
  const int V = runner_.config().vocab_size;
  logits_.resize(input_.logit_rows.size() * static_cast<size_t>(V));
  runner_.Forward(input_, logits_.data());
  scheduler_.Commit(chunks);
  ++n_steps_;
  size_t row = 0;
  std::vector<uint64_t> finished;
  for (const ScheduledChunk& c : chunks) {
    if (!c.sample) continue;
    Sequence& s = *c.seq;
    float logprob = 0.0f;
    Picker& picker = samplers_.at(s.id);
    const int32_t tok = picker.sampler.Sample(logits_.data() + row * V, V, s.tokens,
                                              picker.logprobs ? &logprob : nullptr);
    ++row;
    s.tokens.push_back(tok);
    FinishReason finish = FinishReason::kNone;
    if (std::find(s.eos_ids.begin(), s.eos_ids.end(), tok) != s.eos_ids.end()) {
      finish = FinishReason::kStop;
    } else if (s.n_generated() >= s.max_tokens) {
      finish = FinishReason::kLength;
    }
    events->push_back({s.id, tok, logprob, finish});
    if (finish != FinishReason::kNone) finished.push_back(s.id);
  }
  for (uint64_t id : finished) {
    scheduler_.Remove(id);
    samplers_.erase(id);
  }
}

void Engine::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  channel_.Send(StepCommand::kShutdown, input_);
}

void RunWorker(ModelRunner& runner, Communicator& comm) {
  StepChannel channel(comm);
  ModelInput in;
  while (channel.Receive(&in) == StepCommand::kRun) {
    runner.Forward(in, nullptr);
  }
}

}  // namespace gs
