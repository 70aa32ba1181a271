#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: restart. Prints TAP.
#
#   restart.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 3
suite_requires

t_restart() {
  agent_start restart || return
  local b p
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
  # The host starts reading only once the front-end is dead; the kill
  # comes once the container writes (its head runs) and 0.5 s more, so
  # that a slow create is never what the kill interrupts (a loaded
  # machine took over 1 s to create it).
  { ctl run "$b" --id stream2 </dev/null 2>"$work/stream2.err"; echo $? >"$work/stream2.rc"; } |
    { for _ in $(seq 1 600); do [ -e "$work/stream2.killed" ] && break; sleep 0.1; done
      cat >"$work/stream2.out"; } &
  local run_pid=$!
  for _ in $(seq 1 300); do
    for p in $(descendants "$agent_pid"); do
      grep -qsa "67108864" "/proc/$p/cmdline" && break 2
    done
    sleep 0.1
  done
  sleep 0.5
  local fe_old=$frontend_pid
  kill -KILL "$fe_old" 2>/dev/null
  touch "$work/stream2.killed"
  wait "$run_pid"
  rc=$(cat "$work/stream2.rc" 2>/dev/null || echo 99)
  check "front-end SIGKILLed while output streams: every byte arrives (checksum) and Wait answers" \
    "$(diag stream2)" eval '[ $rc -eq 0 ] && [ "$(sha256sum <"$work/stream2.out" | cut -d" " -f1)" = "$(awk "{print \$1}" "$work/stream2.err" | grep -v kata-agent-ctl | tail -1)" ]'
  local fe_new
  fe_new=$(child_named "$agent_pid" kata-agent-fron)
  check "a new front-end serves after the kill" "$(tail "$work/agent.log")" \
    eval '[ -n "$fe_new" ] && [ "$fe_new" != "$fe_old" ] && ctl check >/dev/null'
  t_restart_reading "$b"
  agent_stop
}

# The same while the host reads as fast as it can: the front-end then
# holds a window of read-ahead output nobody has yet (monitors.c), which
# dies with it unacknowledged. The output must be the input with nothing
# missing; at most one stretch may come twice (a reply already in the
# socket whose ACK had not gone: doc/ipc.md), never a gap.
t_restart_reading() {
  local b=$1 fe_old
  rm -f "$work/stream3.out"
  replay_check
  b=$(bundle stream3 sh -c 'head -c 33554432 /dev/urandom > /tmp/in && cat /tmp/in /tmp/in /tmp/in /tmp/in && sha256sum /tmp/in >&2')
  { ctl run "$b" --id stream3 </dev/null >"$work/stream3.out" 2>"$work/stream3.err"; echo $? >"$work/stream3.rc"; } &
  local run_pid=$!
  for _ in $(seq 1 100); do [ "$(stat -c %s "$work/stream3.out" 2>/dev/null || echo 0)" -gt 8388608 ] && break; sleep 0.05; done
  fe_old=$(child_named "$agent_pid" kata-agent-fron)
  kill -KILL "$fe_old" 2>/dev/null
  wait "$run_pid"
  local rc
  rc=$(cat "$work/stream3.rc" 2>/dev/null || echo 99)
  check "front-end SIGKILLed while the host reads (read-ahead held): no byte missing, at most one stretch twice" \
    "$(cat "$work/stream3.err"; tail -n 5 "$work/agent.log"; python3 "$work/replay.py" "$work/stream3.out" "$work/stream3.err" 2>&1 | tail -3)" \
    eval '[ $rc -eq 0 ] && [ -n "$fe_old" ] && python3 "$work/replay.py" "$work/stream3.out" "$work/stream3.err"'
}

replay_check() { # writes $work/replay.py: OUT ERR -> 0 if OUT is 4 x the input, one stretch at most replayed
  cat >"$work/replay.py" <<'EOF2'
import hashlib, sys
out = open(sys.argv[1], "rb").read()
want = [l.split()[0] for l in open(sys.argv[2]) if "/tmp/in" in l][-1]
size = 33554432
extra = len(out) - 4 * size
# the input is the first copy, or the last if the replay fell in the first
inp = next((c for c in (out[:size], out[-size:]) if hashlib.sha256(c).hexdigest() == want), None)
ok = False
if inp is not None and extra >= 0:
    data = inp * 4
    lo, hi = 0, len(data)  # the longest p with out[:p] == data[:p]
    while lo < hi:
        m = (lo + hi + 1) // 2
        if out[:m] == data[:m]:
            lo = m
        else:
            hi = m - 1
    ok = lo >= extra and out[lo:] == data[lo - extra:]
print("bytes %d, expected %d, replayed %d: %s" % (len(out), 4 * size, extra, "ok" if ok else "MISMATCH"), file=sys.stderr)
sys.exit(0 if ok else 1)
EOF2
}

t_restart
