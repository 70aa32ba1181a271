#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: shutdown. Prints TAP.
#
#   shutdown.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 2
suite_requires

t_shutdown() {
  agent_start shutdown || return
  local b marker="sleep 99$$"
  b=$(bundle idle $marker)
  ctl run "$b" --id idle </dev/null >"$work/idle.out" 2>"$work/idle.err" &
  local run_pid=$!
  for _ in $(seq 1 100); do
    pgrep -fx "$marker" >/dev/null && break
    sleep 0.1
  done
  # Stop the parent alone, as an init system would: it must take the
  # executor, the monitor and the container down with it.
  kill -TERM "$agent_pid"
  for _ in $(seq 1 100); do
    [ -e "/proc/$agent_pid" ] || break
    [ "$(sed 's/.*) //' "/proc/$agent_pid/stat" 2>/dev/null | cut -c1)" = Z ] && break
    sleep 0.1
  done
  # What the executor's exit lets go (the container's processes, killed
  # with the pid namespace, its cgroups) may go a moment after the parent.
  leftovers() {
    { pgrep -fx "$marker"; pgrep -f "kata-agent-monitor --container-id idle"; } | tr '\n' ' '
    find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -path "*/$cg_name/*" -type d 2>/dev/null
  }
  settle "" leftovers >/dev/null
  local left cgs
  left=$({ pgrep -fx "$marker"; pgrep -f "kata-agent-monitor --container-id idle"; } | tr '\n' ' ')
  cgs=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -path "*/$cg_name/*" -type d 2>/dev/null)
  check "agent stopped with a running container: the container and its monitor are gone" \
    "left: $left" want "$left" ""
  check "agent stopped with a running container: its cgroups are removed" "$cgs" want "$cgs" ""
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null
  agent_stop
}

t_shutdown
