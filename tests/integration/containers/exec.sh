#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: exec. Prints TAP.
#
#   exec.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 6
suite_requires

t_exec() {
  agent_start exec || return
  local run_pid
  if ! run_sleeper sleeper; then
    rc=-
    tap FAIL "exec: a long-running container starts" "$(diag sleeper)"
    agent_stop
    return
  fi
  ctl exec sleeper -- sh -c 'hostname; cat /proc/1/cmdline | tr "\0" " "; exit 5' \
    </dev/null >"$work/exec.out" 2>"$work/exec.err"
  rc=$?
  check "exec into a running container: output and exit status 5" "$(diag exec)" eval \
    '[ $rc -eq 5 ] && grep -qx busybox "$work/exec.out" && grep -q "sleep 1000" "$work/exec.out"'

  # A tty exec: the size set with TtyWinResize while it runs is what it sees.
  # stty runs only after the resize was answered: it waits for the line
  # written then (a sleep would race a slow ExecProcess + TtyWinResize).
  local proc='{"Terminal": true, "Args": ["sh", "-c", "read x; stty size"],
    "Env": ["PATH=/bin"], "Cwd": "/", "User": {}}'
  ctl call AgentService/ExecProcess \
    "{\"containerId\": \"sleeper\", \"execId\": \"tty1\", \"process\": $proc}" >"$work/tty.err" 2>&1
  ctl call AgentService/TtyWinResize \
    '{"containerId": "sleeper", "execId": "tty1", "row": 44, "column": 120}' >>"$work/tty.err" 2>&1
  ctl call AgentService/WriteStdin \
    "{\"containerId\": \"sleeper\", \"execId\": \"tty1\", \"data\": \"$(printf 'go\n' | base64)\"}" \
    >>"$work/tty.err" 2>&1
  : >"$work/tty.out"
  for _ in $(seq 1 50); do
    local d
    d=$(ctl call AgentService/ReadStdout '{"containerId": "sleeper", "execId": "tty1", "len": 4096}' \
      2>>"$work/tty.err" | jq -r '.data // empty') || break
    [ -n "$d" ] || break
    printf '%s' "$d" | base64 -d >>"$work/tty.out"
  done
  ctl call AgentService/WaitProcess '{"containerId": "sleeper", "execId": "tty1"}' \
    >"$work/ttywait.out" 2>>"$work/tty.err"
  rc=$?
  check "tty exec: TtyWinResize 44x120 is seen by stty size" "$(diag tty)" eval \
    'tr -d "\r" <"$work/tty.out" | grep -qx "44 120"'

  # ctl exec --tty from a terminal: the local size is the container's.
  # script(1) turns EOF on its own stdin into a ^D typed at the terminal,
  # and waits for that EOF after the command: keep its stdin open (and
  # empty) until the command has ended (the done file), up to 30 s.
  local done_f="$work/tty2.done"
  timeout -k 5 60 script -qec "stty rows 33 cols 99; $(printf '%q ' "$ctl_bin") --addr $addr exec --tty sleeper -- stty size; touch $(printf '%q' "$done_f")" \
    /dev/null < <(for _ in $(seq 1 300); do [ -e "$done_f" ] && break; sleep 0.1; done) \
    >"$work/tty2.out" 2>"$work/tty2.err"
  rc=$?
  check "ctl exec --tty: the terminal's size reaches the process" "$(diag tty2)" eval \
    'tr -d "\r" <"$work/tty2.out" | grep -qx "33 99"'

  # Execs racing the init's exit: each ExecProcess has a launcher worker of
  # its own (agentd/executor/launcher.c), cloned while the init dies. Every
  # call must end (launched, or refused because the init is gone), and the
  # container must still be removable with nothing of it left.
  local i before
  # executor, spawner, the sleeper's launcher: what must be left afterwards
  # (the agent runs in a session of its own; containers make their own;
  # workers run the executor's binary, launchers kata-agent-launcher).
  before=$(ps -o comm= -s "$agent_pid" | grep -cE '^kata-agent-(exec|laun)$')
  local sleeper_pid=$run_pid racer_pid
  run_sleeper racer
  racer_pid=$run_pid
  run_pid=$sleeper_pid
  # the execs through workers: once L, idle, is kata-agent-launcher
  local rmon rl
  rmon=$(for p in $(cat /proc/"$executor_pid"/task/*/children); do
    grep -qs -- 'racer' /proc/"$p"/cmdline && echo "$p"; done | head -n 1)
  for _ in $(seq 1 50); do
    rl=$(child_named "$rmon" kata-agent-laun) && break
    sleep 0.1
  done
  local t0=$SECONDS
  for i in $(seq 1 12); do
    CTL_TIMEOUT=60 ctl exec racer -- sleep 0.2 </dev/null >/dev/null 2>>"$work/race.err" &
    echo $! >>"$work/race.pids"
    [ "$i" = 6 ] && ctl call AgentService/SignalProcess '{"containerId": "racer", "signal": 9}' \
      >>"$work/race.err" 2>&1
  done
  # An exec that started and was then killed with the init's pid namespace
  # ends 128+9 = 137, as timeout(1) does when it has to SIGKILL a hung
  # call (after 60 + 10 s): a 137 counts as hung only if that long passed.
  local hung=0 p st
  for p in $(cat "$work/race.pids"); do
    wait "$p"
    st=$?
    [ "$st" = 124 ] && hung=$((hung + 1))
  done
  [ $((SECONDS - t0)) -ge 60 ] && hung=$((hung + 1))
  wait "$racer_pid"
  check "12 ExecProcess (each by a launcher worker) racing the init's SIGKILL all end, none hangs" \
    "$(cat "$work/race.err"); launcher ${rl:-not kata-agent-launcher}" eval '[ -n "$rl" ] && [ "$hung" = 0 ]'
  # ctl run removed the container once its init was gone.
  ctl call AgentService/RemoveContainer '{"containerId": "racer"}' >"$work/race-rm.err" 2>&1
  local left
  left=$(ps -o comm= -s "$agent_pid" | grep -cE '^kata-agent-(exec|laun)$')
  check "then the container is gone (NOT_FOUND) with its monitor, launcher and every worker" \
    "$(cat "$work/race-rm.err"); launcher-like processes before $before, after $left" eval \
    'grep -q NOT_FOUND "$work/race-rm.err" && [ "$left" = "$before" ] && ! pgrep -s "$agent_pid" -f -- "--container-id racer"'

  ctl call AgentService/SignalProcess '{"containerId": "sleeper", "signal": 9}' >"$work/kill.err" 2>&1
  wait "$run_pid"
  rc=$?
  check "SignalProcess SIGKILL: run exits 128+9" "$(diag sleeper; cat "$work/kill.err")" want "$rc" 137
  agent_stop
}

t_exec
