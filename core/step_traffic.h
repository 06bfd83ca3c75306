// What each rank sends in one engine step, from the step's sizes and the
// shard plan: StepChannel's broadcast(s) from rank 0, the embedding's
// all-reduce and two per layer (n_tokens · H floats each), and the logits
// gathered to rank 0 (n_logit_rows · V_r floats from rank r). The one place
// a network cost model reads these from; the collectives' own formulas are
// in parallel/collective_traffic.h.
#pragma once

#include <cstdint>

#include "parallel/collective_traffic.h"
#include "parallel/shard_plan.h"

namespace gs {

struct StepSizes {
  int64_t n_tokens = 0;
  int64_t n_logit_rows = 0;           // sampled tokens
  int64_t n_block_table_entries = 0;  // sequences · max_blocks
};

// A decode step of `batch` sequences whose longest block table has
// `max_blocks` blocks (context / block size, rounded up).
StepSizes DecodeStep(int64_t batch, int64_t max_blocks);

// What rank `tp_rank` of `plan` sends in one step:
//   broadcasts  (rank 0) BroadcastTraffic of StepChannel's kFirstBytes, and
//               of the arrays that did not fit: 4 · (4n + entries + n_logits
//               − 506) bytes when positive (the first message holds 506 ints)
//   all-reduces (2L + 1) · AllReduceSumTraffic(n · H)
//   gather      GatherVTraffic(n_logits · V_r) (ranks r > 0)
// With P = 1 it is nothing.
Traffic StepTraffic(const ShardPlan& plan, int tp_rank, const StepSizes& step);

// The most any rank sends in the step (messages and bytes each maximized
// over ranks; rank 0 sends the broadcasts, the others the logits).
Traffic MaxStepTraffic(const ShardPlan& plan, const StepSizes& step);

}  // namespace gs
