#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What a scenario left behind, as one line "mounts N procs N cgroups N":
# mounts below the shared dir ($KATA) in the agent's mount namespace,
# descendants of the agent ($AGENT_PID) in a nested pid namespace
# (container processes and the pod's namespace holder) and any process
# still in a cgroup below the agent's cgroup parent ($CG), directories
# below that cgroup parent. After DestroySandbox the agent exits (as
# upstream's): its mount namespace goes with it, and what it left would
# be orphans in its cgroups.
# Waits up to 5 s for the counts to reach 0 (a process killed at removal
# may still be on its way out).
#   leftovers.sh [--vm-ends-it]   the VM's end would remove the sandbox's
#                                 shm mount and namespace holder: not counted
keep_vm=
[ "${1:-}" = --vm-ends-it ] && keep_vm=1
descendants() { # every live descendant of $AGENT_PID
  for s in /proc/[0-9]*/stat; do
    sed 's/.*) [A-Za-z] \([0-9]*\) .*/\1/; t; d' "$s" 2>/dev/null | sed "s|^|${s#/proc/} |"
  done | awk -v root="$AGENT_PID" '{ split($1, a, "/"); kids[$2] = kids[$2] " " a[1] }
    END { q[1] = root; n = 1; for (i = 1; i <= n; i++) { m = split(kids[q[i]], c, " ");
          for (j = 1; j <= m; j++) { q[++n] = c[j]; print c[j] } } }'
}
count() {
  n=0
  if [ -r "/proc/$AGENT_PID/mountinfo" ]; then
    if [ -n "$keep_vm" ]; then
      n=$(grep " $KATA" "/proc/$AGENT_PID/mountinfo" | grep -vc " $KATA/sandbox/shm ")
    else
      n=$(grep -c " $KATA" "/proc/$AGENT_PID/mountinfo")
    fi
  fi
  p=0
  for d in $(descendants); do
    d=/proc/$d
    f=$(awk '/^NSpid:/ {print NF}' "$d/status" 2>/dev/null)
    [ -n "$f" ] && [ "$f" -gt 2 ] || continue
    [ -n "$keep_vm" ] && [ "$(cat "$d/comm" 2>/dev/null)" = kata-pidns ] && continue
    p=$((p + 1))
  done
  for d in /proc/[0-9]*; do
    grep -q "/$CG/" "$d/cgroup" 2>/dev/null || continue
    [ -n "$keep_vm" ] && [ "$(cat "$d/comm" 2>/dev/null)" = kata-pidns ] && continue
    p=$((p + 1))
  done
  c=$(find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -mindepth 1 -type d 2>/dev/null | wc -l)
}
for _ in $(seq 1 50); do
  count
  [ "$n$p$c" = 000 ] && break
  sleep 0.1
done
echo "mounts $n procs $p cgroups $c"
