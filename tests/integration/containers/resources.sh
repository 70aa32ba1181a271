#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: resources. Prints TAP.
#
#   resources.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 12
suite_requires

t_resources() {
  if [ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] || [ ! -f /sys/fs/cgroup/pids/cgroup.procs ] ||
    [ ! -f /sys/fs/cgroup/freezer/cgroup.procs ]; then
    skip_rest "needs cgroup v1 memory, pids and freezer (this group reads the v1 files)"
    return
  fi
  agent_start resources || return
  local b out="$work/update.out"
  b=$(bundle rsleeper sh -c 'echo ready; exec sleep 1000')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {memory: {limit: 67108864}, pids: {limit: 50}}'
  ctl run "$b" --id rs </dev/null >"$work/rs.out" 2>"$work/rs.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/rs.out" ready 200; then
    rc=-
    tap FAIL "resources: a container with limits starts" "$(diag rs)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  local mem="/sys/fs/cgroup/memory/$cg_name/rs" pids="/sys/fs/cgroup/pids/$cg_name/rs"
  check "create: linux.resources memory limit 64 MiB is in memory.limit_in_bytes" "$(diag rs)" \
    want "$(cat "$mem/memory.limit_in_bytes" 2>&1)" 67108864
  check "create: pids limit 50 is in pids.max" "$(diag rs)" want "$(cat "$pids/pids.max" 2>&1)" 50

  ctl call AgentService/UpdateContainer \
    '{"containerId": "rs", "resources": {"Memory": {"Limit": 134217728}}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer: memory limit 128 MiB, pids limit untouched" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$mem/memory.limit_in_bytes")" = 134217728 ] && [ "$(cat "$pids/pids.max")" = 50 ]'

  ctl call AgentService/UpdateContainer \
    '{"containerId": "rs", "resources": {"Memory": {"Limit": 33554432}, "CPU": {"Cpus": "4095"}}}' \
    >"$out" 2>&1
  rc=$?
  check "UpdateContainer with cpus 4095: INVALID_ARGUMENT naming the file; memory limit restored" \
    "$(cat "$out"; diag rs)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q cpuset.cpus "$out" &&
     [ "$(cat "$mem/memory.limit_in_bytes")" = 134217728 ]'

  ctl call AgentService/UpdateContainer '{"containerId": "nosuch", "resources": {}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer of an unknown container: NOT_FOUND" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'

  local frz="/sys/fs/cgroup/freezer/$cg_name/rs/freezer.state"
  local proc='{"Args": ["true"], "Env": ["PATH=/bin"], "Cwd": "/", "User": {}}'
  ctl call AgentService/PauseContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "PauseContainer: the freezer state is FROZEN" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$frz")" = FROZEN ]'
  ctl call AgentService/ExecProcess \
    "{\"containerId\": \"rs\", \"execId\": \"e1\", \"process\": $proc}" >"$out" 2>&1
  rc=$?
  check "ExecProcess into a paused container: FAILED_PRECONDITION" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'
  ctl call AgentService/PauseContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "PauseContainer twice: FAILED_PRECONDITION" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'
  ctl call AgentService/ResumeContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "ResumeContainer: THAWED, and exec works again" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$frz")" = THAWED ] && ctl exec rs -- true </dev/null >/dev/null 2>&1'
  ctl call AgentService/ResumeContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "ResumeContainer of a running container: FAILED_PRECONDITION" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'

  # A paused container is still removed (thawed first, so SIGKILL lands).
  ctl call AgentService/PauseContainer '{"containerId": "rs"}' >/dev/null 2>&1
  ctl call AgentService/RemoveContainer '{"containerId": "rs", "timeout": 20}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer of a paused container: OK, cgroup gone" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ ! -d "$mem" ] && [ ! -d "/sys/fs/cgroup/freezer/$cg_name/rs" ]'
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null

  b=$(bundle rbad true)
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {cpu: {cpus: "4095"}}'
  run_ rbad "$b"
  check "create with cpus 4095: INVALID_ARGUMENT, nothing left" "$(diag rbad)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/rbad.err" && [ ! -d "/sys/fs/cgroup/cpuset/$cg_name/rbad" ]'
  agent_stop
}

t_resources
