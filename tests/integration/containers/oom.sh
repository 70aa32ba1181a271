#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: oom. Prints TAP.
#
#   oom.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 8
suite_requires

# GetOOMEvent: the executor's OOM watches (v1 eventfd here) and its event
# queue, the front-end's long poll, deadlines, a front-end restart, shutdown.
t_oom() {
  if [ ! -f /sys/fs/cgroup/memory/memory.oom_control ]; then
    skip_rest "needs the cgroup v1 memory controller"
    return
  fi
  # Without swap accounting (memory.memsw.*) a memory limit cannot keep a
  # container from spilling into swap, so no OOM kill is certain; with no
  # swap at all the memory limit alone is enough.
  local swap_limit=', swap: 33554432'
  if [ ! -f /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then
    if [ "$(wc -l </proc/swaps)" -gt 1 ]; then
      skip_rest "no swap accounting (memory.memsw) while swap is on: no OOM kill can be forced"
      return
    fi
    swap_limit=
  fi
  agent_start oom || return
  local out="$work/oom.out" b
  # 32 MiB for memory and for memory+swap, so swap cannot absorb it; tail
  # keeps the whole newline-free stream in memory and is OOM-killed. It is
  # the container's only process, so the kernel kills exactly once (with a
  # shell beside it, a loaded host sometimes kills the shell too: two real
  # OOM kills, two events).
  oom_bundle() { # oom_bundle NAME
    local d
    d=$(bundle "$1" tail /dev/zero) || return 1
    jqset "$d" "del(.linux.cgroupsPath) |
      .linux.resources = {memory: {limit: 33554432$swap_limit}}" || return 1
    echo "$d"
  }
  oom_run() { # oom_run NAME: runs it to its end (ctl run removes it)
    local d
    d=$(oom_bundle "$1") && run_ "$1" "$d" --id "$1"
  }
  ev_id() { jq -r '.containerId // empty' "$1" 2>/dev/null; }

  # A call waiting before the OOM gets it.
  ctl --timeout 60 call AgentService/GetOOMEvent '{}' >"$work/ev1.out" 2>&1 &
  local ev_pid=$!
  wait_read_by_frontend GetOOMEvent
  oom_run oom1
  check "a container over its 32 MiB limit is OOM-killed (status 137, oom_kill counted)" \
    "$(diag oom1; grep -h 'oom1' "$work/agent.log" | grep -i oom | tail -n 8)" eval '[ $rc -eq 137 ] && grep -q "container oom1: oom_kill 0 -> 1" "$work/agent.log"'
  wait "$ev_pid"
  rc=$?
  check "GetOOMEvent waiting before the OOM returns that container's id" \
    "$(cat "$work/ev1.out"; tail -n 5 "$work/agent.log")" eval '[ $rc -eq 0 ] && [ "$(ev_id "$work/ev1.out")" = oom1 ]'

  # The kill seen by the watch itself while the container keeps running:
  # its child tail raises its oom_score_adj to 1000, so it is the victim
  # and the shell survives.
  b=$(bundle oomlive sh -c 'sh -c "echo 1000 >/proc/self/oom_score_adj; exec tail /dev/zero";
    echo "tail status $?"; exec sleep 1000')
  jqset "$b" "del(.linux.cgroupsPath) |
    .linux.resources = {memory: {limit: 33554432$swap_limit}}"
  ctl --timeout 60 call AgentService/GetOOMEvent '{}' >"$work/evlive.out" 2>&1 &
  ev_pid=$!
  wait_read_by_frontend GetOOMEvent
  ctl run "$b" --id oomlive </dev/null >"$work/oomlive.out" 2>"$work/oomlive.err" &
  local live_pid=$!
  wait "$ev_pid"
  rc=$?
  check "an OOM kill in a running container is reported by its watch (not at removal)" \
    "$(cat "$work/evlive.out"; grep -h oomlive "$work/agent.log" | tail -n 8)" \
    eval '[ $rc -eq 0 ] && [ "$(ev_id "$work/evlive.out")" = oomlive ] &&
      wait_for_file_text "$work/oomlive.out" "tail status 137" 50 &&
      grep -q "container oomlive: oom_kill 0 -> 1\"" "$work/agent.log"'
  ctl call AgentService/RemoveContainer '{"containerId": "oomlive", "timeout": 10}' >/dev/null 2>&1
  kill "$live_pid" 2>/dev/null
  wait "$live_pid" 2>/dev/null

  # Removing containers with a watch (oom1 and oomlive, a quiet one here)
  # queues nothing: exactly one event each for oom1 and oomlive.
  b=$(bundle quiet true)
  run_ quiet "$b" --id quiet
  ctl --timeout 2 call AgentService/GetOOMEvent '{}' >"$out" 2>&1
  rc=$?
  check "exactly one event per OOM, none for removed containers: next call DEADLINE_EXCEEDED" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q DEADLINE_EXCEEDED "$out"'

  # Two OOMs before anyone asks (the timed-out call above left its poll
  # outstanding: its event must not be lost).
  oom_run oom2
  oom_run oom3
  ctl --timeout 20 call AgentService/GetOOMEvent '{}' >"$work/ev2.out" 2>&1 &
  local p2=$!
  ctl --timeout 20 call AgentService/GetOOMEvent '{}' >"$work/ev3.out" 2>&1 &
  local p3=$!
  wait "$p2"
  local rc2=$?
  wait "$p3"
  rc=$?
  local got
  got=$(printf '%s\n' "$(ev_id "$work/ev2.out")" "$(ev_id "$work/ev3.out")" | sort | tr '\n' ' ')
  check "two OOMs before any call: two concurrent calls get both, different ids" \
    "$(cat "$work/ev2.out" "$work/ev3.out")" eval '[ $rc2 -eq 0 ] && [ $rc -eq 0 ] && [ "$got" = "oom2 oom3 " ]'
  ctl --timeout 1 call AgentService/GetOOMEvent '{}' >"$out" 2>&1
  rc=$?
  check "both events consumed: a third call DEADLINE_EXCEEDED" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q DEADLINE_EXCEEDED "$out"'

  # The queue lives in the executor: an event the front-end received but
  # handed to no call survives a front-end restart.
  oom_run oom4
  sleep 0.3
  local fe_old=$frontend_pid
  kill -KILL "$fe_old" 2>/dev/null
  for _ in $(seq 1 100); do
    frontend_pid=$(child_named "$agent_pid" kata-agent-fron)
    [ -n "$frontend_pid" ] && [ "$frontend_pid" != "$fe_old" ] && ctl check >/dev/null 2>&1 && break
    sleep 0.1
  done
  ctl --timeout 10 call AgentService/GetOOMEvent '{}' >"$out" 2>&1
  rc=$?
  check "an event pending when the front-end is SIGKILLed is delivered by the new one" \
    "$(cat "$out"; tail -n 5 "$work/agent.log")" eval '[ $rc -eq 0 ] && [ "$(ev_id "$out")" = oom4 ]'

  # Stopping the agent answers a waiting call at once: stopped once the
  # front-end has read the call (after a fixed 0.5 s, a slower call met an
  # agent already gone: "cannot connect").
  ctl call AgentService/GetOOMEvent '{}' >"$work/evstop.out" 2>&1 &
  ev_pid=$!
  wait_read_by_frontend GetOOMEvent
  local t0=$SECONDS
  kill -TERM "$agent_pid"
  local waited=0
  for _ in $(seq 1 100); do
    [ -e "/proc/$ev_pid" ] || break
    sleep 0.1
  done
  [ -e "/proc/$ev_pid" ] && waited=1
  wait "$ev_pid"
  rc=$?
  local took=$((SECONDS - t0))
  check "a GetOOMEvent waiting while the agent stops fails UNAVAILABLE within seconds" \
    "took ${took}s, still waiting: $waited; $(cat "$work/evstop.out")" \
    eval '[ $waited -eq 0 ] && [ $rc -ne 0 ] && grep -q UNAVAILABLE "$work/evstop.out" && grep -q "shutting down" "$work/evstop.out"'
  agent_stop
}

t_oom
