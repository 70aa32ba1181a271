#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz what the agent reads from the host and report one TAP test per
# target: the ttRPC request framing/decoding path for DURATION seconds, and
# the initdata device and document (common/initdata.c, common/toml.c) for
# half of it (at least 10 s).
# Usage: tests/fuzz/run.sh DURATION_SECONDS [MESON_BUILD_DIR]
# The generated ttrpc.pb-c.[ch] come from MESON_BUILD_DIR/protos when present,
# otherwise protoc-c regenerates them into a temporary directory.
# On failure the work directory (crash input included) is kept and named.
set -uo pipefail
duration=${1:?usage: run.sh DURATION_SECONDS [BUILD_DIR]}
builddir=${2:-}
if [ -n "$builddir" ] && [ -d "$builddir" ]; then builddir=$(cd "$builddir" && pwd); fi
cd "$(dirname "$0")/../.."
top=$(pwd)

echo "1..2"
work=$(mktemp -d /tmp/fuzz.XXXXXX)
failed=0
cflags=(-std=gnu11 -D_GNU_SOURCE -g -O1 -Icommon -Wall -Wextra -Wno-unused-parameter)

# fuzz N NAME SECONDS LIBS -- SOURCES...: build the seed writer and the
# fuzzer, run it, print "ok N - fuzz NAME (execs)" or "not ok".
fuzz() {
  local n=$1 name=$2 seconds=$3 libs=$4
  shift 5
  local w=$work/$name
  mkdir -p "$w/corpus" "$w/seeds"
  # shellcheck disable=SC2086
  if ! clang "${cflags[@]}" -DFUZZ_WRITE_SEEDS -o "$w/seedgen" "$@" $libs >"$w/build.log" 2>&1 ||
     ! clang "${cflags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
       -o "$w/fuzz" "$@" $libs >>"$w/build.log" 2>&1; then
    echo "# building the $name fuzzer failed: $(tail -n 5 "$w/build.log")"
    echo "not ok $n - fuzz $name"
    failed=1
    return
  fi
  if ! "$w/seedgen" "$w/seeds"; then
    echo "not ok $n - fuzz $name (writing seeds failed)"
    failed=1
    return
  fi
  "$w/fuzz" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$w/" \
    "$w/corpus" "$w/seeds" >"$w/fuzz.log" 2>&1
  local rc=$?
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/fuzz.log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    grep -E "ERROR|SUMMARY|Test unit written" "$w/fuzz.log" | head -n 10 | sed 's/^/# /'
    echo "# fuzzer exited with $rc after ${execs:-?} execs; work directory kept: $work"
    echo "not ok $n - fuzz $name"
    failed=1
    return
  fi
  echo "ok $n - fuzz $name (${execs:-0} execs)"
}

if [ -n "$builddir" ] && [ -f "$builddir/protos/ttrpc.pb-c.c" ]; then
  protodir=$builddir/protos
else
  protodir=$work/protos
  mkdir -p "$protodir"
  protoc-c --proto_path="$top/protos" --c_out="$protodir" "$top/protos/ttrpc.proto" \
    >"$work/protoc.log" 2>&1 || { echo "# protoc-c failed: $(tail -n 3 "$work/protoc.log")"; }
fi

cflags+=(-I"$protodir")
fuzz 1 ttrpc "$duration" "-lprotobuf-c" -- tests/fuzz/fuzz_ttrpc.c common/ttrpc_frame.c \
  common/err.c common/grpc_status.c "$protodir/ttrpc.pb-c.c"
half=$((duration / 2))
[ "$half" -ge 10 ] || half=10
fuzz 2 initdata "$half" "-lcrypto -lz -ljansson" -- tests/fuzz/fuzz_initdata.c \
  common/initdata.c common/toml.c common/err.c common/grpc_status.c

[ $failed -eq 0 ] && rm -rf "$work"
exit $failed
