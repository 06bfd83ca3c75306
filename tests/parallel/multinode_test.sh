#!/usr/bin/env bash
# Tensor parallelism across hosts: builds NHOSTS test hosts as network
# namespaces (veth pairs into a bridge that lives in its own namespace,
# addresses 10.200.0.0/24), starts one mpirun inside the first host with an
# rsh agent that enters the target namespace instead of ssh, and runs the
# greedy-equality test with one rank per host over TCP. Everything that
# talks to 10.200.0.x runs inside a namespace. Exit 77 (skipped) without the
# privilege to make namespaces.
#
# The hosts share one file system and one host name, so each gets a /tmp of
# its own (TMPDIR): Open MPI keys its session directories by host name, and
# daemons sharing /tmp/ompi.<host>.<uid>/jf.<job>/0 race creating it; the
# loser fails orte_init. Daemons stay attached to the agent
# (--leave-session-attached): a daemon that fails makes its agent exit
# non-zero, which mpirun reports, instead of failing silently after
# --daemonize while mpirun waits for it forever.
#
# usage: multinode_test.sh BUILD_DIR NHOSTS
#   GS_MN_LAUNCH_TIMEOUT  seconds for every daemon to call back (default 30)
#   GS_MN_TIMEOUT         seconds for the whole mpirun (default 400; below
#                         ctest's TIMEOUT so that the cleanup below runs)
#   GS_MN_DEAD_HOST       test hook: the agent for this host number starts
#                         nothing (checks the daemon start-up bound)
set -euo pipefail
build=$(cd "$1" && pwd)
n=$2
launch_timeout=${GS_MN_LAUNCH_TIMEOUT:-30}
run_timeout=${GS_MN_TIMEOUT:-400}
# shellcheck source=netns_hosts.sh
source "$(dirname "$0")/netns_hosts.sh"
if ! netns_hosts_start gsmn multinode; then
  echo "multinode: SKIPPED: cannot create network namespaces here (needs CAP_NET_ADMIN / root)"
  exit 77
fi
netns_hosts_add "$n" 10.200.0
for i in $(seq 1 "$n"); do echo "10.200.0.$i slots=1" >> "$tmp/hosts"; done

# Every host reaches host 1 before the launch (bounded). A refused connection
# to a closed port proves the path: the reset came back from host 1.
for i in $(seq 2 "$n"); do
  for try in $(seq 1 50); do
    reply=$(ip netns exec "${tag}h$i" timeout 2 bash -c ': </dev/tcp/10.200.0.1/9' 2>&1 || true)
    case $reply in *refused*) break ;; esac
    if [ "$try" = 50 ]; then
      echo "multinode: FAILED: host 10.200.0.$i cannot reach 10.200.0.1"
      exit 1
    fi
    sleep 0.1
  done
done

netns_hosts_agent "${GS_MN_DEAD_HOST:-0}"

echo "multinode: $n hosts as namespaces ${tag}h1..${tag}h$n on 10.200.0.0/24"
# orte_startup_timeout bounds the start of the ranks once every daemon has
# called back; Open MPI 4.1 sets no timer for the daemons themselves, so the
# watcher below does.
TMPDIR="$tmp/h1" timeout "$run_timeout" ip netns exec "${tag}h1" \
  mpirun --allow-run-as-root --oversubscribe --bind-to none \
  --hostfile "$tmp/hosts" -np "$n" --map-by node \
  --mca plm_rsh_agent "$tmp/agent" --mca plm_rsh_no_tree_spawn 1 --leave-session-attached \
  --mca orte_startup_timeout "$launch_timeout" \
  --mca btl tcp,self --mca btl_tcp_if_include 10.200.0.0/24 --mca oob_tcp_if_include 10.200.0.0/24 \
  -x PATH -x HOME -x GS_EXPECT_DISTINCT_HOSTS=1 \
  "$build/bin/tp_mpitest" --gtest_filter='*GreedyTokensAndLogprobsEqualOneRank*:*HostNames*' &
job=$!

# Every daemon must call back (a connection from its host to mpirun) within
# the launch timeout; else name the hosts that did not and end the job.
deadline=$((SECONDS + launch_timeout))
missing=""
while kill -0 "$job" 2>/dev/null; do
  missing=""
  for i in $(seq 2 "$n"); do
    if [ -z "$(ip netns exec "${tag}h1" ss -Htn state established dst "10.200.0.$i" 2>/dev/null)" ]; then
      missing+=" 10.200.0.$i"
    fi
  done
  [ -z "$missing" ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "multinode: FAILED: no Open MPI daemon called back within ${launch_timeout} s from host(s)${missing}; ending the job"
    for ns in "${made[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; done
    { wait "$job"; } 2>/dev/null || true
    exit 1
  fi
  sleep 0.2
done
rc=0
wait "$job" || rc=$?
[ "$rc" = 124 ] && echo "multinode: FAILED: mpirun ran past ${run_timeout} s"
exit "$rc"
