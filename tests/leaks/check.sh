#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What the suites of this run left behind, checked once they all ended
# (./scripts/test, after the background fuzzers): every suite cleans up
# after itself (doc/testing.md), and a leak one of them misses is a bug of
# the agent or of the harness, which nothing else would see. Prints TAP.
#
#   tests/leaks/check.sh TOP STAMP
#
# TOP: the source tree whose build/ and build-asan/ binaries this run used;
# STAMP: a file made when the run started (what is older is not ours:
# other trees' runs may share the machine).
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
plan 3
top=${1:?usage: $0 TOP STAMP}
stamp=${2:?usage: $0 TOP STAMP}
[ -e "$stamp" ] || { fail_rest "no start stamp $stamp"; exit 1; }

# 1. Processes: any still running a binary of this tree's builds (the
# agent's processes, kata-agent-ctl, test programs). Zombies have no exe.
procs=""
for p in /proc/[0-9]*; do
  exe=$(readlink "$p/exe" 2>/dev/null) || continue
  case "$exe" in
  "$top"/build/* | "$top"/build-asan/*)
    procs+="${p#/proc/} $exe: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-200)"$'\n'
    ;;
  esac
done
check "no process left running a binary of this run's builds" "$procs" want "$procs" ""

# 2. Cgroups: the harness names an agent's --cgroup-parent kata-test-PID-NAME
# (tests/lib/agent.sh, tests/guestcomp/lib.sh); one made during this run
# whose test (PID) has ended was left behind.
cgs=""
while IFS= read -r d; do
  name=${d##*/}
  pid=${name#kata-test-}
  pid=${pid%%-*}
  [[ $pid =~ ^[0-9]+$ ]] && [ -e "/proc/$pid" ] && continue
  cgs+="$d"$'\n'
done < <(find /sys/fs/cgroup -maxdepth 2 -type d -name 'kata-test-*' -newer "$stamp" 2>/dev/null)
check "no cgroup of a finished test left (kata-test-*, made during this run)" "$cgs" want "$cgs" ""

# 3. Mounts: the suites mount only in private mount namespaces (unshare -m)
# below their temporary directories; none may show in this namespace.
mnts=$(awk -v top="$top/" '$5 ~ /kata-containers-test|kata-agent-c-/ || index($5, top) == 1 { print $5 }' \
  /proc/self/mountinfo)
check "no mount of a test left in the initial mount namespace" "$mnts" want "$mnts" ""
