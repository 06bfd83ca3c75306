#!/usr/bin/env bash
# scripts/serve-bench end to end on a small model: four sampled streams of
# eight tokens through `mpirun -np 2 serve`, then `bench --batch 4`. Checks
# every run line and the final ratio are printed with numbers above zero.
# Usage: serve_bench_test.sh path/to/groupshard model.gguf
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out=$(timeout 240 "$root/scripts/serve-bench" --bin "$1" --model "$2" --streams 4 --tokens 8 \
  --repeat 2 --temperature 0.8 --top-p 0.9)
echo "$out"
grep -q "temperature 0.8, top-p 0.9" <<<"$out" || { echo "FAILED: no sampling line"; exit 1; }
runs=$(grep -cE "^  run [0-9]+: [0-9.]+ tokens/s, TTFT p50 [0-9]+ ms" <<<"$out" || true)
[[ "$runs" == 2 ]] || { echo "FAILED: $runs run lines, want 2"; exit 1; }
ratio=$(sed -n 's/^serving \/ batching: .* = \([0-9.]*\)$/\1/p' <<<"$out")
[[ -n "$ratio" ]] || { echo "FAILED: no ratio line"; exit 1; }
python3 -c 'import sys; r = float(sys.argv[1]); sys.exit(0 if 0 < r < 10 else 1)' "$ratio" ||
  { echo "FAILED: ratio $ratio"; exit 1; }
echo "serve_bench_script: ok (ratio $ratio)"
