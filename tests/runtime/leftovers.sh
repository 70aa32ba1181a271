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
# $CG empty: the cgroup parent is the root (the VM guest, where the agent is
# init and the containers' cgroups are their cgroupsPath below each
# hierarchy's root): every process outside the root cgroup and every
# cgroup directory counts.
# POSIX sh (busybox sh in the VM guest runs it). Waits up to 5 s for the
# counts to reach 0 (a process killed at removal may still be on its way
# out).
#   leftovers.sh [--sandbox-kept]   the sandbox is not destroyed yet (the
#       step before DestroySandbox, or runtime-rs, which never sends it and
#       ends the VM instead): its own storages (the shm mount, the shared
#       filesystem's mount at $KATA/shared/containers) and its namespace
#       holder are not counted
keep_sandbox=
[ "${1:-}" = --sandbox-kept ] && keep_sandbox=1
. "$(dirname "$0")/agent-tree.sh"
# the sandbox's own processes (kept with --sandbox-kept)
sandbox_proc() { [ -n "$keep_sandbox" ] && [ "$(cat "$1/comm" 2>/dev/null)" = kata-pidns ]; }
in_ctr_cgroup() {
  if [ -n "$CG" ]; then
    grep -q "/$CG/" "$1/cgroup" 2>/dev/null
  else
    grep -qv ':/$' "$1/cgroup" 2>/dev/null
  fi
}
cgroup_dirs() {
  if [ -n "$CG" ]; then
    find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -mindepth 1 -type d 2>/dev/null
  elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    find /sys/fs/cgroup/ -mindepth 1 -type d 2>/dev/null
  else # v1: below each hierarchy (cpu and cpuacct link to one: counted twice)
    find /sys/fs/cgroup/*/ -mindepth 1 -type d 2>/dev/null
  fi
}
count() {
  n=0
  if [ -r "/proc/$AGENT_PID/mountinfo" ]; then
    if [ -n "$keep_sandbox" ]; then
      n=$(grep " $KATA" "/proc/$AGENT_PID/mountinfo" |
        grep -v -e " $KATA/sandbox/shm " -e " $KATA/shared/containers " -c)
    else
      n=$(grep -c " $KATA" "/proc/$AGENT_PID/mountinfo")
    fi
  fi
  p=0
  for d in $(container_procs); do
    sandbox_proc "/proc/$d" || p=$((p + 1))
  done
  for d in /proc/[0-9]*; do
    in_ctr_cgroup "$d" || continue
    sandbox_proc "$d" || p=$((p + 1))
  done
  c=$(cgroup_dirs | wc -l)
}
for _ in $(seq 1 200); do # 20 s at most: what follows the last answer, on a loaded machine
  count
  [ "$n$p$c" = 000 ] && break
  sleep 0.1
done
echo "mounts $n procs $p cgroups $c"
