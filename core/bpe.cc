#include "core/bpe.h"

#include <queue>

namespace gs {
namespace {

struct Candidate {
  double priority;
  int left;
  int right;
  size_t size;  // left.len + right.len when queued; stale if it changed
  int32_t merged;
  bool operator>(const Candidate& o) const {
    if (priority != o.priority) return priority > o.priority;
    return left > o.left;
  }
};

}  // namespace

std::vector<BpeSymbol> BpeMerge(std::vector<BpeSymbol> symbols, const BpePairFn& pair_fn) {
  const int n = static_cast<int>(symbols.size());
  if (n < 2) return symbols;
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto try_pair = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    double priority;
    int32_t merged;
    if (pair_fn(symbols[l], symbols[r], &priority, &merged)) {
      queue.push({priority, l, r, symbols[l].len + symbols[r].len, merged});
    }
  };
  for (int i = 0; i + 1 < n; ++i) try_pair(i, i + 1);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    // Symbols are merged into the left slot, so a candidate is current exactly
    // when both ends are alive, adjacent, and their spans kept their sizes.
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
        symbols[c.left].len + symbols[c.right].len != c.size) {
      continue;
    }
    symbols[c.left].len = c.size;
    symbols[c.left].id = c.merged;
    alive[c.right] = false;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    try_pair(prev[c.left], c.left);
    try_pair(c.left, next[c.left]);
  }
  std::vector<BpeSymbol> out;
  for (int i = 0; i >= 0; i = next[i]) out.push_back(symbols[i]);
  return out;
}

}  // namespace gs
