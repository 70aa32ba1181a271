#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attack: the resident launcher of a container (kata-agent-launcher, root,
# every capability; agentd/launcher/main.c) and the workers it clones per
# request (doc/security.md "The launcher L"), against a guest process that
# sees them: root with every capability but CAP_SYS_PTRACE, the strongest
# that does not own the guest anyway (a container does not even see them:
# they live in the guest's pid namespace; setup_fds.sh proves that).
#  - control: the same attacker reads the fds and environment of a
#    dumpable process with its own capabilities (the technique works here);
#  - it can read neither of the launcher's (not dumpable after its execve,
#    more capabilities than the attacker);
#  - its relocated data (and the monitor's) is read-only: both are static
#    PIEs on musl by default, whose start code leaves PT_GNU_RELRO
#    writable; common/relro.c seals it (a GOT overwrite stays a fault);
#    so is the parent's, the executor's, the front-end's and the policy
#    process's (static PIEs on musl too with -Dmusl_daemons, sealed the
#    same way; the policy process runs once a policy is set: SetPolicy of
#    one that allows everything starts it);
#  - the launcher holds exactly its channels, the worker's binary,
#    the packed request and the init's pidfd; an exec adds nothing to it
#    and leaves no worker behind;
#  - a launcher killed under the executor: the next ExecProcess fails with
#    an error (no hang) and the container is still removed whole.
# Prints TAP.
#
#   launcher.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 8
suite_requires
need_tool setpriv

# as root with every capability but CAP_SYS_PTRACE (all sets)
weakened() { setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace -- "$@"; }

