#!/usr/bin/env bash
# Tensor parallelism across hosts: builds NHOSTS test hosts as network
# namespaces (veth pairs into a bridge that lives in its own namespace,
# addresses 10.200.0.0/24), starts one mpirun inside the first host with an
# rsh agent that enters the target namespace instead of ssh, and runs the
# greedy-equality test with one rank per host over TCP. Everything that
# talks to 10.200.0.x runs inside a namespace. Exit 77 (skipped) without the
# privilege to make namespaces.
# usage: multinode_test.sh BUILD_DIR NHOSTS
set -euo pipefail
build=$(cd "$1" && pwd)
n=$2
tag="gsmn$$"
tmp=$(mktemp -d)
made=()
cleanup() {
  for ns in "${made[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; done
  for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! ip netns add "${tag}br" 2>/dev/null; then
  echo "multinode: SKIPPED: cannot create network namespaces here (needs CAP_NET_ADMIN / root)"
  exit 77
fi
made+=("${tag}br")
ip -n "${tag}br" link add br0 type bridge
ip -n "${tag}br" link set br0 up
for i in $(seq 1 "$n"); do
  ns="${tag}h$i"
  ip netns add "$ns"
  made+=("$ns")
  ip link add "${tag}a$i" type veth peer name "${tag}b$i"
  ip link set "${tag}a$i" netns "$ns"
  ip link set "${tag}b$i" netns "${tag}br"
  ip -n "${tag}br" link set "${tag}b$i" master br0 up
  ip -n "$ns" link set "${tag}a$i" name eth0
  ip -n "$ns" addr add "10.200.0.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  echo "10.200.0.$i slots=1" >> "$tmp/hosts"
done

cat > "$tmp/agent" <<AGENT
#!/usr/bin/env bash
# Stands in for ssh: runs the command inside the namespace of the host named.
host=\$1; shift
exec ip netns exec "${tag}h\${host##*.}" bash -c "\$*"
AGENT
chmod +x "$tmp/agent"

echo "multinode: $n hosts as namespaces ${tag}h1..${tag}h$n on 10.200.0.0/24"
timeout 600 ip netns exec "${tag}h1" mpirun --allow-run-as-root --oversubscribe --bind-to none \
  --hostfile "$tmp/hosts" -np "$n" --map-by node \
  --mca plm_rsh_agent "$tmp/agent" --mca plm_rsh_no_tree_spawn 1 \
  --mca btl tcp,self --mca btl_tcp_if_include 10.200.0.0/24 --mca oob_tcp_if_include 10.200.0.0/24 \
  -x PATH -x HOME -x GS_EXPECT_DISTINCT_HOSTS=1 \
  "$build/bin/tp_mpitest" --gtest_filter='*GreedyTokensAndLogprobsEqualOneRank*:*HostNames*'
