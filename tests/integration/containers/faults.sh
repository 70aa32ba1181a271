#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: faults. Prints TAP.
#
#   faults.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# What doc/security.md promises when a container's monitor dies, and what a
# RemoveContainer timeout does, shown by making it happen: a monitor is
# stopped (SIGSTOP: it reads nothing, as a hung one) and then killed.
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 15
suite_requires

# start_detached ID BUNDLE: CreateContainer + StartContainer as the runtime
# sends them (ctl --dry-run builds the request), with no attached ctl run
# that would remove the container itself when its process goes.
start_detached() {
  ctl run "$2" --dry-run 2>"$work/$1.err" |
    jq --arg id "$1" '.containerId = $id | .execId = $id' >"$work/$1.json" &&
    ctl call AgentService/CreateContainer - <"$work/$1.json" >>"$work/$1.err" 2>&1 &&
    ctl call AgentService/StartContainer "{\"containerId\": \"$1\"}" >>"$work/$1.err" 2>&1
}
# the pid of the only process named sleep below the agent (the container's)
sleep_pid() {
  local p
  for p in $(descendants "$agent_pid"); do
    [ "$(comm_of "$p")" = sleep ] && { echo "$p"; return 0; }
  done
  return 1
}
# start_sleeper ID WHAT: a container ID whose init sleeps, started detached;
# sets mon (its monitor) and init (its process), or reports WHAT failed
start_sleeper() {
  local b
  b=$(bundle "$1" sh -c 'exec sleep 1000')
  if start_detached "$1" "$b" && mon=$(child_named "$executor_pid" kata-agent-moni) &&
    init=$(sleep_pid); then
    return 0
  fi
  tap FAIL "$2: a container $1 runs" "$(cat "$work/$1.err"; tail -n 5 "$work/agent.log")"
  return 1
}
cgroups_of() { find /sys/fs/cgroup -maxdepth 4 -path "*/$cg_name/$1" -type d 2>/dev/null; }
gone() { [ ! -e "/proc/$1" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ]; }

# A monitor that dies: a SignalProcess the executor forwarded to it fails
# INTERNAL "the monitor exited", a WaitProcess waiting on the front-end's
# channel to it fails, the executor logs the unexpected exit, later
# SignalProcess calls fail "its monitor is gone", and RemoveContainer still
# removes the container: cgroup and processes.
t_monitor_death() {
  local out="$work/md.out" mon init
  start_sleeper md "monitor death" || return 1
  ctl call AgentService/WaitProcess '{"containerId": "md", "execId": ""}' >"$work/md-wait.out" 2>&1 &
  local wpid=$!
  kill -STOP "$mon"
  ctl call AgentService/SignalProcess '{"containerId": "md", "execId": "", "signal": 15}' \
    >"$work/md-sig.out" 2>&1 &
  local spid=$!
  # Once the signal is in the stopped monitor's queue (its executor
  # channel, fd 3; before, the kill would come first on a slow machine),
  # the call cannot end: still running a second later.
  wait_queued "$mon" 3
  sleep 1
  local waiting=no
  [ -e "/proc/$spid" ] && waiting=yes
  kill -KILL "$mon"
  wait "$spid"
  rc=$?
  check "a SignalProcess pending on a monitor that dies fails INTERNAL (the monitor exited)" \
    "still waiting before the kill: $waiting; exit $rc: $(cat "$work/md-sig.out")" eval \
    '[ $waiting = yes ] && [ $rc -ne 0 ] && grep -q "INTERNAL: container md: the monitor exited" "$work/md-sig.out"'
  wait "$wpid"
  rc=$?
  check "a WaitProcess waiting on the front-end's channel to that monitor fails UNAVAILABLE" \
    "exit $rc: $(cat "$work/md-wait.out")" eval \
    '[ $rc -ne 0 ] && grep -q "UNAVAILABLE: container md: monitor channel closed" "$work/md-wait.out"'
  check "the executor logs the monitor's unexpected exit" "$(tail -n 5 "$work/agent.log")" \
    wait_for_file_text "$work/agent.log" "container md: monitor exited unexpectedly" 50
  # SIGTERM: a SIGKILL to the init is the kill-all path, which the executor
  # does through the container's cgroup without its monitor
  ctl call AgentService/SignalProcess '{"containerId": "md", "execId": "", "signal": 15}' >"$out" 2>&1
  rc=$?
  check "the container stays listed: a later SignalProcess fails INTERNAL (its monitor is gone)" \
    "exit $rc: $(cat "$out")" eval '[ $rc -ne 0 ] && grep -q "INTERNAL: container md: its monitor is gone" "$out"'
  local before
  before=$(cgroups_of md)
  ctl call AgentService/RemoveContainer '{"containerId": "md", "timeout": 20}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer still works: OK, its cgroups (${before:+present before}) and its process are gone" \
    "exit $rc: $(cat "$out"); cgroups: $(cgroups_of md); init $init: $(cat "/proc/$init/status" 2>/dev/null | head -n 3)" \
    eval '[ $rc -eq 0 ] && [ -n "$before" ] && [ -z "$(cgroups_of md)" ] && gone "$init"'
  ctl call AgentService/StatsContainer '{"containerId": "md"}' >"$out" 2>&1
  rc=$?
  check "... and the container is unknown afterwards (StatsContainer: NOT_FOUND)" "exit $rc: $(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
}

