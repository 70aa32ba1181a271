#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The findings of the sanitizer build (build-asan, ./scripts/test): every
# process of its unit and integration suites reports into DIR, the
# unconfined ones through ASAN_OPTIONS / UBSAN_OPTIONS log_path (DIR/asan.PID,
# DIR/ubsan.PID), the confined front-end and monitors through the file
# KATA_SANITIZER_LOG names (DIR/confined.log, opened before confinement:
# common/confine.c). No finding is allowed. Prints TAP.
#
#   tests/sanitizer/reports.sh DIR
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
plan 3
dir=${1:?usage: $0 DIR}
[ -d "$dir" ] || { fail_rest "no sanitizer report directory $dir (the sanitizer suites did not run)"; exit 1; }

# reports PATTERN: the report files matching PATTERN, and their first lines
reports() {
  local f
  for f in "$dir"/$1; do
    [ -s "$f" ] || continue
    echo "== $f"
    grep -m 3 -E 'ERROR|SUMMARY|runtime error|#[0-3] ' "$f"
  done
}
a=$(reports 'asan.*')
check "no AddressSanitizer or LeakSanitizer finding in an unconfined process (parent, executor, launcher, tests)" \
  "$a" want "$a" ""
u=$(reports 'ubsan.*')
check "no UndefinedBehaviorSanitizer finding in an unconfined process" "$u" want "$u" ""
c=$(reports 'confined.log')
check "no sanitizer finding in a confined process (front-end, monitors)" "$c" want "$c" ""
