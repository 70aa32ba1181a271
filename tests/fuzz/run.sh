#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run every libFuzzer target of tests/fuzz/meson.build for its share of
# SECONDS and print TAP, one check per target:
#   ok N - fuzz TARGET (EXECS execs)
# Usage: tests/fuzz/run.sh SECONDS [BUILD_DIR]
#
# The targets are built in a directory of their own, BUILD_DIR-fuzz
# (default ./build-fuzz; FUZZ_BUILD_DIR overrides), configured once with
# CC=clang -Dfuzzing=true (ASan + UBSan + coverage on every object), so the
# normal build is never slowed or changed. Per target, in
# FUZZ_BUILD_DIR/fuzz-work/TARGET:
#   1. every input under tests/fuzz/regressions/TARGET/ (each a crash fixed
#      once) is replayed first: any failure fails the check;
#   2. the seed corpus is written by the target itself (-write_seeds=DIR;
#      a target in the older form has a seed writer fuzz_X-seeds DIR);
#   3. the fuzzer runs for SECONDS / number of targets (at least 1 s), its
#      corpus kept in corpus/ across runs; a crash input is kept in
#      crashes/ and named in the TAP output.
# FUZZ_TARGETS="ipc spec" runs only those (the plan counts them).
set -uo pipefail
duration=${1:?usage: run.sh SECONDS [BUILD_DIR]}
builddir=${2:-}
cd "$(dirname "$0")/../.."
top=$(pwd)
if [ -n "$builddir" ]; then
  fuzzdir=${FUZZ_BUILD_DIR:-${builddir%/}-fuzz}
else
  fuzzdir=${FUZZ_BUILD_DIR:-$top/build-fuzz}
fi

mkdir -p "$fuzzdir" 2>/dev/null
if [ ! -f "$fuzzdir/build.ninja" ] &&
   ! CC=clang meson setup "$fuzzdir" -Dfuzzing=true --buildtype=debugoptimized \
     >"$fuzzdir/setup.log" 2>&1; then
  echo "1..1"
  tail -n 10 "$fuzzdir/setup.log" 2>/dev/null | sed 's/^/# /'
  echo "not ok 1 - fuzz (meson setup of $fuzzdir failed)"
  exit 1
fi
# The targets are the executables tests/fuzz/meson.build defines (a
# fuzz_*.c with a runner of its own, like run-rego.sh's, is not one), as
# the build files say now (build.ninja regenerates them when they changed).
ninja -C "$fuzzdir" build.ninja >>"$fuzzdir/setup.log" 2>&1
mapfile -t names < <(meson introspect --targets "$fuzzdir" | python3 -c '
import json, sys
for t in sorted(t["name"] for t in json.load(sys.stdin)
                if t["type"] == "executable" and t["name"].startswith("fuzz_")
                and t["defined_in"].endswith("tests/fuzz/meson.build")):
    print(t)')
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for n in "${names[@]}"; do
    [[ $n == *-seeds ]] || targets+=("${n#fuzz_}")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "1..1"
  echo "not ok 1 - fuzz (no target found in $fuzzdir)"
  exit 1
fi
echo "1..${#targets[@]}"

fail_all() {
  local i=0
  for t in "${targets[@]}"; do
    i=$((i + 1))
    echo "not ok $i - fuzz $t ($1)"
  done
  exit 1
}

# A target in the older form has a separate seed writer, fuzz_X-seeds.
has_seeder() {
  local n
  for n in "${names[@]}"; do [ "$n" = "fuzz_$1-seeds" ] && return 0; done
  return 1
}
bins=()
for t in "${targets[@]}"; do
  bins+=("tests/fuzz/fuzz_$t")
  if has_seeder "$t"; then bins+=("tests/fuzz/fuzz_$t-seeds"); fi
done
nice -n 10 ninja -C "$fuzzdir" "${bins[@]}" >"$fuzzdir/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$fuzzdir/build.log" | head -n 10 | sed 's/^/# /'
    fail_all "build failed, see $fuzzdir/build.log"; }

share=$((duration / ${#targets[@]}))
[ "$share" -ge 1 ] || share=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=0
i=0
for t in "${targets[@]}"; do
  i=$((i + 1))
  bin=$fuzzdir/tests/fuzz/fuzz_$t
  work=$fuzzdir/fuzz-work/$t
  rm -rf "$work/seeds"
  mkdir -p "$work/seeds" "$work/corpus" "$work/crashes"
  not_ok() {
    echo "not ok $i - fuzz $t ($1)"
    failed=$((failed + 1))
  }

  regs=()
  if [ -d "tests/fuzz/regressions/$t" ]; then
    for f in "tests/fuzz/regressions/$t"/*; do [ -f "$f" ] && regs+=("$f"); done
  fi
  if [ ${#regs[@]} -gt 0 ] && ! "$bin" "${regs[@]}" >"$work/regressions.log" 2>&1; then
    grep -E "Running:|INVARIANT|ERROR|SUMMARY" "$work/regressions.log" | tail -n 6 | sed 's/^/# /'
    not_ok "a regression input fails again, see $work/regressions.log"
    continue
  fi
  if has_seeder "$t"; then
    seeder=("$bin-seeds" "$work/seeds")
  else
    seeder=("$bin" -write_seeds="$work/seeds")
  fi
  if ! "${seeder[@]}" >"$work/seeds.log" 2>&1; then
    sed 's/^/# /' "$work/seeds.log" | tail -n 5
    not_ok "writing the seeds failed"
    continue
  fi

  "$bin" -max_total_time="$share" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$work/crashes/" "$work/corpus" "$work/seeds" \
    >"$work/fuzz.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$work/fuzz.log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    grep -E "INVARIANT|ERROR|SUMMARY|Test unit written" "$work/fuzz.log" | head -n 8 |
      sed 's/^/# /'
    not_ok "crashed after ${execs:-?} execs, log $work/fuzz.log"
    continue
  fi
  echo "ok $i - fuzz $t (${execs:-0} execs)"
  echo "# $t: ${cov:-no coverage line}, ${rate:-?} execs/s, ${#regs[@]} regression input(s)"
done
[ $failed -eq 0 ]
