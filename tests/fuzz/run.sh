#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz the ttRPC request framing/decoding path for DURATION seconds and report
# one TAP test. Usage: tests/fuzz/run.sh DURATION_SECONDS [MESON_BUILD_DIR]
# The generated ttrpc.pb-c.[ch] come from MESON_BUILD_DIR/protos when present,
# otherwise protoc-c regenerates them into a temporary directory.
# On failure the work directory (crash input included) is kept and named.
set -uo pipefail
duration=${1:?usage: run.sh DURATION_SECONDS [BUILD_DIR]}
builddir=${2:-}
if [ -n "$builddir" ] && [ -d "$builddir" ]; then builddir=$(cd "$builddir" && pwd); fi
cd "$(dirname "$0")/../.."
top=$(pwd)

echo "1..1"
work=$(mktemp -d /tmp/fuzz-ttrpc.XXXXXX)
fail() {
  echo "# $*"
  echo "# work directory kept: $work"
  echo "not ok 1 - fuzz ttrpc frames"
  exit 1
}

if [ -n "$builddir" ] && [ -f "$builddir/protos/ttrpc.pb-c.c" ]; then
  protodir=$builddir/protos
else
  protodir=$work/protos
  mkdir -p "$protodir"
  protoc-c --proto_path="$top/protos" --c_out="$protodir" "$top/protos/ttrpc.proto" \
    >"$work/protoc.log" 2>&1 || fail "protoc-c failed: $(tail -n 3 "$work/protoc.log")"
fi

srcs=(tests/fuzz/fuzz_ttrpc.c common/ttrpc_frame.c common/err.c common/grpc_status.c
      "$protodir/ttrpc.pb-c.c")
cflags=(-std=gnu11 -D_GNU_SOURCE -g -O1 -Icommon -I"$protodir" -Wall -Wextra -Wno-unused-parameter)

clang "${cflags[@]}" -DFUZZ_WRITE_SEEDS -o "$work/seedgen" "${srcs[@]}" -lprotobuf-c \
  >"$work/build.log" 2>&1 || fail "building the seed writer failed: $(tail -n 5 "$work/build.log")"
clang "${cflags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -o "$work/fuzz_ttrpc" "${srcs[@]}" -lprotobuf-c \
  >>"$work/build.log" 2>&1 || fail "building the fuzzer failed: $(tail -n 5 "$work/build.log")"

mkdir -p "$work/corpus" "$work/seeds"
"$work/seedgen" "$work/seeds" || fail "writing seeds failed"

"$work/fuzz_ttrpc" -max_total_time="$duration" -print_final_stats=1 -timeout=10 \
  -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$work/" \
  "$work/corpus" "$work/seeds" >"$work/fuzz.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
if [ $rc -ne 0 ]; then
  grep -E "ERROR|SUMMARY|Test unit written" "$work/fuzz.log" | head -n 10 | sed 's/^/# /'
  fail "fuzzer exited with $rc after ${execs:-?} execs"
fi
echo "ok 1 - fuzz ttrpc frames (${execs:-0} execs)"
rm -rf "$work"
