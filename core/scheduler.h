// Chooses each step's work (continuous batching): running sequences decode
// one token each, then waiting prompts are prefilled in chunks under a
// per-step token budget. When blocks run out, the newest running sequence is
// preempted: its blocks are released and it is recomputed later from its
// tokens. A sequence admitted from the queue first takes the cached blocks of
// its leading tokens (prefix caching, see BlockManager) and prefills only the
// rest. Pure bookkeeping: no model, device or MPI here.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/block_manager.h"
#include "core/sequence.h"

namespace gs {

struct SchedulerOptions {
  int max_batch_tokens = 256;  // tokens computed per step, all sequences together
  int max_running = 64;        // sequences in the running set
};

struct ScheduledChunk {
  Sequence* seq = nullptr;
  int start = 0;      // first token index computed this step (== seq->n_computed)
  int n_tokens = 0;   // tokens computed this step
  bool sample = false;  // the chunk reaches the end of the known tokens: sample the next
};

class Scheduler {
 public:
  Scheduler(BlockManager& blocks, SchedulerOptions options);

  // Takes ownership. The sequence must fit the cache on its own
  // (FitsAlone), or it would wait forever.
  void Add(std::unique_ptr<Sequence> seq);
  bool FitsAlone(int n_tokens) const;

  // The work of the next step, empty when idle. Pointers stay valid until the
  // sequence is finished.
  std::vector<ScheduledChunk> Schedule();
  // Records that a step ran: advances n_computed for each chunk and caches
  // the blocks that became full.
  void Commit(const std::vector<ScheduledChunk>& chunks);
  // Removes a sequence (finished or cancelled) and releases its blocks. Returns
  // it, or nullptr if unknown.
  std::unique_ptr<Sequence> Remove(uint64_t id);

  Sequence* Find(uint64_t id);
  int n_waiting() const { return static_cast<int>(waiting_.size()); }
  int n_running() const { return static_cast<int>(running_.size()); }
  int64_t n_preemptions() const { return preemptions_; }
  bool idle() const { return waiting_.empty() && running_.empty(); }
  // Tokens of the sequences admitted from the queue (new ones and preempted
  // ones coming back), and of those the tokens found in the prefix cache.
  // Their difference is what prefill computed.
  int64_t prefix_query_tokens() const { return prefix_query_tokens_; }
  int64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }

 private:
  void Preempt(size_t index);
  // Grows s for the chunk [s.n_computed, +n) and appends it to `out`.
  void Place(Sequence& s, int n, std::vector<ScheduledChunk>& out);

  BlockManager& blocks_;
  SchedulerOptions options_;
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;  // in admission order
  int64_t next_arrival_ = 0;
  int64_t preemptions_ = 0;
  int64_t prefix_query_tokens_ = 0;
  int64_t prefix_hit_tokens_ = 0;
};

}  // namespace gs
