#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: stats. Prints TAP.
#
#   stats.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 11
suite_requires

# StatsContainer on this (v1) host: cpu, memory and pids from the cgroup,
# network from the container's own network namespace (only lo in it).
t_stats() {
  if [ ! -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] || [ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] ||
     [ ! -f /sys/fs/cgroup/pids/cgroup.procs ]; then
    skip_rest "needs cgroup v1 cpuacct, memory and pids"
    return
  fi
  agent_start stats || return
  local b s1="$work/stats1.json" s2="$work/stats2.json" out="$work/stats.out"
  b=$(bundle sbusy sh -c 'echo ready; while :; do :; done')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {memory: {limit: 67108864}, pids: {limit: 40}}'
  ctl run "$b" --id sbusy </dev/null >"$work/sbusy.out" 2>"$work/sbusy.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/sbusy.out" ready 200; then
    rc=-
    tap FAIL "stats: a busy container starts" "$(diag sbusy)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  ctl call AgentService/StatsContainer '{"containerId": "sbusy"}' >"$s1" 2>&1
  local rc1=$?
  sleep 0.5
  ctl call AgentService/StatsContainer '{"containerId": "sbusy"}' >"$s2" 2>&1
  rc=$?
  check "StatsContainer twice: OK, the output is JSON" "$(cat "$s1" "$s2")" eval \
    '[ $rc1 -eq 0 ] && [ $rc -eq 0 ] && jq -e .cgroupStats "$s1" >/dev/null && jq -e .cgroupStats "$s2" >/dev/null'
  local u1 u2
  u1=$(jq -r '.cgroupStats.cpuStats.cpuUsage.totalUsage // 0 | tonumber' "$s1" 2>/dev/null)
  u2=$(jq -r '.cgroupStats.cpuStats.cpuUsage.totalUsage // 0 | tonumber' "$s2" 2>/dev/null)
  check "cpu totalUsage grows under a busy loop ($u1 -> $u2 ns)" "$(cat "$s1" "$s2")" eval \
    '[ -n "$u1" ] && [ -n "$u2" ] && [ "$u1" -gt 0 ] && [ "$u2" -gt "$u1" ]'
  local ncpu
  ncpu=$(awk -F, '{ n = 0; for (i = 1; i <= NF; i++) { if (split($i, r, "-") == 2) n += r[2] - r[1] + 1; else n++ } print n }' \
    /sys/devices/system/cpu/possible)
  check "percpuUsage has one entry per possible cpu ($ncpu)" "$(cat "$s2")" want \
    "$(jq -r '.cgroupStats.cpuStats.cpuUsage.percpuUsage | length' "$s2" 2>&1)" "$ncpu"
  check "usage in user+kernel mode is reported" "$(cat "$s2")" eval \
    '[ "$(jq -r "(.cgroupStats.cpuStats.cpuUsage.usageInUsermode // 0 | tonumber) + (.cgroupStats.cpuStats.cpuUsage.usageInKernelmode // 0 | tonumber)" "$s2")" -gt 0 ]'
  check "memory usage > 0, limit 64 MiB as in the spec" "$(cat "$s2")" eval \
    '[ "$(jq -r ".cgroupStats.memoryStats.usage.usage // 0 | tonumber" "$s2")" -gt 0 ] &&
     [ "$(jq -r ".cgroupStats.memoryStats.usage.limit // 0 | tonumber" "$s2")" = 67108864 ]'
  check "memory stats map carries memory.stat (rss or anon key present)" "$(cat "$s2")" eval \
    'jq -e ".cgroupStats.memoryStats.stats | has(\"rss\") or has(\"total_rss\")" "$s2" >/dev/null'
  check "pids current >= 1, limit 40 as in the spec" "$(cat "$s2")" eval \
    '[ "$(jq -r ".cgroupStats.pidsStats.current // 0 | tonumber" "$s2")" -ge 1 ] &&
     [ "$(jq -r ".cgroupStats.pidsStats.limit // 0 | tonumber" "$s2")" = 40 ]'
  check "networkStats lists the container's interfaces (lo)" "$(cat "$s2")" eval \
    'jq -e "[.networkStats[].name] | index(\"lo\") != null" "$s2" >/dev/null'

  ctl call AgentService/StatsContainer '{"containerId": "nosuch"}' >"$out" 2>&1
  rc=$?
  check "StatsContainer of an unknown container: NOT_FOUND" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  ctl call AgentService/StatsContainer '{"containerId": "../x"}' >"$out" 2>&1
  rc=$?
  check "StatsContainer with an invalid id: INVALID_ARGUMENT" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'

  # A container whose init has exited (created and started by hand, so
  # nothing removes it): cgroup statistics still come, network ones not.
  b=$(bundle sdone true)
  local spec='{"Process": {"Args": ["true"], "Cwd": "/"}, "Root": {"Path": "'"$b"'/rootfs"}, "Linux": {"Namespaces": [{"Type": "mount"}, {"Type": "pid"}]}}'
  ctl call AgentService/CreateContainer "{\"containerId\": \"sdone\", \"OCI\": $spec}" >"$out" 2>&1 &&
    ctl call AgentService/StartContainer '{"containerId": "sdone"}' >>"$out" 2>&1 &&
    ctl call AgentService/WaitProcess '{"containerId": "sdone", "execId": ""}' >>"$out" 2>&1
  ctl call AgentService/StatsContainer '{"containerId": "sdone"}' >"$s1" 2>&1
  rc=$?
  check "StatsContainer after the init exited: OK, cgroup stats, no network stats" \
    "$(cat "$out" "$s1"; diag sdone)" eval \
    '[ $rc -eq 0 ] && jq -e ".cgroupStats.memoryStats.usage" "$s1" >/dev/null &&
     [ "$(jq -r "(.networkStats // []) | length" "$s1")" = 0 ]'
  ctl call AgentService/RemoveContainer '{"containerId": "sdone", "timeout": 20}' >/dev/null 2>&1
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null
  ctl call AgentService/RemoveContainer '{"containerId": "sbusy", "timeout": 20}' >/dev/null 2>&1
  agent_stop
}

t_stats
