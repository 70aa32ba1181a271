#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The four breakages an audit used to make whole suites vanish while
# ./scripts/test still ended "N passed, 0 failed", each reproduced in a
# scratch copy and shown to end in failures now (doc/testing.md):
#   1. a tool the container suites need reported missing (jq off the PATH)
#   2. a test program that returns before printing its plan (test_ipc)
#   3. tests/interop/run.sh not executable
#   4. the VM guest runner stopping early
# Prints TAP.
#
#   breakages_test.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/lib/tap.sh"
plan 7
agent=${1:?usage: $0 KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE}
ctl_bin=${2:?}
mkbundle=${3:?}
need_tool meson python3

scratch=$(mktemp -d /tmp/kata-breakages.XXXXXX)
tap_cleanup="rm -rf $scratch"
summary() { "$top/scripts/tap-summary" "$@" 2>&1; }
last() { tail -n 1 "$1"; }

# 1. jq missing: a PATH holding every command of this machine but jq. (The
# container suites check root first: as another user they stop there.)
t_jq() {
if [ "$(id -u)" != 0 ]; then
  skip_env 2 "1. jq missing, outside CI and in CI" "needs root, as the container suites"
  return
fi
mkdir -p "$scratch/nojq"
for f in /usr/local/bin/* /usr/bin/* /usr/sbin/* /bin/* /sbin/*; do
  b=${f##*/}
  [ "$b" = jq ] || [ -e "$scratch/nojq/$b" ] || ln -s "$f" "$scratch/nojq/$b" 2>/dev/null
done
suite=$top/tests/integration/containers/basics.sh
env -u CI PATH="$scratch/nojq" "$suite" "$agent" "$ctl_bin" "$mkbundle" >"$scratch/local.tap" 2>&1
env CI=true PATH="$scratch/nojq" "$suite" "$agent" "$ctl_bin" "$mkbundle" >"$scratch/ci.tap" 2>&1
rc=$?
env -u CI "$top/scripts/tap-summary" --source "$top" "$scratch/local.tap" >"$scratch/local.sum" 2>&1
env CI=true "$top/scripts/tap-summary" --source "$top" "$scratch/ci.tap" >"$scratch/ci.sum" 2>&1
check "1. jq missing, outside CI: every check of containers-basics is a visible skip naming jq" \
  "$(cat "$scratch/local.tap" "$scratch/local.sum")" eval \
  '[ "$(last "$scratch/local.sum")" = "0 passed, 0 failed, 10 skipped" ] && grep -q "SKIP jq is missing" "$scratch/local.tap"'
check "1. jq missing, in CI: the suite fails itself (exit $rc) and tap-summary counts 10 failures" \
  "$(cat "$scratch/ci.tap" "$scratch/ci.sum")" eval \
  '[ $rc -ne 0 ] && [ "$(last "$scratch/ci.sum")" = "0 passed, 10 failed, 0 skipped" ]'
}
t_jq