# RemoveContainer with a timeout the removal cannot meet (its monitor is
# stopped, so the SIGKILL is not delivered): DEADLINE_EXCEEDED, and the
# removal goes on in the background once the monitor runs again.
t_remove_timeout() {
  local out="$work/rt.out" mon init
  start_sleeper rt "remove timeout" || return 1
  kill -STOP "$mon"
  ctl call AgentService/RemoveContainer '{"containerId": "rt", "timeout": 1}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer timeout 1 with a stopped monitor: DEADLINE_EXCEEDED, the removal goes on" \
    "exit $rc: $(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q DEADLINE_EXCEEDED "$out" && grep -q "goes on in the background" "$out"'
  check "... meanwhile the container is still there (its process runs, its cgroups exist)" \
    "init $init; cgroups: $(cgroups_of rt)" eval '! gone "$init" && [ -n "$(cgroups_of rt)" ]'
  kill -CONT "$mon"
  local i
  for i in $(seq 1 100); do
    gone "$init" && [ -z "$(cgroups_of rt)" ] && break
    sleep 0.1
  done
  check "once the monitor runs again the removal finishes by itself: process and cgroups gone" \
    "init $init: $(head -n 3 "/proc/$init/status" 2>/dev/null); cgroups: $(cgroups_of rt); $(tail -n 5 "$work/agent.log")" \
    eval 'gone "$init" && [ -z "$(cgroups_of rt)" ]'
  ctl call AgentService/StatsContainer '{"containerId": "rt"}' >"$out" 2>&1
  rc=$?
  check "... and the container is unknown (StatsContainer: NOT_FOUND)" "exit $rc: $(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
}

# The whole agent dies under an attached `kata-agent-ctl run` (the host's
# side of a VM that went away): ctl tries to reconnect for ~10 s, then gives
# up with its run-failure code; its clean-up RemoveContainer must fail as
# "not connected", not crash on the client it no longer has (it did: a
# SIGSEGV in client_check on a NULL client).
t_agent_gone() {
  local out="$work/gone.out" b rc
  b=$(bundle gone sh -c 'exec sleep 1000')
  ctl run "$b" --id gone >"$out" 2>&1 &
  local cpid=$! i
  for i in $(seq 1 100); do
    sleep_pid >/dev/null && break
    sleep 0.1
  done
  check "ctl run attached to a container" "$(cat "$out")" eval 'sleep_pid >/dev/null'
  kill -KILL "$agent_pid" $(descendants "$agent_pid") 2>/dev/null
  wait "$cpid"
  rc=$?
  check "the agent killed under ctl run: ctl exits 125 (run failed) after its reconnect attempts, no crash, the clean-up says not connected" \
    "exit $rc: $(cat "$out")" eval \
    '[ $rc -eq 125 ] && grep -q "could not reconnect" "$out" && grep -q "RemoveContainer: not connected" "$out"'
}

# A guest kernel without calls the agent needs (older than Linux 5.12, or
# one whose configuration or a filter around the agent answers ENOSYS):
# played here by tests/lib/enosys.c, a seccomp filter the whole agent runs
# under. The parent says so at start (agentd/parent/kernel_check.c) and
# serves; a container fails naming the call, leaving nothing behind.
t_old_kernel() {
  local normal=$work/agent.log
  check "on this kernel the agent logs no missing system call" "$(grep -a "this kernel lacks" "$normal")" \
    eval '! grep -aq "this kernel lacks" "$normal"'
  printf '#!/bin/sh\nexec "%s" mount_setattr,openat2,clone3 "%s" "$@"\n' "$KATA_ENOSYS" "$agent" >"$top/agent-enosys"
  chmod +x "$top/agent-enosys"
  if ! agent=$top/agent-enosys agent_start oldkernel; then
    fail_rest "the agent did not start under the filter"
    return
  fi
  ctl check >"$work/check.out" 2>&1
  rc=$?
  check "without mount_setattr, openat2 and clone3 (ENOSYS): the agent starts, logs one error naming the three and Linux 5.12, and serves" \
    "rc $rc: $(grep -a -e lacks -e ERRO "$work/agent.log" | head -n 5)" eval \
    '[ $rc -eq 0 ] && [ "$(grep -ac "this kernel lacks mount_setattr, openat2, clone3 (ENOSYS): the agent needs Linux 5.12" "$work/agent.log")" = 1 ]'
  # the pod first, as kata_agent.go startSandbox (its namespace holder
  # belongs to the sandbox, not to the container)
  ctl call AgentService/CreateSandbox '{"hostname": "oldk", "sandboxId": "oldk"}' >"$work/sandbox.out" 2>&1
  local mounts procs b
  mounts=$(wc -l <"/proc/$executor_pid/mountinfo")
  procs=$(descendants "$agent_pid" | wc -w)
  # kata-agent-ctl run: CreateContainer as kata_agent.go createContainer
  # builds it, then StartContainer
  b=$(bundle oldk sh -c 'echo should not run')
  ctl run "$b" --id oldk >"$work/oldk.out" 2>&1
  rc=$?
  local after
  after=$(settle "$procs $mounts" eval 'echo "$(descendants "$agent_pid" | wc -w) $(wc -l <"/proc/$executor_pid/mountinfo")"')
  check "a container there: CreateContainer fails naming the missing call; no process, cgroup or mount of it left; the agent serves" \
    "rc $rc: $(cat "$work/oldk.out"); processes and mounts $procs $mounts -> $after; CreateSandbox: $(cat "$work/sandbox.out")" eval \
    '[ $rc -ne 0 ] && grep -Eq "(mount_setattr|openat2|clone3).*Function not implemented" "$work/oldk.out" &&
     ! grep -q "should not run" "$work/oldk.out" && [ -z "$(find /sys/fs/cgroup -path "*$cg_name*oldk*" 2>/dev/null)" ] &&
     [ "$after" = "$procs $mounts" ] && ctl check >/dev/null 2>&1'
  agent_stop
}

agent_start faults || exit 1
t_monitor_death || fail_rest "the monitor death checks could not start"
t_remove_timeout
t_agent_gone
agent_stop
t_old_kernel
