#!/usr/bin/env bash
# scripts/gpu-bundle on this build: from the bundle alone, with an empty
# environment, `groupshard generate` (MPI_Init as one process) and the
# bundled test binary run, and every object the loader brings in is the
# bundle's, glibc's or CUDA's. Then a bundle missing one of its libraries is
# caught the same way: the check can fail.
# Usage: gpu_bundle_test.sh BUILD/bin/groupshard
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$1")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$tmp/bundle
"$src/scripts/gpu-bundle" --from "$build" "$out"
[ -x "$out/bin/groupshard" ] && [ -x "$out/bin/gs_tests" ] || fail "binaries not bundled"
plugins=$(find "$out/ompi" -name 'mca_*.so' | wc -l)
[ "$plugins" -gt 20 ] || fail "only $plugins Open MPI components bundled"
while read -r p; do
  ! ldd "$p" | grep -Eq 'libfabric|libucp|libpsm2|libibverbs' || fail "$p needs a fabric library"
done < <(find "$out/ompi" -name 'mca_*.so')

# Objects the loader may take from the system: glibc's and CUDA's.
allowed='^(/lib64/ld-linux-x86-64\.so\.2|/[^ ]*/(libc|libm|libdl|libpthread|librt|libresolv|libutil)\.so\.[0-9.]+|/[^ ]*/(libcuda|libcublas|libcublasLt|libnccl|libnvidia-[a-z-]+)\.so[0-9.]*)$'

# run_generate BUNDLE LOG: generate from BUNDLE with an empty environment;
# LOG gets the loader's trace. Prints the JSON line.
run_generate() {
  env -i PATH=/usr/bin:/bin HOME="$tmp" bash -c '
    cd "$1" && source "$2/env.sh" &&
    LD_DEBUG=libs LD_DEBUG_OUTPUT="$3" "$GS_BINARY_DIR/bin/groupshard" generate --json \
      --model tests/data/models/g9x3.gguf --prompt "Hello" --max-tokens 4 --device cpu' \
    _ "$src" "$1" "$2" 2>"$tmp/stderr" | tail -n 1
}
# outside BUNDLE LOG...: the objects the trace shows loaded from outside the
# bundle and not allowed.
outside() {
  local b=$1
  shift
  cat "$@" | sed -n 's/.*calling init: //p' | sort -u | grep -v "^$b/" | grep -Ev "$allowed" || true
}

json=$(run_generate "$out" "$tmp/ld")
echo "$json" | grep -q '"text"' || { cat "$tmp/stderr" >&2; fail "generate from the bundle: $json"; }
extra=$(outside "$out" "$tmp"/ld.*)
[ -z "$extra" ] || fail "loaded from outside the bundle: $extra"
mpi=$(cat "$tmp"/ld.* | grep -c "calling init: $out/ompi/.*/mca_" || true)
[ "$mpi" -gt 0 ] || fail "no Open MPI component was loaded from the bundle"
echo "generate from the bundle: ok ($mpi Open MPI components from the bundle, nothing else outside)"

# The bundled tests find the fixtures through GS_SOURCE_DIR (env.sh: the
# checkout it is sourced from).
tests_out=$(env -i PATH=/usr/bin:/bin HOME="$tmp" bash -c '
  cd "$1" && source "$2/env.sh" &&
  "$GS_BINARY_DIR/bin/gs_tests" --gtest_brief=1 \
    --gtest_filter="*GoldenLogitsTest*gqa_hd64*:TreeDirTest.*"' _ "$src" "$out" 2>&1) ||
  fail "the bundled gs_tests: $tests_out"
passed=$(echo "$tests_out" | sed -n 's/.*PASSED  \] \([0-9]*\) tests\?\..*/\1/p')
[ "${passed:-0}" -ge 6 ] || fail "the bundled gs_tests passed ${passed:-no} tests: $tests_out"
echo "the bundled gs_tests: $passed tests passed"

# A bundle without libprotobuf: the loader takes the system's, and the check
# above must see it.
rm -f "$tmp"/ld.*
cp -r "$out" "$tmp/short"
rm "$tmp"/short/lib/libprotobuf.so.*
run_generate "$tmp/short" "$tmp/ld" >/dev/null
extra=$(outside "$tmp/short" "$tmp"/ld.*)
echo "$extra" | grep -q libprotobuf || fail "a library missing from the bundle went unnoticed"
echo "a library missing from the bundle is caught: $extra"
echo "PASS"