# fds_of PID: "N target" lines, sorted by N
fds_of() {
  local f
  for f in /proc/"$1"/fd/*; do echo "${f##*/} $(readlink "$f")"; done 2>/dev/null | sort -n
}
# the launcher's expected fds: 0-2, EL and LM (sockets), the worker's
# binary, then the sealed request and the init's pidfd
fds_ok() {
  local n
  n=$(awk '$1 >= 3' <<<"$1" | awk '
    $1 == 3 || $1 == 4 { if ($2 ~ /^socket:/) ok++; next }
    $1 == 5 { if ($2 ~ /kata-agent-launch-worker$/) ok++; next }
    $2 ~ /^\/memfd:launch-init/ { ok++; next }
    $2 == "anon_inode:[pidfd]" { ok++; next }
    { bad++ } END { print ok + 0, bad + 0 }')
  [ "$n" = "5 0" ]
}

# relro_sealed PID: the page where its binary's PT_GNU_RELRO starts is
# mapped, without write permission
relro_sealed() {
  local exe off base="" at range perms
  exe=$(readlink /proc/"$1"/exe) || return 1
  off=$(readelf -lW "$exe" | awk '$1 == "GNU_RELRO" { print $3 }')
  [ -n "$off" ] || return 1
  while read -r range perms _ _ _ path; do
    [ "$path" = "$exe" ] && [ -z "$base" ] && base=$((16#${range%-*}))
  done </proc/"$1"/maps
  [ -n "$base" ] || return 1
  at=$(((base + off) & ~4095))
  while read -r range perms _; do
    if [ "$at" -ge $((16#${range%-*})) ] && [ "$at" -lt $((16#${range#*-})) ]; then
      [[ $perms != *w* ]]
      return
    fi
  done </proc/"$1"/maps
  return 1
}

t_launcher() {
  agent_start launcher || return
  local run_pid
  if ! run_sleeper sleeper; then
    rc=-
    fail_rest "the container did not start: $(diag sleeper)"
    agent_stop
    return
  fi
  local mon lau ctrl
  mon=$(child_named "$executor_pid" kata-agent-moni)
  # L becomes kata-agent-launcher once it was idle a moment after the start
  for _ in $(seq 1 50); do
    lau=$(child_named "$mon" kata-agent-laun) && break
    sleep 0.1
  done

  setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace -- sleep 60 </dev/null >/dev/null 2>&1 &
  ctrl=$!
  sleep 0.2
  check "control: root without CAP_SYS_PTRACE reads /proc/PID/fd of a dumpable process of its own capabilities" \
    "pid $ctrl" eval 'weakened readlink /proc/$ctrl/fd/0 >/dev/null'
  kill "$ctrl" 2>/dev/null
  # (not /proc/PID/environ: this kernel lets any root read it whatever the
  # target's capabilities and dumpability, the executor's too)
  check "it reads none of the launcher's fds (pid ${lau:-none})" \
    "launcher ${lau:-not found}" eval '[ -n "$lau" ] && ! weakened readlink /proc/$lau/fd/3 2>/dev/null &&
      ! weakened readlink /proc/$lau/fd/5 2>/dev/null'

  check "the launcher's and the monitor's relocated data are read-only (RELRO)" \
    "launcher: $(readlink /proc/"$lau"/exe); monitor: $(readlink /proc/"$mon"/exe)" \
    eval 'relro_sealed "$lau" && relro_sealed "$mon"'
  local fe pol
  fe=$(child_named "$agent_pid" kata-agent-fron)
  # no policy process until a policy is set (issue 14): one that allows
  # everything (tests/policy/agent/no-exec.rego's defaults, exec included)
  sed '/^default ExecProcessRequest/,$d' "$(dirname "$0")/../policy/agent/no-exec.rego" >"$work/allow-all.rego"
  echo 'default ExecProcessRequest := true' >>"$work/allow-all.rego"
  ctl call AgentService/SetPolicy "$(jq -Rs '{policy: .}' "$work/allow-all.rego")" >"$work/setpolicy.out" 2>"$work/setpolicy.err"
  pol=$(child_named "$agent_pid" kata-agent-poli)
  check "the parent's, the executor's, the front-end's and the policy process's relocated data are read-only (RELRO)" \
    "parent $agent_pid: $(readlink /proc/"$agent_pid"/exe); executor ${executor_pid:-none}; front-end ${fe:-none}; policy ${pol:-none} $(cat "$work/setpolicy.err")" \
    eval 'relro_sealed "$agent_pid" && relro_sealed "$executor_pid" && [ -n "$fe" ] && relro_sealed "$fe" &&
      [ -n "$pol" ] && relro_sealed "$pol"'

  local before after
  before=$(fds_of "$lau")
  check "the launcher holds its channels, the worker binary, the packed request and the init's pidfd, nothing else" \
    "$before" fds_ok "$before"
  ctl exec sleeper -- true </dev/null >"$work/exec.out" 2>"$work/exec.err"
  rc=$?
  after=$(fds_of "$lau")
  local kids
  kids=$(for p in $(cat /proc/"$mon"/task/*/children 2>/dev/null); do comm_of "$p"; done | sort | tr '\n' ' ')
  check "an exec runs, adds no fd to the launcher and leaves no worker" \
    "$(diag exec); fds before: $before; after: $after; monitor's children: $kids" eval \
    '[ $rc -eq 0 ] && [ "$before" = "$after" ] && [ "$kids" = "kata-agent-laun sleep " ]'

  kill -KILL "$lau"
  CTL_TIMEOUT=30 ctl exec sleeper -- true </dev/null >"$work/exec2.out" 2>"$work/exec2.err"
  rc=$?
  check "launcher killed: the next ExecProcess fails with an error, no hang" "$(diag exec2)" \
    eval '[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -s "$work/exec2.err" ]'
  ctl call AgentService/SignalProcess '{"containerId": "sleeper", "signal": 9}' >"$work/kill.err" 2>&1
  wait "$run_pid"
  local left
  left=$(ps -o comm= -s "$agent_pid" | grep -cE '^kata-agent-(moni|laun)$')
  ctl call AgentService/StatsContainer '{"containerId": "sleeper"}' >"$work/stats.out" 2>&1
  check "then the container is removed with its monitor (nothing of it left)" \
    "$(diag sleeper; cat "$work/kill.err" "$work/stats.out"); left: $left" eval '[ "$left" = 0 ] &&
      grep -q NOT_FOUND "$work/stats.out"'
  agent_stop
}

t_launcher
