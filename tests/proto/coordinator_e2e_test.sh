#!/usr/bin/env bash
# End to end: two real serving groups
# (`mpirun -np 2 groupshard serve`) behind a coordinator; 32 concurrent
# requests; one rank of one group is killed (SIGKILL) mid-load. Streams of
# the dead group are retried (no token yet) or continued on the other group
# from the tokens delivered, so every request must end complete and equal to
# its run without the kill; requests sent after the kill must all succeed.
# Prints completed/retried/resumed/failed/lost.
# Usage: coordinator_e2e_test.sh [path/to/groupshard] [model.gguf]
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${1:-$ROOT/build/bin/groupshard}"
# The real SmolLM2 by default: slow enough per step that the kill lands
# mid-stream (the tiny fixture finishes 32 streams before a poll returns).
MODEL="${2:-$("$ROOT/scripts/fetch-model" 2>/dev/null)}"
[ -f "$MODEL" ] || { echo "coordinator_e2e: FAILED: no model (scripts/fetch-model)"; exit 1; }
export MAX_TOKENS="${MAX_TOKENS:-64}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  # start_group runs in a command substitution (a subshell), so its pids are
  # read back from the pid files.
  local all=("${PIDS[@]}")
  for f in "$WORK"/*.pid; do [ -f "$f" ] && all+=("$(cat "$f")"); done
  for p in "${all[@]}"; do
    pkill -9 -P "$p" 2>/dev/null
    kill -9 -- "-$p" 2>/dev/null
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
# The retry count comes from /metrics; scripts/setup installs curl.
command -v curl >/dev/null || { echo "coordinator_e2e: FAILED: curl not found"; exit 1; }

# Starts `mpirun -np 2 serve` in its own process group; prints its address.
start_group() {
  local name=$1
  setsid mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader,tcp \
    -np 2 "$BIN" serve --model "$MODEL" --listen 127.0.0.1:0 --max-running 16 \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  echo "$pid" >"$WORK/$name.pid"
  for _ in $(seq 1 600); do
    if grep -q "groupshard serving on " "$WORK/$name.out" 2>/dev/null; then
      sed -n 's/^groupshard serving on //p' "$WORK/$name.out" | head -1
      return 0
    fi
    sleep 0.2
  done
  echo "group $name did not start:" >&2
  cat "$WORK/$name.err" >&2
  return 1
}

export OMPI_MCA_mpi_yield_when_idle=1
A=$(start_group a) || exit 1
B=$(start_group b) || exit 1
echo "groups: a=$A b=$B"

setsid "$BIN" coordinator --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --backend "$A" --backend "$B" \
  >"$WORK/coord.out" 2>"$WORK/coord.err" &
PIDS+=("$!")
COORD=""
for _ in $(seq 1 100); do
  COORD=$(sed -n 's/^groupshard coordinator on //p' "$WORK/coord.out" 2>/dev/null | head -1)
  [ -n "$COORD" ] && break
  sleep 0.1
done
[ -n "$COORD" ] || { echo "coordinator did not start"; cat "$WORK/coord.err"; exit 1; }
echo "coordinator: $COORD"

PROMPTS=("The river keeps" "Once upon a time" "In the beginning" "A quiet stone")
gen() {  # gen OUT_PREFIX PROMPT
  "$BIN" client --server "$COORD" generate --prompt "$2" --max-tokens "$MAX_TOKENS" --ignore-eos \
    --temperature 0 --timeout 300 >"$1.txt" 2>"$1.err"
  echo $? >"$1.rc"
}
# Reference outputs (greedy, so every group gives the same text).
for i in "${!PROMPTS[@]}"; do gen "$WORK/ref$i" "${PROMPTS[$i]}"; done
for i in "${!PROMPTS[@]}"; do
  [ "$(cat "$WORK/ref$i.rc")" = 0 ] || { echo "reference $i failed"; cat "$WORK/ref$i.err"; exit 1; }
done

steps_of_a() { "$BIN" client --server "$A" info 2>/dev/null | sed -n 's/.*"steps": *"\{0,1\}\([0-9]*\).*/\1/p' | head -1; }
steps0=$(steps_of_a)
for i in $(seq 0 31); do gen "$WORK/load$i" "${PROMPTS[$((i % 4))]}" & done
# Kill once group a has run a quarter of this load's steps: its streams are then
# mid-way (each needs about $MAX_TOKENS steps), to be continued
# elsewhere (bounded wait: 30 s).
steps=$steps0
for _ in $(seq 1 1500); do
  steps=$(steps_of_a)
  [ -n "$steps" ] && [ -n "$steps0" ] && [ "$steps" -ge $((steps0 + MAX_TOKENS / 4)) ] && break
  sleep 0.02
done
streaming="group a at step $steps (from $steps0);"
# rank 1 of group a: the last child of its mpirun
VICTIM=$(pgrep -P "$(cat "$WORK/a.pid")" | tail -1)
echo "killing rank pid $VICTIM of group a ($(pgrep -P "$(cat "$WORK/a.pid")" | tr "\n" " ")), $streaming"
kill -9 "$VICTIM"
wait_loads() { for i in $(seq 0 31); do for _ in $(seq 1 3000); do [ -f "$WORK/load$i.rc" ] && break; sleep 0.1; done; done; }
wait_loads

completed=0 failed=0 lost=0
for i in $(seq 0 31); do
  rc=$(cat "$WORK/load$i.rc")
  if [ "$rc" = 0 ] && cmp -s "$WORK/load$i.txt" "$WORK/ref$((i % 4)).txt"; then
    completed=$((completed + 1))
  elif [ "$rc" != 0 ] && grep -qE "UNAVAILABLE|INTERNAL|CANCELLED|DEADLINE" "$WORK/load$i.err"; then
    failed=$((failed + 1))
    echo "request $i failed explicitly: $(head -c 300 "$WORK/load$i.err")"
  else
    lost=$((lost + 1))
    echo "request $i LOST or wrong (rc=$rc): $(head -c 300 "$WORK/load$i.err")"
  fi
done
sleep 3  # the dead group is out of the pool by now
after_ok=0
for i in $(seq 0 7); do gen "$WORK/after$i" "${PROMPTS[$((i % 4))]}" & done
wait_after() { for i in $(seq 0 7); do for _ in $(seq 1 3000); do [ -f "$WORK/after$i.rc" ] && break; sleep 0.1; done; done; }
wait_after
for i in $(seq 0 7); do
  if [ "$(cat "$WORK/after$i.rc")" = 0 ] && cmp -s "$WORK/after$i.txt" "$WORK/ref$((i % 4)).txt"; then
    after_ok=$((after_ok + 1))
  fi
done
HTTP=$(sed -n 's/^groupshard http on //p' "$WORK/coord.out" | head -1)
retried=unknown resumed=unknown
if [ -n "$HTTP" ]; then
  metrics=$(curl -s "http://$HTTP/metrics")
  retried=$(sed -n 's/^groupshard_retries_total //p' <<<"$metrics")
  resumed=$(sed -n 's/^groupshard_resumed_total //p' <<<"$metrics")
fi
echo "completed=$completed retried=$retried resumed=$resumed failed-explicitly=$failed lost=$lost after-kill-ok=$after_ok/8"
[ "$lost" = 0 ] && [ "$failed" = 0 ] && [ "$after_ok" = 8 ] && [ "$completed" = 32 ] &&
  [ "$resumed" != unknown ] && [ "$resumed" -gt 0 ]
