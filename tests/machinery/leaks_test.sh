#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/leaks/check.sh (the last suite of ./scripts/test) on leaks planted
# in a scratch tree: each kind is found, and what is not a leak is not
# (a clean tree; a cgroup whose test still runs). Prints TAP.
#
#   leaks_test.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/lib/tap.sh"
plan 5
if [ "$(id -u)" != 0 ]; then
  skip_env 5 "leaks planted" "needs root (cgroups and a mount are planted)"
  exit 0
fi

scratch=$(mktemp -d /tmp/kata-leakstest.XXXXXX)
mkdir -p "$scratch/build"
touch "$scratch/start"
sleep 0.05 # what is made from here on is newer than the stamp
planted=()
cleanup() {
  [ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null
  mountpoint -q "$scratch/kata-containers-test.m" && umount "$scratch/kata-containers-test.m"
  local d
  for d in "${planted[@]}"; do rmdir "$d" 2>/dev/null; done
  rm -rf "$scratch"
}
tap_cleanup=cleanup
leaks() { "$top/tests/leaks/check.sh" "$scratch" "$scratch/start" 2>&1; }

out=$(leaks)
check "a clean tree: the three checks pass" "$out" eval '[ "$(grep -c "^ok" <<<"$out")" = 3 ]'

# a process running one of the tree's build binaries
cp /bin/sleep "$scratch/build/sleep"
"$scratch/build/sleep" 60 &
sleeper=$!
out=$(leaks)
check "a process running a binary of build/ is reported, with its pid" "$out" eval \
  'grep -q "^not ok 1 " <<<"$out" && grep -q "# $sleeper $scratch/build/sleep" <<<"$out"'
kill "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null
sleeper=

# cgroups named as the harness names them: a finished test's, a live one's
hier=
if [ -e /sys/fs/cgroup/cgroup.procs ]; then
  hier=/sys/fs/cgroup
else
  for d in /sys/fs/cgroup/*/; do
    [ -e "$d/cgroup.procs" ] && [ -w "$d" ] && { hier=${d%/}; break; }
  done
fi
if [ -z "$hier" ]; then
  skip 2 "planted cgroups" "no writable cgroup hierarchy under /sys/fs/cgroup"
else
  (exit 0) &
  dead=$!
  wait "$dead"
  planted+=("$hier/kata-test-$dead-leakstest" "$hier/kata-test-$$-leakstest")
  mkdir "$hier/kata-test-$dead-leakstest"
  out=$(leaks)
  check "a cgroup of a finished test made during the run is reported" "$out" eval \
    'grep -q "^not ok 2 " <<<"$out" && grep -q "kata-test-$dead-leakstest" <<<"$out"'
  rmdir "$hier/kata-test-$dead-leakstest"
  mkdir "$hier/kata-test-$$-leakstest"
  out=$(leaks)
  check "one whose test still runs is not" "$out" eval 'grep -q "^ok 2 " <<<"$out"'
  rmdir "$hier/kata-test-$$-leakstest"
fi

# a test mount left in this mount namespace
mkdir -p "$scratch/kata-containers-test.m"
if mount -t tmpfs none "$scratch/kata-containers-test.m"; then
  out=$(leaks)
  check "a test mount left in the initial mount namespace is reported" "$out" eval \
    'grep -q "^not ok 3 " <<<"$out" && grep -q "kata-containers-test.m" <<<"$out"'
  umount "$scratch/kata-containers-test.m"
else
  skip_env 1 "a test mount left in the initial mount namespace is reported" "mount tmpfs failed"
fi
