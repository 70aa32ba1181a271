#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: supervision. Prints TAP.
#
#   supervision.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# The parent's supervision (agentd/parent/main.c): a front-end that keeps
# dying is restarted after a wait that doubles (more than RESTART_BURST = 5
# deaths within 10 s: 1 s, then 2 s, ...), and at shutdown a child that does
# not act on SIGTERM is SIGKILLed after the grace (STOP_GRACE_NS, 5 s).
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 5
suite_requires

# kill_frontend: SIGKILL the front-end and wait (up to 15 s) for its
# successor's process, not for it to serve, so that deaths come fast even
# on a loaded machine; sets frontend_pid
kill_frontend() {
  local old=$frontend_pid
  kill -KILL "$old"
  for _ in $(seq 1 300); do
    # pgrep, not the harness's /proc walk: fast enough to kill six
    # front-ends within the parent's 10 s window on a loaded machine
    frontend_pid=$(pgrep -P "$agent_pid" -x kata-agent-fron)
    [ -n "$frontend_pid" ] && [ "$frontend_pid" != "$old" ] && return 0
    sleep 0.05
  done
  return 1
}
# kill_until TEXT: kill front-ends one after the other until the parent logs
# TEXT (at most 12 deaths: the parent counts the last five deaths within
# 10 s, a handful of fast ones crosses it); then a front-end must serve
kill_until() {
  local n=0
  while ! grep -q "$1" "$work/agent.log"; do
    [ $n -lt 12 ] || return 1
    kill_frontend || return 1
    n=$((n + 1))
  done
  for _ in $(seq 1 150); do
    frontend_pid=$(child_named "$agent_pid" kata-agent-fron)
    [ -n "$frontend_pid" ] && ctl check >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

t_backoff() {
  agent_start supervision || return 1
  local ex=$executor_pid r1=no r2=no first
  kill_until "next start in" && r1=yes
  # the first back-off waits BACKOFF_MIN, 1 s, after the sixth death
  first=$(grep -o 'front-end died [0-9]* times within 10 s: next start in [0-9]* ms' "$work/agent.log" | head -n 1)
  check "front-end deaths in a burst: once 6 fall within 10 s the restart waits 1000 ms (logged), then a front-end serves" \
    "served again: $r1; first back-off: ${first:-none}; $(tail -n 5 "$work/agent.log")" eval \
    '[ $r1 = yes ] && [ "$first" = "front-end died 6 times within 10 s: next start in 1000 ms" ]'
  kill_until "next start in 2000 ms" && r2=yes
  check "deaths go on: the wait doubles to 2000 ms, then a front-end serves" \
    "served again: $r2; $(grep -o 'next start in [0-9]* ms' "$work/agent.log" | tr '\n' ' ')" eval '[ $r2 = yes ]'
  check "the executor lived through the front-end's deaths (same pid $ex)" \
    "executor now: $(child_named "$agent_pid" kata-agent-exec)" \
    want "$(child_named "$agent_pid" kata-agent-exec)" "$ex"
}

# Both children stopped (SIGSTOP: SIGTERM stays pending, as with a child
# that ignores it): the parent's SIGTERM does nothing, its kill timer
# SIGKILLs both after the grace, and the parent exits.
t_escalation() {
  local fe=$frontend_pid ex=$executor_pid tree
  tree=$(descendants "$agent_pid")
  kill -STOP "$fe" "$ex"
  kill -TERM "$agent_pid"
  local i
  for i in $(seq 1 150); do
    [ -e "/proc/$agent_pid" ] || break
    [ "$(sed 's/.*) //' "/proc/$agent_pid/stat" 2>/dev/null | cut -c1)" = Z ] && break
    sleep 0.1
  done
  check "shutdown with a front-end and an executor stopped: both SIGKILLed after the grace (logged)" \
    "$(tail -n 8 "$work/agent.log")" eval \
    'grep -q "front-end (pid $fe) still alive after SIGTERM: SIGKILL" "$work/agent.log" &&
     grep -q "executor (pid $ex) still alive after SIGTERM: SIGKILL" "$work/agent.log"'
  local left=
  for p in $agent_pid $tree; do
    [ -e "/proc/$p" ] && [ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)" != Z ] && left="$left $p"
  done
  check "... the parent exits and none of its processes is left" "still there:$left" want "$left" ""
}

if t_backoff; then
  t_escalation
fi
agent_stop
