#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: pidns. Prints TAP.
#
#   pidns.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 5
suite_requires

# The pid namespace, as upstream: the runtime strips it from the spec and
# the agent gives each container a new one, or the sandbox's shared one
# when CreateContainerRequest.sandbox_pidns asks (CreateSandbox made it).
t_pidns() {
  agent_start pidns || return
  local out="$work/pidns.out" b json
  b=$(bundle pnsleep sh -c 'exec sleep 1000')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.namespaces |= map(select(.type != "pid"))'
  ctl run "$b" --dry-run >"$work/pn.json" 2>"$out" || { tap FAIL "pidns: dry-run" "$(cat "$out")"; agent_stop; return; }
  start_as() { # start_as ID SANDBOX_PIDNS: create and start a copy of pn.json
    jq --arg id "$1" --argjson s "$2" '.containerId = $id | .execId = $id | .sandboxPidns = $s' \
      "$work/pn.json" >"$work/$1.json"
    ctl call AgentService/CreateContainer - <"$work/$1.json" >"$out" 2>&1 &&
      ctl call AgentService/StartContainer "{\"containerId\": \"$1\"}" >>"$out" 2>&1
  }
  start_as pshared true
  rc=$?
  check "CreateContainer with sandboxPidns before any shared pid namespace: FAILED_PRECONDITION" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'
  ctl call AgentService/CreateSandbox '{"sandboxPidns": true}' >"$out" 2>&1
  rc=$?
  local holder
  holder=$(for q in $(descendants "$agent_pid"); do [ "$(comm_of "$q")" = kata-pidns ] && echo "$q"; done | head -n1)
  check "CreateSandbox with sandboxPidns: a kata-pidns holder runs (pid ${holder:-none})" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -n "$holder" ]'
  start_as pa true && start_as pb true && start_as pown false
  rc=$?
  sleep 0.5
  local ns_h sleeps=()
  for p in $(descendants "$agent_pid"); do
    [ "$(comm_of "$p")" = sleep ] && sleeps+=("$p")
  done
  ns_h=$(readlink "/proc/$holder/ns/pid" 2>/dev/null)
  local same=0 own=0 host_ns
  host_ns=$(readlink /proc/self/ns/pid)
  local p nsl
  for p in "${sleeps[@]}"; do
    nsl=$(readlink "/proc/$p/ns/pid")
    if [ "$nsl" = "$ns_h" ]; then same=$((same + 1)); elif [ "$nsl" != "$host_ns" ]; then own=$((own + 1)); fi
  done
  check "two containers share the sandbox's pid namespace, the third has its own (spec without one)" \
    "$(cat "$out"; echo "sleeps: ${sleeps[*]}, holder ns $ns_h")" eval \
    '[ $rc -eq 0 ] && [ "$same" = 2 ] && [ "$own" = 1 ]'
  local shared_ipc=0
  for p in "${sleeps[@]}"; do
    [ "$(readlink "/proc/$p/ns/ipc")" = "$(readlink "/proc/$holder/ns/ipc")" ] &&
      [ "$(readlink "/proc/$p/ns/uts")" = "$(readlink "/proc/$holder/ns/uts")" ] && shared_ipc=$((shared_ipc + 1))
  done
  check "all three share the sandbox's IPC and UTS namespaces (as upstream, per pod)" \
    "sleeps: ${sleeps[*]}" want "$shared_ipc" 3
  for id in pa pb pown; do
    ctl call AgentService/RemoveContainer "{\"containerId\": \"$id\", \"timeout\": 20}" >/dev/null 2>&1
  done
  ctl call AgentService/DestroySandbox '{}' >"$out" 2>&1
  rc=$?
  sleep 0.2
  check "DestroySandbox: the holder is gone" "$(cat "$out")" eval '[ $rc -eq 0 ] && [ ! -e "/proc/$holder" ]'
  agent_stop
}

t_pidns
