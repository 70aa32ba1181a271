#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stand-alone, the executor is killed (SIGKILL: a crash, an OOM kill, a
# compromised front-end that found a way): nothing of the agent or of its
# containers may survive it (issue 10). In a VM the power-off that follows
# the parent's exit ends everything; on a host, before this, the monitors,
# the containers, a daemon that double-forked out of one, the pod's
# namespace holder kept running under PID 1 with their cgroups and the
# storages' mounts left behind. Prints TAP.
#
#   executor_death.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 6
suite_requires
need_tool nsenter

cg_left() { # container cgroups below the agent's cgroup parent
  find /sys/fs/cgroup/*/"$cg_name" /sys/fs/cgroup/"$cg_name" -mindepth 1 -type d 2>/dev/null
}
agent_left() { # processes of the agent or its containers still alive
  local p
  for p in "${procs[@]}"; do
    [ -e "/proc/$p" ] && [ "$(cut -d' ' -f22 "/proc/$p/stat" 2>/dev/null)" = "${start[$p]}" ] &&
      echo "$p($(comm_of "$p"))"
  done
}

t_executor_death() {
  agent_start exdeath || return
  local eph="$shared/eph" b out="$work/out"
  ctl call AgentService/CreateSandbox "{\"sandboxPidns\": true, \"storages\": [{\"driver\": \"ephemeral\",
    \"source\": \"tmpfs\", \"fstype\": \"tmpfs\", \"options\": [\"size=1m\"], \"mountPoint\": \"$eph\"}]}" \
    >"$out" 2>&1 || { fail_rest "CreateSandbox: $(cat "$out")"; return; }
  # A container whose init left a daemon behind (double fork), and an exec.
  # Their sleeps last 100N$$ seconds (N 0 to 4): names no other process on
  # the machine has (other suites sleep 1000 too), to look for survivors by.
  b=$(bundle c1 sh -c "(sleep 1003$$ &); echo ready; exec sleep 1000$$")
  ctl run "$b" --id c1 </dev/null >"$work/c1.out" 2>&1 &
  wait_for_file_text "$work/c1.out" ready 200 || { fail_rest "c1 did not start: $(cat "$work/c1.out")"; return; }
  ctl exec c1 -- sleep "1004$$" </dev/null >/dev/null 2>&1 &
  b=$(bundle c2 sleep "1001$$")
  ctl run "$b" --id c2 </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 100); do [ "$(pgrep -ax sleep | grep -cE "sleep 100[14]$$\$")" -ge 2 ] && break; sleep 0.1; done
  # Something outside the agent keeps its mount namespace open to look at.
  nsenter -t "$agent_pid" -m sleep 300 &
  local nsh=$!
  for _ in $(seq 1 100); do # until it is in there
    [ "$(readlink "/proc/$nsh/ns/mnt")" = "$(readlink "/proc/$agent_pid/ns/mnt")" ] && break
    sleep 0.1
  done
  declare -gA start=()
  procs=($(descendants "$agent_pid"))
  local p
  for p in "${procs[@]}"; do start[$p]=$(cut -d' ' -f22 "/proc/$p/stat" 2>/dev/null); done
  local before_cg before_mnt
  before_cg=$(cg_left | wc -l)
  before_mnt=$(grep -c " $shared/" "/proc/$nsh/mountinfo")
  say "before: ${#procs[@]} processes, $before_cg container cgroup dirs, $before_mnt mounts below the shared dir"
  if [ "${#procs[@]}" -lt 8 ] || [ "$before_cg" -lt 2 ] || [ "$before_mnt" -lt 1 ]; then
    fail_rest "the setup is not what the test needs: $(ps -o pid,comm --ppid "$agent_pid")"
    kill "$nsh"
    return
  fi

  kill -KILL "$executor_pid"
  local st=-
  for _ in $(seq 1 150); do
    if ! kill -0 "$agent_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  wait "$agent_pid" 2>/dev/null
  st=$?
  kill -0 "$agent_pid" 2>/dev/null && st=running
  check "the parent stops with status 1 once the executor is killed (status: $st)" \
    "$(tail -20 "$work/agent.log")" want "$st" 1
  local left
  left=$(agent_left)
  check "no process of the agent or its containers survives (monitors, launchers, kata-pidns, containers, a double-forked daemon, an exec)" \
    "left: $left" test -z "$left"
  left=$(pgrep -ax sleep | grep -E "sleep 100[0-4]$$\$")
  check "no container process at all ('sleep 1000'..'1004', this run's)" "$left" test -z "$left"
  left=$(cg_left)
  check "no container cgroup is left below the agent's cgroup parent" "$left" test -z "$left"
  left=$(grep " $shared/" "/proc/$nsh/mountinfo")
  check "no mount is left below the shared dir in the agent's mount namespace" "$left" test -z "$left"
  check "the parent said what it tore down" "$(tail -20 "$work/agent.log")" \
    grep -q "teardown: .* process(es) and .* container cgroup(s) left by the agent" "$work/agent.log"
  kill "$nsh" 2>/dev/null
  wait "$nsh" 2>/dev/null
  agent_stop
}

t_executor_death
