#include "parallel/collective_traffic.h"

namespace gs {

Traffic AllReduceSumTraffic(int64_t n, int tp_size, int tp_rank) {
  if (tp_size == 1 || n == 0) return {};
  if (tp_size == 2) return {1, 4 * n};
  Traffic t;
  for (int q = 0; q < tp_size; ++q) {  // reduce-scatter: chunk q to rank q
    const int64_t c = AllReduceChunk(n, tp_size, q);
    if (q != tp_rank && c > 0) t += {1, 4 * c};
  }
  const int64_t mine = AllReduceChunk(n, tp_size, tp_rank);  // all-gather
  if (mine > 0) t += {tp_size - 1, 4 * mine * (tp_size - 1)};
  return t;
}

Traffic AllGatherTraffic(int64_t bytes, int tp_size) {
  if (bytes == 0) return {};
  return {tp_size - 1, (tp_size - 1) * bytes};
}

Traffic GatherVTraffic(int64_t floats, int tp_rank, int root) {
  if (tp_rank == root || floats == 0) return {};
  return {1, 4 * floats};
}

Traffic BroadcastTraffic(int64_t bytes, int tp_size, int tp_rank, int root) {
  if (tp_rank != root || bytes == 0) return {};
  return {tp_size - 1, (tp_size - 1) * bytes};
}

}  // namespace gs
