#include "core/step_traffic.h"

#include <algorithm>

#include "core/step_protocol.h"

namespace gs {

StepSizes DecodeStep(int64_t batch, int64_t max_blocks) {
  return {batch, batch, batch * max_blocks};
}

Traffic StepTraffic(const ShardPlan& plan, int tp_rank, const StepSizes& step) {
  const int P = plan.tp_size();
  const ModelShape& s = plan.shape();
  Traffic t;
  const StepChannel::MessageBytes m =
      StepChannel::StepMessageBytes(step.n_tokens, step.n_block_table_entries, step.n_logit_rows);
  t += BroadcastTraffic(m.first, P, tp_rank, 0);
  t += BroadcastTraffic(m.rest, P, tp_rank, 0);
  const Traffic all_reduce = AllReduceSumTraffic(step.n_tokens * s.hidden_size, P, tp_rank);
  for (int i = 0; i < 2 * s.n_layers + 1; ++i) t += all_reduce;
  t += GatherVTraffic(step.n_logit_rows * plan.rank(tp_rank).vocab_rows.size(), tp_rank, 0);
  return t;
}

Traffic MaxStepTraffic(const ShardPlan& plan, const StepSizes& step) {
  Traffic mx;
  for (int r = 0; r < plan.tp_size(); ++r) {
    const Traffic t = StepTraffic(plan, r, step);
    mx.messages = std::max(mx.messages, t.messages);
    mx.bytes = std::max(mx.bytes, t.bytes);
  }
  return mx;
}

}  // namespace gs
