#!/usr/bin/env bash
# scripts/batch-ceiling on a small model and scripts/decode-profile on
# SmolLM2: every layout gets a ceiling line whose fraction is the measured
# rate over the ceiling, and the profile table has every kind's row with a
# step time per column. Usage: decode_speed_test.sh model.gguf
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
ceiling=$(timeout 200 "$root/scripts/batch-ceiling" --model "$1" --repeat 1 --gen-tokens 8)
echo "$ceiling"
python3 - "$ceiling" <<'PY'
import re, sys
lines = [l for l in sys.argv[1].splitlines() if re.match(r"^(1x2|2x1): ", l)]
assert len(lines) == 2, lines
for l in lines:
    m = re.search(r"ceiling (\d+) tokens/s .*: ([\d.]+) tokens/s = (\d+)% of the ceiling", l)
    assert m, l
    ceiling, got, pct = float(m[1]), float(m[2]), float(m[3])
    assert ceiling > 0 and got > 0, l
    assert abs(100 * got / ceiling - pct) <= 1, l
PY
profile=$(timeout 200 "$root/scripts/decode-profile" --only smollm2 --repeat 1)
echo "$profile"
python3 - "$profile" <<'PY'
import sys
rows = {l.split("|")[1].strip(): [c.strip() for c in l.split("|")[2:-1]]
        for l in sys.argv[1].splitlines() if l.startswith("| ") and not l.startswith("| kind")}
assert len(rows["step ms"]) == 2, rows
for kind in ["matmul_qkv", "matmul_gate_up", "matmul_down", "matmul_lm_head", "attention", "rms_norm"]:
    assert all(c != "—" for c in rows[kind]), (kind, rows[kind])
    assert "GB/s" in rows[kind][0] or not kind.startswith("matmul"), (kind, rows[kind])
assert all(float(c) > 0 for c in rows["step ms"]), rows["step ms"]
assert float(rows["collectives"][1].split()[0]) > 0, rows["collectives"]  # two ranks all-reduce
PY
echo "decode_speed_scripts: ok"
