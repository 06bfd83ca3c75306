// What one rank sends in each collective of a tensor-parallel group: the
// point-to-point messages and payload bytes of the algorithm MpiCommunicator
// runs. CountingCommunicator adds these up call by call, and a network cost
// model prices them (latency per message, bandwidth per byte); the formulas
// live here once. MPI may route a collective differently (a tree, a ring),
// moving the same bytes in total over the group.
#pragma once

#include <cstdint>

namespace gs {

struct Traffic {
  int64_t messages = 0;  // sends to one peer, empty ones not counted
  int64_t bytes = 0;     // payload bytes in them
  Traffic& operator+=(const Traffic& o) {
    messages += o.messages;
    bytes += o.bytes;
    return *this;
  }
  bool operator==(const Traffic&) const = default;
};

// Floats of chunk `q` when n floats are cut into P chunks for the
// reduce-scatter: n / P each, the first n % P one more (SplitEven(n, P)).
inline int64_t AllReduceChunk(int64_t n, int tp_size, int q) {
  return n / tp_size + (q < n % tp_size ? 1 : 0);
}

// AllReduceSum of n floats (4 bytes each), sent by rank r of P:
//   P = 1: nothing.
//   P = 2: one exchange, each rank sends its n floats: {1, 4n}.
//   P ≥ 3: a reduce-scatter as an all-to-all (r sends chunk q, c_q floats,
//          to each rank q ≠ r), then an all-gather of the summed chunks
//          (r sends its c_r floats to each other rank):
//          {2(P − 1), 4 · (n − c_r + (P − 1) · c_r)}, about 8n(P − 1)/P.
//          Chunks are c_q = AllReduceChunk(n, P, q); an empty chunk (n < P)
//          is not a message.
Traffic AllReduceSumTraffic(int64_t n, int tp_size, int tp_rank);

// AllGather of `bytes` from every rank: each rank sends its part to the
// P − 1 others: {P − 1, (P − 1) · bytes}.
Traffic AllGatherTraffic(int64_t bytes, int tp_size);

// GatherV to `root`: every other rank sends its `floats` in one message
// {1, 4 · floats}; root sends nothing.
Traffic GatherVTraffic(int64_t floats, int tp_rank, int root);

// Broadcast of `bytes` from `root`, counted as root sending to each of the
// P − 1 others: {P − 1, (P − 1) · bytes} on root, nothing elsewhere. (MPI's
// trees move the same (P − 1) · bytes over the group, partly from other
// ranks, in ⌈log2 P⌉ rounds.)
Traffic BroadcastTraffic(int64_t bytes, int tp_size, int tp_rank, int root);

}  // namespace gs
