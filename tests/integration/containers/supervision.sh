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

# kill_frontend: SIGKILL the serving front-end and wait for its successor
# to serve (up to 10 s); sets frontend_pid
kill_frontend() {
  local old=$frontend_pid
  kill -KILL "$old"
  for _ in $(seq 1 100); do
    frontend_pid=$(child_named "$agent_pid" kata-agent-fron)
    [ -n "$frontend_pid" ] && [ "$frontend_pid" != "$old" ] && ctl check >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
# log_has_after N TEXT: TEXT in the agent log after its first N lines
log_has_after() { tail -n +"$(($1 + 1))" "$work/agent.log" | grep -q "$2"; }

t_backoff() {
  agent_start supervision || return 1
  local i ok=0 ex=$executor_pid lines
  # five deaths: each restarted at once
  for i in 1 2 3 4 5; do
    kill_frontend && ok=$((ok + 1))
  done
  lines=$(wc -l <"$work/agent.log")
  local sixth=no seventh=no
  kill_frontend && sixth=yes
  check "6 front-end deaths within 10 s: the 6th restart waits 1000 ms (logged), then a front-end serves" \
    "first five restarted: $ok/5; sixth: $sixth; $(tail -n 5 "$work/agent.log")" eval \
    '[ $ok = 5 ] && [ $sixth = yes ] &&
     log_has_after "$lines" "front-end died 6 times within 10 s: next start in 1000 ms"'
  lines=$(wc -l <"$work/agent.log")
  kill_frontend && seventh=yes
  check "a 7th death at once: the wait doubles to 2000 ms, then a front-end serves" \
    "seventh: $seventh; $(tail -n 5 "$work/agent.log")" eval \
    '[ $seventh = yes ] && log_has_after "$lines" "front-end died 6 times within 10 s: next start in 2000 ms"'
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
