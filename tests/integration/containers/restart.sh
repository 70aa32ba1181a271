#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: restart. Prints TAP.
#
#   restart.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 2
suite_requires

t_restart() {
  agent_start restart || return
  local b
  # 64 MiB of random data with its checksum; the front-end is killed
  # while replies wait in its output queue (the host has stopped reading:
  # ctl's stdout is a pipe nobody reads for 2 s) and restarted by the
  # parent. Output is acknowledged to the monitor only once it is in the
  # host's socket, so what was queued comes again through the new
  # front-end: every byte, once. (Killed while actively writing, a reply
  # could be in the socket just before its ACK: then it would come twice,
  # never be lost; doc/ipc.md.)
  b=$(bundle stream sh -c 'mkfifo /tmp/f && { sha256sum < /tmp/f >&2 & } &&
    head -c 67108864 /dev/urandom | tee /tmp/f; wait')
  { ctl run "$b" --id stream2 </dev/null 2>"$work/stream2.err"; echo $? >"$work/stream2.rc"; } |
    { sleep 2; cat >"$work/stream2.out"; } &
  local run_pid=$!
  sleep 1
  local fe_old=$frontend_pid
  kill -KILL "$fe_old" 2>/dev/null
  wait "$run_pid"
  rc=$(cat "$work/stream2.rc" 2>/dev/null || echo 99)
  check "front-end SIGKILLed while output streams: every byte arrives (checksum) and Wait answers" \
    "$(diag stream2)" eval '[ $rc -eq 0 ] && [ "$(sha256sum <"$work/stream2.out" | cut -d" " -f1)" = "$(awk "{print \$1}" "$work/stream2.err" | grep -v kata-agent-ctl | tail -1)" ]'
  local fe_new
  fe_new=$(child_named "$agent_pid" kata-agent-fron)
  check "a new front-end serves after the kill" "$(tail "$work/agent.log")" \
    eval '[ -n "$fe_new" ] && [ "$fe_new" != "$fe_old" ] && ctl check >/dev/null'
  agent_stop
}

t_restart
