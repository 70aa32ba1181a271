#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: pidns. Prints TAP.
#
#   pidns.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 10
suite_requires

# The pid namespace, as upstream: the runtime strips it from every spec
# (kata_agent.go handlePidNamespace) and the agent gives each container a
# new one, or the pod's shared one when CreateContainerRequest.sandbox_pidns
# asks. The Go runtime never sets CreateSandboxRequest.sandbox_pidns
# (startSandbox: sandbox.sharePidNs is never true); for a
# shareProcessNamespace pod it sets CreateContainerRequest.sandbox_pidns on
# the app containers (containerd gives them the pause container's pid
# namespace path), which join the pod's first container, the pause
# container (upstream update_shared_pidns, update_container_namespaces).

# pod_json BUNDLE OUT: the CreateContainerRequest the runtime would send for
# BUNDLE: no pid namespace, no cgroups path (the harness's parent is used).
pod_json() {
  jqset "$1" 'del(.linux.cgroupsPath) | .linux.namespaces |= map(select(.type != "pid"))'
  ctl run "$1" --dry-run >"$2" 2>"$work/dry.err" || { cat "$work/dry.err"; return 1; }
}
# start_as JSON ID SANDBOX_PIDNS: CreateContainer (ExecId = the container id,
# as kata_agent.go createContainer sends it) and StartContainer.
start_as() {
  jq --arg id "$2" --argjson s "$3" '.containerId = $id | .execId = $id | .sandboxPidns = $s' \
    "$1" >"$work/$2.json"
  ctl call AgentService/CreateContainer - <"$work/$2.json" >"$out" 2>&1 &&
    ctl call AgentService/StartContainer "{\"containerId\": \"$2\"}" >>"$out" 2>&1
}
# proc_running COMM-ARG: the pid of the agent's descendant whose cmdline is exactly this
proc_running() {
  local p i
  for i in $(seq 1 50); do
    for p in $(descendants "$agent_pid"); do
      [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "$1 " ] && { echo "$p"; return 0; }
    done
    sleep 0.1
  done
  return 1
}
nsof() { readlink "/proc/$1/ns/$2" 2>/dev/null; }
holder_pid() {
  local q
  for q in $(descendants "$agent_pid"); do [ "$(comm_of "$q")" = kata-pidns ] && { echo "$q"; return; }; done
}

t_pidns_pod() {
  agent_start pidns || return
  local out="$work/pidns.out" b pause app own holder
  ctl call AgentService/CreateSandbox '{"hostname": "pod", "sandboxId": "sb-pidns"}' >"$out" 2>&1
  rc=$?
  holder=$(holder_pid)
  check "CreateSandbox as the Go runtime sends it (no sandbox_pidns): OK, a kata-pidns holder runs" \
    "$(cat "$out")" eval '[ $rc -eq 0 ] && [ -n "$holder" ]'

  b=$(bundle pause sleep 999)
  pod_json "$b" "$work/pause-req.json" && start_as "$work/pause-req.json" pause false
  rc=$?
  pause=$(proc_running "sleep 999")
  check "the pause container (first, sandbox_pidns false): pid 1 of a new pid namespace" \
    "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -n "$pause" ] && [ "$(awk "/^NSpid:/ {print \$NF}" /proc/$pause/status)" = 1 ] &&
     [ "$(nsof "$pause" pid)" != "$(readlink /proc/self/ns/pid)" ]'

  b=$(bundle app sh -c 'tr "\0" " " </proc/1/cmdline >/tmp/pid1; exec sleep 998')
  pod_json "$b" "$work/app-req.json" && start_as "$work/app-req.json" app true
  rc=$?
  app=$(proc_running "sleep 998")
  check "an app container with sandbox_pidns: in the pause container's pid namespace" \
    "$(cat "$out"; tail -5 "$work/agent.log")" eval \
    '[ $rc -eq 0 ] && [ -n "$app" ] && [ "$(nsof "$app" pid)" = "$(nsof "$pause" pid)" ]'
  check "the app container sees the pause process as its pid 1" "$(cat "$b/rootfs/tmp/pid1" 2>&1)" eval \
    '[ "$(cat "$b/rootfs/tmp/pid1" 2>/dev/null)" = "sleep 999 " ]'

  b=$(bundle own sleep 997)
  pod_json "$b" "$work/own-req.json" && start_as "$work/own-req.json" own false
  rc=$?
  own=$(proc_running "sleep 997")
  check "a container without sandbox_pidns: a pid namespace of its own" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -n "$own" ] && [ "$(nsof "$own" pid)" != "$(nsof "$pause" pid)" ] &&
     [ "$(awk "/^NSpid:/ {print \$NF}" /proc/$own/status)" = 1 ]'
  local shared_ipc=0 p
  for p in $pause $app $own; do
    [ "$(nsof "$p" ipc)" = "$(nsof "$holder" ipc)" ] && [ "$(nsof "$p" uts)" = "$(nsof "$holder" uts)" ] &&
      shared_ipc=$((shared_ipc + 1))
  done
  check "all three share the sandbox's IPC and UTS namespaces (as upstream, per pod)" \
    "pause $pause app $app own $own holder $holder" want "$shared_ipc" 3

  ctl call AgentService/RemoveContainer '{"containerId": "pause", "timeout": 20}' >"$out" 2>&1
  b=$(bundle late sleep 996)
  pod_json "$b" "$work/late-req.json" && start_as "$work/late-req.json" late true
  rc=$?
  check "the pause container removed: sandbox_pidns is FAILED_PRECONDITION naming it, nothing runs" \
    "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out" && grep -q "container pause" "$out" &&
     ! proc_running "sleep 996" >/dev/null'
  ctl call AgentService/DestroySandbox '{}' >"$out" 2>&1
  rc=$?
  holder_left() { [ -e "/proc/$holder" ] && echo "$holder"; }
  settle "" holder_left >/dev/null # it exits just after the answer
  check "DestroySandbox: the holder is gone" "$(cat "$out")" eval '[ $rc -eq 0 ] && [ ! -e "/proc/$holder" ]'
  agent_stop
}

# Older runtimes set CreateSandboxRequest.sandbox_pidns: the holder's pid
# namespace is then the pod's. A sandbox_pidns container created before
# anything else is the first container: a new namespace (upstream).
t_pidns_holder() {
  agent_start pidns-holder || return
  local out="$work/pidns.out" b solo old holder
  b=$(bundle solo sleep 995)
  pod_json "$b" "$work/solo-req.json" && start_as "$work/solo-req.json" solo true
  rc=$?
  solo=$(proc_running "sleep 995")
  check "sandbox_pidns on the very first container: accepted, a new pid namespace (it is the first)" \
    "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -n "$solo" ] && [ "$(awk "/^NSpid:/ {print \$NF}" /proc/$solo/status)" = 1 ]'
  ctl call AgentService/CreateSandbox '{"sandboxPidns": true}' >"$out" 2>&1
  holder=$(holder_pid)
  b=$(bundle old sleep 994)
  pod_json "$b" "$work/old-req.json" && start_as "$work/old-req.json" old true
  rc=$?
  old=$(proc_running "sleep 994")
  check "CreateSandbox with sandbox_pidns (older runtimes): sandbox_pidns containers join the holder's" \
    "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -n "$old" ] && [ -n "$holder" ] && [ "$(nsof "$old" pid)" = "$(nsof "$holder" pid)" ]'
  agent_stop
}

t_pidns_pod
t_pidns_holder
