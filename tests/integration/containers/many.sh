#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: many. Prints TAP.
#
#   many.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 6
suite_requires

t_many() {
  agent_start many || return
  local common i pids=() okc=0
  "$mkbundle" "$shared/common" >/dev/null
  local fds_exec_before fds_fe_before mounts_before
  fds_exec_before=$(ls "/proc/$executor_pid/fd" 2>/dev/null | wc -l)
  fds_fe_before=$(ls "/proc/$frontend_pid/fd" 2>/dev/null | wc -l)
  mounts_before=$(wc -l <"/proc/$executor_pid/mountinfo")
  for i in $(seq 1 50); do
    mkdir -p "$shared/c$i"
    jq --arg i "$i" '.root.path = "../common/rootfs" | .process.args = ["sh", "-c", "sleep 1; echo container \($i)"]' \
      "$shared/common/config.json" >"$shared/c$i/config.json"
    ctl run "$shared/c$i" --id "many$i" </dev/null >"$work/c$i.out" 2>"$work/c$i.err" &
    pids+=($!)
  done
  for i in $(seq 1 50); do
    wait "${pids[$((i - 1))]}" && [ "$(cat "$work/c$i.out")" = "container $i" ] && okc=$((okc + 1))
  done
  rc=-
  check "50 containers at once: all ran and printed their line ($okc/50)" "$(diag c1; tail -3 "$work/c50.err")" \
    want "$okc" 50

  # After removing everything nothing is left behind (once what goes
  # just after the last answer is gone: settle waits for it, bounded).
  # (kata-pidns holds the sandbox's shared namespaces until DestroySandbox)
  left_procs() {
    local p
    for p in $(descendants "$agent_pid"); do
      [ "$p" = "$executor_pid" ] || [ "$p" = "$frontend_pid" ] || [ "$p" = "$spawner_pid" ] ||
        [ "$(comm_of "$p")" = kata-pidns ] ||
        echo "$p:$(comm_of "$p")"
    done
  }
  state() {
    echo "procs $(left_procs | wc -l) mounts $(wc -l <"/proc/$executor_pid/mountinfo")" \
      "fds $(ls "/proc/$executor_pid/fd" | wc -l) $(ls "/proc/$frontend_pid/fd" | wc -l)"
  }
  settle "procs 0 mounts $mounts_before fds $fds_exec_before $fds_fe_before" state >/dev/null
  local left=()
  mapfile -t left < <(left_procs)
  check "no leftover processes (only parent, executor, its spawner, front-end, the sandbox's namespace holder; no policy, so no policy process)" \
    "${left[*]:-}" want "${#left[@]}" 0
  local m
  m=$(wc -l <"/proc/$executor_pid/mountinfo")
  check "no leftover mounts in the agent's namespace ($mounts_before before, $m after)" \
    "$(grep "$shared" "/proc/$executor_pid/mountinfo")" want "$m" "$mounts_before"
  check "no leftover mounts in the host's namespace" "$(grep "$top" /proc/self/mountinfo)" \
    eval '! grep -q "$top" /proc/self/mountinfo'
  local fe fx
  fx=$(ls "/proc/$executor_pid/fd" | wc -l)
  fe=$(ls "/proc/$frontend_pid/fd" | wc -l)
  check "no leftover fds (executor $fds_exec_before -> $fx, front-end $fds_fe_before -> $fe)" \
    "$(ls -l "/proc/$executor_pid/fd")" eval '[ $fx -eq $fds_exec_before ] && [ $fe -eq $fds_fe_before ]'
  local cgs
  cgs=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -path "*/$cg_name/*" -type d 2>/dev/null)
  check "no leftover cgroups under /$cg_name" "$cgs" want "$cgs" ""
  agent_stop
}

t_many
