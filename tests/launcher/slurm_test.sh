#!/usr/bin/env bash
# Launching under Slurm: starts a one-node Slurm cluster on this machine (a
# munged, slurmctld and slurmd of its own, configured in a temporary folder,
# on ports of their own; the system's /etc/slurm and /etc/munge are not read)
# and runs `groupshard generate` at P = 2 in it two ways:
#   salloc -n 2 mpirun groupshard ...      mpirun takes its 2 slots from the
#                                          allocation (no -np)
#   srun --mpi=pmix -n 2 groupshard ...    direct launch, no mpirun; only when
#                                          `srun --mpi=list` offers pmix
# Each must be one job of tp_size 2 whose greedy tokens equal a plain one-rank
# run. Exit 77 (skipped), naming the command and its error output, when the
# Slurm daemons cannot run here; 1 on a mismatch or a failed launch.
#
# Every process of the cluster (munged, the daemons, slurmstepd, the clients
# and the ranks) carries SLURM_CONF=<its folder>/slurm.conf in its
# environment; that is how the cleanup, and the sweep of runs killed before
# their cleanup, find them.
#
# usage: slurm_test.sh GROUPSHARD MODEL
#   GS_SLURM_TIMEOUT  seconds for each of the three runs (default 120; ctest's
#                     TIMEOUT is above three times that and the start-up, so
#                     that the cleanup runs)
set -euo pipefail
bin=$(realpath "$1")
model=$(realpath "$2")
run_timeout=${GS_SLURM_TIMEOUT:-120}
tag="gsslurm$$"

skip() {
  echo "slurm: SKIPPED: $*"
  exit 77
}
fail() {
  echo "slurm: FAILED: $*"
  exit 1
}

# An outer Slurm job (ctest run inside an allocation) must not leak in.
for v in $(compgen -e | grep -E '^SLURM_' || true); do unset "$v"; done