# 2. A TAP program that returns before its plan, in a real meson project:
# meson calls that SKIP and counts nothing; tap-summary fails it.
mkdir -p "$scratch/m"
cat >"$scratch/m/meson.build" <<'EOF'
project('breakage', 'c')
test('ipc', find_program('ipc.sh'), protocol : 'tap')
test('other', find_program('other.sh'), protocol : 'tap')
EOF
printf '#!/bin/sh\nexit 0\n' >"$scratch/m/ipc.sh"
printf '#!/bin/sh\necho 1..1\necho "ok 1 - fine"\n' >"$scratch/m/other.sh"
chmod +x "$scratch/m/ipc.sh" "$scratch/m/other.sh"
(cd "$scratch/m" && meson setup b >/dev/null 2>&1 && meson test -C b >/dev/null 2>&1)
meson_ipc=$(python3 -c 'import json, sys
for l in open(sys.argv[1]):
    t = json.loads(l)
    if t["name"] == "ipc": print(t["result"])' "$scratch/m/b/meson-logs/testlog.json" 2>&1)
summary --source "$scratch/m" --meson "$scratch/m/b" >"$scratch/m.sum"
check "2. a program returning before its plan (meson: ${meson_ipc:-?}): tap-summary fails it" \
  "$(cat "$scratch/m.sum")" eval \
  '[ "$(last "$scratch/m.sum")" = "1 passed, 1 failed, 0 skipped" ] && grep -q "FAILED ipc: no TAP plan" "$scratch/m.sum"'
# ... and a suite that meson knows but did not run (testlog.json rewritten
# with the other test only: a suite gone from the run)
(cd "$scratch/m" && meson test -C b other >/dev/null 2>&1)
summary --source "$scratch/m" --meson "$scratch/m/b" >"$scratch/m2.sum"
check "2. a suite meson lists but that did not run: tap-summary fails it" "$(cat "$scratch/m2.sum")" eval \
  'grep -q "FAILED ipc: meson knows this suite but it has no result" "$scratch/m2.sum"'

# 3. tests/interop/run.sh not executable, in a scratch copy of the tree:
# ./scripts/test can run nothing, tap-summary names the script.
mkdir -p "$scratch/src/tests" "$scratch/res"
cp -a "$top/tests/fuzz" "$top/tests/interop" "$top/tests/leaks" "$top/tests/sanitizer" "$top/tests/vm" "$scratch/src/tests/"
chmod -x "$scratch/src/tests/interop/run.sh"
for s in fuzz fuzz-rego leaks sanitizer vm; do printf '1..1\nok 1 - %s\n' $s >"$scratch/res/$s.tap"; done
"$top/scripts/tap-summary" --source "$scratch/src" --results "$scratch/res" >"$scratch/x.sum" 2>&1
check "3. tests/interop/run.sh not executable: tap-summary fails naming it" "$(cat "$scratch/x.sum")" eval \
  '[ "$(last "$scratch/x.sum")" = "5 passed, 1 failed, 0 skipped" ] &&
   grep -q "FAILED interop: .*tests/interop/run.sh is not executable" "$scratch/x.sum"'

# 4. The VM guest runner stopping early: a v1 console whose runner reported
# 10 of its checks and died; tests/vm/run reports what the console holds.
want=$(sh "$top/tests/vm/guest-tests.sh" --plan v1)
mkdir -p "$scratch/vm"
{
  echo "VMTAP 1..$want"
  for i in $(seq 1 10); do echo "VMTAP ok - v1: check $i"; done
  echo "sh: can't fork: out of memory"
} >"$scratch/vm/v1.console"
echo "0 12.5" >"$scratch/vm/v1.result"
VM_ONLY=v1 "$top/tests/vm/run" --report "$scratch/vm" >"$scratch/vm.tap" 2>/dev/null
vmrc=$?
summary --source "$scratch/vm" "$scratch/vm.tap" >"$scratch/vm.sum"
host=$(head -n 1 "$scratch/vm.tap")
check "4. the VM guest runner stopping early: the plan ($host) is kept, the checks it never reported are failures" \
  "$(cat "$scratch/vm.tap" "$scratch/vm.sum" | tail -n 30)" eval \
  '[ $vmrc -ne 0 ] && [ "$host" = "1..$((want + 6 + 1))" ] &&
   [ "$(grep -c "never reported (the guest runner stopped early)" "$scratch/vm.tap")" = $((want - 10)) ] &&
   grep -q "^not ok .* v1: the guest test runner completed its plan" "$scratch/vm.tap"'
check "4. ... and tap-summary ends with failures" "$(cat "$scratch/vm.sum" | tail -n 5)" eval \
  '[[ "$(last "$scratch/vm.sum")" == *" failed, 0 skipped" ]] && ! [[ "$(last "$scratch/vm.sum")" == *" 0 failed"* ]]'
