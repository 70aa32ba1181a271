#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzz the Rego evaluator (policy text and query from the host) for DURATION
# seconds under ASan/UBSan and report one TAP test.
# Usage: tests/fuzz/run-rego.sh DURATION_SECONDS
# On failure the work directory (crash input included) is kept and named.
set -uo pipefail
duration=${1:?usage: run-rego.sh DURATION_SECONDS}
cd "$(dirname "$0")/../.."

echo "1..1"
work=$(mktemp -d /tmp/fuzz-rego.XXXXXX)
fail() {
  echo "# $*"
  echo "# work directory kept: $work"
  echo "not ok 1 - fuzz rego evaluator"
  exit 1
}

r=agentd/policy/rego
srcs=(tests/fuzz/fuzz_rego.c $r/value.c $r/sbuf.c $r/parse.c $r/compile.c $r/eval.c $r/builtins.c $r/builtins_ext.c
      $r/regex.c common/err.c common/grpc_status.c)
cflags=(-std=gnu11 -D_GNU_SOURCE -g -O1 -Icommon -I$r -Wall -Wextra -Wno-unused-parameter)
libs=(-ljansson -lpcre2-8 -lm)

clang "${cflags[@]}" -DFUZZ_WRITE_SEEDS -o "$work/seedgen" "${srcs[@]}" "${libs[@]}" \
  >"$work/build.log" 2>&1 || fail "building the seed writer failed: $(tail -n 5 "$work/build.log")"
clang "${cflags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -o "$work/fuzz_rego" "${srcs[@]}" "${libs[@]}" \
  >>"$work/build.log" 2>&1 || fail "building the fuzzer failed: $(tail -n 5 "$work/build.log")"

mkdir -p "$work/corpus" "$work/seeds"
"$work/seedgen" "$work/seeds" || fail "writing seeds failed"

# the evaluator longjmps out of deep C stacks on purpose (its bounds): ASan
# must not report those stacks as errors
ASAN_OPTIONS=detect_stack_use_after_return=0:detect_leaks=1 \
"$work/fuzz_rego" -max_total_time="$duration" -print_final_stats=1 -timeout=10 \
  -rss_limit_mb=2048 -max_len=8192 -artifact_prefix="$work/" \
  "$work/corpus" "$work/seeds" >"$work/fuzz.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
if [ $rc -ne 0 ]; then
  grep -E "ERROR|SUMMARY|Test unit written" "$work/fuzz.log" | head -n 10 | sed 's/^/# /'
  fail "fuzzer exited with $rc after ${execs:-?} execs"
fi
echo "ok 1 - fuzz rego evaluator (${execs:-0} execs)"
rm -rf "$work"