# Ends every process whose environment names the cluster of folder $1: TERM,
# up to 5 s for them to go, then KILL.
stop_cluster() {
  local conf="$1/slurm.conf" pids=() alive=() p try
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    grep -qzxF "SLURM_CONF=$conf" "/proc/$p/environ" 2>/dev/null && pids+=("$p")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for try in $(seq 1 50); do
    alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ ${#alive[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

# Clusters of earlier runs whose shell is gone (killed past ctest's TIMEOUT:
# SIGKILL cannot be trapped).
for dir in "${TMPDIR:-/tmp}"/gsslurm[0-9]*.*; do
  [ -d "$dir" ] || continue
  pid=${dir##*/gsslurm}
  pid=${pid%%.*}
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "slurm: removing the cluster of an earlier run (pid $pid, gone): $dir"
    stop_cluster "$dir"
    rm -rf "$dir"
  fi
done

for cmd in munged munge unmunge slurmctld slurmd salloc srun sinfo mpirun ss hostname; do
  command -v "$cmd" >/dev/null ||
    skip "$cmd not found (scripts/setup installs slurmctld slurmd slurm-client munge)"
done

tmp=$(mktemp -d -t "$tag.XXXXXX")
cleanup() {
  stop_cluster "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# munged wants its socket's folder searchable by all.
chmod 755 "$tmp"
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/tmpfs" "$tmp/log"
export SLURM_CONF="$tmp/slurm.conf"

# The last lines of the named logs, for a skip or failure message.
logs() {
  local f
  for f in "$@"; do
    [ -s "$f" ] && { echo "--- ${f#"$tmp"/}"; tail -n 15 "$f"; }
  done
  return 0
}

# A TCP port nobody listens on (bounded tries).
used_ports=""
free_port() {
  local p try
  for try in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    case " $used_ports " in *" $p "*) continue ;; esac
    if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
      used_ports+=" $p"
      echo "$p"
      return 0
    fi
  done
  return 1
}
ctld_port=$(free_port) || skip "no free TCP port found for slurmctld"
slurmd_port=$(free_port) || skip "no free TCP port found for slurmd"

# munged with a fresh key; Slurm's auth and credentials use its socket.
head -c 1024 /dev/urandom > "$tmp/munge.key"
chmod 600 "$tmp/munge.key"
munged -F -S "$tmp/munge.sock" --key-file="$tmp/munge.key" --pid-file="$tmp/munged.pid" \
  --seed-file="$tmp/munged.seed" --log-file="$tmp/log/munged.log" > "$tmp/log/munged.out" 2>&1 &
munged_pid=$!
for try in $(seq 1 50); do
  munge -n -S "$tmp/munge.sock" 2>/dev/null | unmunge -S "$tmp/munge.sock" >/dev/null 2>&1 && break
  if ! kill -0 "$munged_pid" 2>/dev/null || [ "$try" = 50 ]; then
    skip "munged does not run here: munged -F -S $tmp/munge.sock ...: $(logs "$tmp/log/munged.out")"
  fi
  sleep 0.1
done

node=$(hostname -s)
cpus=$(nproc)
: > "$tmp/plugstack.conf"
cat > "$SLURM_CONF" <<EOF
ClusterName=groupshard-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
TmpFS=$tmp/tmpfs
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
PlugStackConfig=$tmp/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=gs Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -f "$SLURM_CONF" > "$tmp/log/slurmctld.out" 2>&1 &
ctld_pid=$!
slurmd -D -N "$node" -f "$SLURM_CONF" > "$tmp/log/slurmd.out" 2>&1 &
slurmd_pid=$!

# The node must come up idle within 30 s.
deadline=$((SECONDS + 30))
state=""
while :; do
  kill -0 "$ctld_pid" 2>/dev/null || skip "slurmctld -D -f $SLURM_CONF exited: $(logs "$tmp/log/slurmctld.out")"
  kill -0 "$slurmd_pid" 2>/dev/null || skip "slurmd -D -N $node -f $SLURM_CONF exited: $(logs "$tmp/log/slurmd.out")"
  state=$(timeout 5 sinfo -h -n "$node" -o %T 2>&1 || true)
  [ "$state" = idle ] && break
  [ "$SECONDS" -ge "$deadline" ] &&
    skip "node $node not idle within 30 s (sinfo -h -n $node -o %T: '$state'): $(logs "$tmp/log/slurmctld.log" "$tmp/log/slurmd.log")"
  sleep 0.2
done
echo "slurm: one-node cluster up: node $node, $cpus CPUs, slurmctld port $ctld_port, slurmd port $slurmd_port"

# Open MPI as the other launcher tests run it.
export OMPI_MCA_btl=self,vader,tcp
root_flag=()
[ "$(id -u)" -eq 0 ] && root_flag=(--allow-run-as-root)
gen=("$bin" generate --json --model "$model" --prompt 'The quick brown fox' --temperature 0
  --max-tokens 12 --ignore-eos)

# Runs a launch; prints its token ids, or fails naming the command, its
# stderr and what it printed instead of one answer of that tp_size.
# usage: tokens WANT_TP_SIZE CMD...
tokens() {
  local want=$1 rc=0 answers
  shift
  timeout "$run_timeout" "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
  answers=$(grep -c '"token_ids"' "$tmp/out" || true)
  if [ "$rc" != 0 ] || [ "$answers" != 1 ] || ! grep -q "\"tp_size\":${want}[,}]" "$tmp/out"; then
    [ "$rc" = 124 ] && rc="124: ran past $run_timeout s"
    fail "$* (exit $rc; want one answer of tp_size $want):
--- stdout
$(cat "$tmp/out")
--- stderr
$(tail -n 30 "$tmp/err")
$(logs "$tmp/log/slurmd.log")" >&2
  fi
  grep -o '"token_ids":\[[^]]*\]' "$tmp/out"
}

want=$(tokens 1 "${gen[@]}") || exit 1
echo "slurm: one rank:                      $want"

got=$(tokens 2 salloc --immediate=30 -n 2 mpirun "${root_flag[@]}" --bind-to none "${gen[@]}") || exit 1
echo "slurm: salloc -n 2 mpirun:            $got"
[ "$got" = "$want" ] || fail "salloc -n 2 mpirun: greedy tokens differ from one rank"

mpi_list=$(timeout 10 srun --mpi=list 2>&1 || true)
if grep -qw pmix <<< "$mpi_list"; then
  got=$(tokens 2 srun --immediate=30 --mpi=pmix -n 2 "${gen[@]}") || exit 1
  echo "slurm: srun --mpi=pmix -n 2:          $got"
  [ "$got" = "$want" ] || fail "srun --mpi=pmix -n 2: greedy tokens differ from one rank"
else
  echo "slurm: srun --mpi=pmix not run: srun --mpi=list offers no pmix: $mpi_list"
fi
echo "slurm: PASSED"
