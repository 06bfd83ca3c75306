#!/usr/bin/env bash
# scripts/serve-bench end to end on a small model: four sampled streams of
# eight tokens through `mpirun -np 2 serve`, then `bench --batch 4`, in two
# rounds. Checks every run line, each round's ratio and the median are
# printed with numbers above zero, and that the median is the rounds' median.
# Usage: serve_bench_test.sh path/to/groupshard model.gguf
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out=$(timeout 240 "$root/scripts/serve-bench" --bin "$1" --model "$2" --streams 4 --tokens 8 \
  --repeat 2 --rounds 2 --temperature 0.8 --top-p 0.9)
echo "$out"
grep -q "temperature 0.8, top-p 0.9" <<<"$out" || { echo "FAILED: no sampling line"; exit 1; }
runs=$(grep -cE "^  run [0-9]+: [0-9.]+ tokens/s, TTFT p50 [0-9]+ ms" <<<"$out" || true)
[[ "$runs" == 4 ]] || { echo "FAILED: $runs run lines, want 4 (2 runs x 2 rounds)"; exit 1; }
rounds=$(sed -n 's/^  this round, serving \/ batching: [0-9.]* \/ [0-9.]* = \([0-9.]*\)$/\1/p' <<<"$out")
[[ $(wc -l <<<"$rounds") == 2 ]] || { echo "FAILED: want 2 round ratios, got: $rounds"; exit 1; }
ratio=$(sed -n 's/^serving \/ batching: median of 2 rounds .* = \([0-9.]*\)$/\1/p' <<<"$out")
[[ -n "$ratio" ]] || { echo "FAILED: no median line"; exit 1; }
python3 -c '
import statistics, sys
r = float(sys.argv[1]); rounds = [float(x) for x in sys.argv[2].split()]
ok = 0 < r < 10 and all(0 < x < 10 for x in rounds) and abs(r - statistics.median(rounds)) <= 0.006
sys.exit(0 if ok else 1)' "$ratio" "$rounds" || { echo "FAILED: median $ratio of rounds $rounds"; exit 1; }
echo "serve_bench_script: ok (ratio $ratio)"
