# Test hosts as network namespaces, sourced by tests/parallel/multinode_test.sh
# and scripts/link-bench: one veth pair per host into a bridge that lives in a
# namespace of its own, an address per host on a /24, a /tmp per host, and an
# rsh agent for mpirun that enters the named host's namespace instead of ssh.
#
#   netns_hosts_start PREFIX WHO   sweeps what earlier runs of PREFIX left,
#                                  makes the bridge and sets the exit traps;
#                                  returns 1 without the privilege to make
#                                  namespaces (WHO prefixes the messages)
#   netns_hosts_add N SUBNET       hosts 1..N as SUBNET.i (SUBNET: 10.200.0)
#   netns_hosts_agent [DEAD]       writes $tmp/agent (host number DEAD starts
#                                  nothing: a test hook)
#
# Sets tag (the namespaces are ${tag}br and ${tag}h<i>), tmp (removed on
# exit; host i's /tmp is $tmp/h<i>) and made (the namespaces to remove).

netns_hosts_cleanup() {
  local ns
  for ns in "${made[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; done
  for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
}

# Namespaces (<prefix><pid>br, <prefix><pid>h<i>) and temporary folders of
# earlier runs whose shell is gone: SIGKILL (ctest at its TIMEOUT) cannot be
# caught.
netns_hosts_sweep() {
  local prefix=$1 who=$2 ns pid dir
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}[0-9]+(br|h[0-9]+)\$" || true); do
    pid=${ns#"$prefix"}
    pid=${pid%%[!0-9]*}
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$who: removing stale namespace $ns (its run, pid $pid, is gone)" >&2
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  for dir in "${TMPDIR:-/tmp}/$prefix"[0-9]*.*; do
    [ -d "$dir" ] || continue
    pid=${dir##*/"$prefix"}
    pid=${pid%%.*}
    kill -0 "$pid" 2>/dev/null || rm -rf "$dir"
  done
}

netns_hosts_start() {
  local prefix=$1 who=$2
  tag="$prefix$$"
  tmp=$(mktemp -d -t "$tag.XXXXXX")
  made=()
  trap netns_hosts_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  netns_hosts_sweep "$prefix" "$who"
  ip netns add "${tag}br" 2>/dev/null || return 1
  made+=("${tag}br")
  ip -n "${tag}br" link add br0 type bridge
  ip -n "${tag}br" link set br0 up
}

netns_hosts_add() {
  local n=$1 subnet=$2 i ns
  for i in $(seq 1 "$n"); do
    ns="${tag}h$i"
    ip netns add "$ns"
    made+=("$ns")
    ip link add "${tag}a$i" type veth peer name "${tag}b$i"
    ip link set "${tag}a$i" netns "$ns"
    ip link set "${tag}b$i" netns "${tag}br"
    ip -n "${tag}br" link set "${tag}b$i" master br0 up
    ip -n "$ns" link set "${tag}a$i" name eth0
    ip -n "$ns" addr add "$subnet.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    mkdir -p "$tmp/h$i"
  done
}

netns_hosts_agent() {
  cat > "$tmp/agent" <<AGENT
#!/usr/bin/env bash
# Stands in for ssh: runs the command inside the namespace of the host named,
# with that host's own /tmp.
host=\$1; shift
i=\${host##*.}
if [ "\$i" = "${1:-0}" ]; then exec sleep 600; fi
exec ip netns exec "${tag}h\$i" env TMPDIR="$tmp/h\$i" bash -c "\$*"
AGENT
  chmod +x "$tmp/agent"
}
