#include "core/step_protocol.h"

#include <algorithm>
#include <cstring>

#include "kernels/check.h"

namespace gs {

namespace {
constexpr int kHeader = 6;  // cmd, n_tokens, n_block_table_entries, max_blocks, n_logits, magic
constexpr int kInline = StepChannel::kFirstInts - kHeader;  // array ints in the first message
constexpr int32_t kMagic = 0x47535450;                      // catches ranks that fell out of step

void Append(std::vector<int32_t>& buf, const std::vector<int32_t>& v) {
  buf.insert(buf.end(), v.begin(), v.end());
}

// Ints of a step's arrays: tokens, positions, slots, token_seq, block tables, logit rows.
int64_t ArrayInts(int64_t n_tokens, int64_t n_block_table_entries, int64_t n_logit_rows) {
  return 4 * n_tokens + n_block_table_entries + n_logit_rows;
}
}  // namespace

StepChannel::MessageBytes StepChannel::StepMessageBytes(int64_t n_tokens,
                                                        int64_t n_block_table_entries,
                                                        int64_t n_logit_rows) {
  const int64_t ints = ArrayInts(n_tokens, n_block_table_entries, n_logit_rows);
  MessageBytes m;
  m.rest = std::max<int64_t>(0, ints - kInline) * static_cast<int64_t>(sizeof(int32_t));
  return m;
}

void StepChannel::Send(StepCommand cmd, const ModelInput& in) {
  if (comm_.size() == 1) return;
  first_.fill(0);
  first_[0] = static_cast<int32_t>(cmd);
  first_[1] = static_cast<int32_t>(in.tokens.size());
  first_[2] = static_cast<int32_t>(in.block_tables.size());
  first_[3] = in.max_blocks;
  first_[4] = static_cast<int32_t>(in.logit_rows.size());
  first_[5] = kMagic;
  buffer_.clear();
  if (cmd == StepCommand::kRun) {
    Append(buffer_, in.tokens);
    Append(buffer_, in.positions);
    Append(buffer_, in.slots);
    Append(buffer_, in.token_seq);
    Append(buffer_, in.block_tables);
    Append(buffer_, in.logit_rows);
  }
  const size_t inline_ints = std::min<size_t>(buffer_.size(), kInline);
  std::copy_n(buffer_.begin(), inline_ints, first_.begin() + kHeader);
  comm_.BroadcastPatiently(first_.data(), sizeof(first_), 0);
  if (buffer_.size() > inline_ints) {
    comm_.Broadcast(buffer_.data() + inline_ints, (buffer_.size() - inline_ints) * sizeof(int32_t),
                    0);
  }
}

StepCommand StepChannel::Receive(ModelInput* in) {
  comm_.BroadcastPatiently(first_.data(), sizeof(first_), 0);
  CHECK_EQ(first_[5], kMagic) << "step header out of sync";
  const auto cmd = static_cast<StepCommand>(first_[0]);
  if (cmd != StepCommand::kRun) return cmd;
  const int32_t n = first_[1], nb = first_[2], nl = first_[4];
  buffer_.resize(static_cast<size_t>(ArrayInts(n, nb, nl)));
  const size_t inline_ints = std::min<size_t>(buffer_.size(), kInline);
  std::copy_n(first_.begin() + kHeader, inline_ints, buffer_.begin());
  if (buffer_.size() > inline_ints) {
    comm_.Broadcast(buffer_.data() + inline_ints, (buffer_.size() - inline_ints) * sizeof(int32_t),
                    0);
  }
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
  in->max_blocks = first_[3];
  take(in->logit_rows, nl);
  return cmd;
}

}  // namespace gs
