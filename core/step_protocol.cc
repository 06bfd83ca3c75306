#include "core/step_protocol.h"

#include <cstring>

#include "kernels/check.h"

namespace gs {

namespace {
constexpr int kHeader = 6;  // cmd, n_tokens, n_block_table_entries, max_blocks, n_logits, magic
constexpr int32_t kMagic = 0x47535450;  // catches ranks that fell out of step

void Append(std::vector<int32_t>& buf, const std::vector<int32_t>& v) {
  buf.insert(buf.end(), v.begin(), v.end());
}
}  // namespace

void StepChannel::Send(StepCommand cmd, const ModelInput& in) {
  if (comm_.size() == 1) return;
  int32_t header[kHeader] = {static_cast<int32_t>(cmd), static_cast<int32_t>(in.tokens.size()),
                             static_cast<int32_t>(in.block_tables.size()), in.max_blocks,
                             static_cast<int32_t>(in.logit_rows.size()), kMagic};
  comm_.BroadcastPatiently(header, sizeof(header), 0);
  if (cmd != StepCommand::kRun) return;
  buffer_.clear();
  Append(buffer_, in.tokens);
  Append(buffer_, in.positions);
  Append(buffer_, in.slots);
  Append(buffer_, in.token_seq);
  Append(buffer_, in.block_tables);
  Append(buffer_, in.logit_rows);
  comm_.Broadcast(buffer_.data(), buffer_.size() * sizeof(int32_t), 0);
}

StepCommand StepChannel::Receive(ModelInput* in) {
  int32_t header[kHeader];
  comm_.BroadcastPatiently(header, sizeof(header), 0);
  CHECK_EQ(header[5], kMagic) << "step header out of sync";
  const auto cmd = static_cast<StepCommand>(header[0]);
  if (cmd != StepCommand::kRun) return cmd;
  const int32_t n = header[1], nb = header[2], nl = header[4];
  buffer_.resize(static_cast<size_t>(4 * n + nb + nl));
  comm_.Broadcast(buffer_.data(), buffer_.size() * sizeof(int32_t), 0);
  const int32_t* p = buffer_.data();
  auto take = [&p](std::vector<int32_t>& v, int32_t count) {
    v.assign(p, p + count);
    p += count;
  };
  take(in->tokens, n);
  take(in->positions, n);
  take(in->slots, n);
  take(in->token_seq, n);
  take(in->block_tables, nb);
  in->max_blocks = header[3];
  take(in->logit_rows, nl);
  return cmd;
}

}  // namespace gs
