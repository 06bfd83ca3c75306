#include "core/scheduler.h"

#include <algorithm>

#include "kernels/check.h"

namespace gs {

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return "none";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "unknown";
}

Scheduler::Scheduler(BlockManager& blocks, SchedulerOptions options)
    : blocks_(blocks), options_(options) {
  CHECK(options_.max_batch_tokens > 0 && options_.max_running > 0);
}

bool Scheduler::FitsAlone(int n_tokens) const {
  return blocks_.BlocksFor(n_tokens) <= blocks_.n_blocks();
}

void Scheduler::Add(std::unique_ptr<Sequence> seq) {
  seq->arrival = next_arrival_++;
  waiting_.push_back(std::move(seq));
}

void Scheduler::Preempt(size_t index) {
  std::unique_ptr<Sequence> seq = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  blocks_.Release(*seq);
  seq->n_computed = 0;
  ++seq->preemptions;
  ++preemptions_;
  // Back to the head of the queue: it was admitted before anything waiting.
  waiting_.push_front(std::move(seq));
}

std::vector<ScheduledChunk> Scheduler::Schedule() {
  std::vector<ScheduledChunk> out;
  int budget = options_.max_batch_tokens;
  // 1. Running sequences, oldest first: a decode token or the next prefill chunk.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence& s = *running_[i];
    const int remaining = s.n_tokens() - s.n_computed;
    const int n = std::min(remaining, budget);
    if (n <= 0) {
      ++i;
      continue;
    }
    if (!blocks_.CanGrow(s, s.n_computed + n)) {
      // Free the newest running sequence (possibly this one) and retry.
      const size_t victim = running_.size() - 1;
      // Chunks already scheduled for the victim must be dropped too.
      Sequence* vp = running_[victim].get();
      out.erase(std::remove_if(out.begin(), out.end(),
                               [vp](const ScheduledChunk& c) { return c.seq == vp; }),
                out.end());
      Preempt(victim);
      continue;
    }
    Place(s, n, out);
    budget -= n;
    ++i;
  }
  // Recount the budget: preemption may have removed scheduled chunks.
  budget = options_.max_batch_tokens;
  for (const ScheduledChunk& c : out) budget -= c.n_tokens;
  // 2. Waiting sequences, first come first served, while blocks and budget last.
  while (!waiting_.empty() && budget > 0 &&
         static_cast<int>(running_.size()) < options_.max_running) {
    Sequence& s = *waiting_.front();
    const int hit = blocks_.AcquireCachedPrefix(s);
    const int n = std::min(s.n_tokens() - s.n_computed, budget);
    if (!blocks_.CanGrow(s, s.n_computed + n)) {
      // It waits; its cached blocks go back to the pool, still cached.
      blocks_.Release(s);
      s.n_computed = 0;
      break;
    }
    prefix_query_tokens_ += s.n_tokens();
    prefix_hit_tokens_ += hit;
    Place(s, n, out);
    budget -= n;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return out;
}

void Scheduler::Place(Sequence& s, int n, std::vector<ScheduledChunk>& out) {
  blocks_.Grow(s, s.n_computed + n);
  // The blocks this chunk writes must be its own: a cached or shared block
  // holds keys and values that others read.
  const int B = blocks_.block_size();
  for (int j = s.n_computed / B; j < blocks_.BlocksFor(s.n_computed + n); ++j) {
    CHECK(blocks_.Writable(s.block_table[j]))
        << "sequence " << s.id << " would write block " << s.block_table[j] << " (refs "
        << blocks_.ref_count(s.block_table[j]) << ", cached " << blocks_.is_cached(s.block_table[j])
        << ")";
  }
  out.push_back({&s, s.n_computed, n, s.n_computed + n == s.n_tokens()});
}

void Scheduler::Commit(const std::vector<ScheduledChunk>& chunks) {
  for (const ScheduledChunk& c : chunks) {
    CHECK_EQ(c.seq->n_computed, c.start);
    c.seq->n_computed += c.n_tokens;
    blocks_.CacheComputed(*c.seq);
  }
}

Sequence* Scheduler::Find(uint64_t id) {
  for (auto& s : running_) {
    if (s->id == id) return s.get();
  }
  for (auto& s : waiting_) {
    if (s->id == id) return s.get();
  }
  return nullptr;
}

std::unique_ptr<Sequence> Scheduler::Remove(uint64_t id) {
  for (size_t i = 0; i < running_.size(); ++i) {
    if (running_[i]->id == id) {
      std::unique_ptr<Sequence> s = std::move(running_[i]);
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
      blocks_.Release(*s);
      return s;
    }
  }
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if ((*it)->id == id) {
      std::unique_ptr<Sequence> s = std::move(*it);
      waiting_.erase(it);
      blocks_.Release(*s);
      return s;
    }
  }
  return nullptr;
}

}  // namespace gs
