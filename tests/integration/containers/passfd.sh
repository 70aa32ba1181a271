#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fd-passthrough stdio (agent.passfd_listener_port) end to end through the
# real agent. The host's side is tests/integration/passfd_peer.c, shaped as
# runtime-rs opens its streams (PassfdIo::open_and_passfd: one connection
# per stdio before the request, named in it by its port); the requests are
# shaped as runtime-rs sends them (Container::create: exec_id "", the three
# ports; start: StartContainer then WaitProcess at once, passfd_io_wait).
# Stand-alone the listener is a unix socket (kata-agent --passfd-addr);
# over vsock only where the host has vsock loopback. The default mode is
# upstream's (the process keeps pipes, the monitor splices them into the
# streams); t_direct and t_policy run with agent.passfd_direct (ours: the
# streams ARE the process's stdout/stderr). Prints TAP.
#
#   passfd.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE   (KATA_PASSFD_PEER in the environment)
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 22
suite_requires
peer=${KATA_PASSFD_PEER:-}
[ -x "$peer" ] || { fail_rest "KATA_PASSFD_PEER is not the passfd-peer binary"; exit 0; }

pfaddr="unix://$top/passfd.sock"
agent_passfd=$pfaddr

# pf_json ID BUNDLE IN OUT ERR: the CreateContainerRequest runtime-rs sends.
pf_json() {
  ctl run "$2" --dry-run >"$work/$1.dry" 2>"$work/$1.err" || return 1
  jq --arg id "$1" --argjson i "$3" --argjson o "$4" --argjson e "$5" \
    '.containerId = $id | .execId = "" | .stdinPort = $i | .stdoutPort = $o | .stderrPort = $e' \
    "$work/$1.dry" >"$work/$1.json"
}
pf_create() { pf_json "$@" && ctl call AgentService/CreateContainer - <"$work/$1.json" >>"$work/$1.err" 2>&1; }
pf_start() {
  ctl call AgentService/StartContainer "{\"containerId\":\"$1\"}" >>"$work/$1.err" 2>&1
}
pf_wait() { # status in $work/ID.status
  ctl call AgentService/WaitProcess "{\"containerId\":\"$1\",\"execId\":\"${2:-}\"}" \
    >"$work/$1${2:+.$2}.wait" 2>>"$work/$1.err" &&
    jq -r '.status // 0' "$work/$1${2:+.$2}.wait" >"$work/$1${2:+.$2}.status"
}
pf_remove() { ctl call AgentService/RemoveContainer "{\"containerId\":\"$1\"}" >/dev/null 2>&1; }
# peer_start NAME ARGS...: the host's streams in the background ($peer_pid);
# returns once every stream is connected.
peer_start() {
  local n=$1
  shift
  rm -f "$work/$n.ready"
  "$peer" "$pfaddr" --ready "$work/$n.ready" "$@" 2>"$work/$n.peer" &
  peer_pid=$!
  for _ in $(seq 1 100); do
    [ -e "$work/$n.ready" ] && return 0
    kill -0 "$peer_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
pdiag() { { diag "$1"; echo "-- peer"; cat "$work/$1.peer"; echo "-- wait status"; cat "$work/$1"*.status; } 2>/dev/null; }
sha() { sha256sum <"$1" | cut -d' ' -f1; }
fe_fds() { ls "/proc/$(child_named "$agent_pid" kata-agent-fron)/fd" 2>/dev/null | wc -l; }

# host_closes ID PORT WHAT: `yes` writes into the stream of PORT, whose
# host side reads for a second and closes it: the writer dies of SIGPIPE
# (WaitProcess 141), nothing hangs, the executor and front-end are left with
# no more fds than before.
host_closes() {
  local id=$1 port=$2 what=$3 x_fds fe_fds0 b
  x_fds=$(ls "/proc/$executor_pid/fd" | wc -l)
  fe_fds0=$(fe_fds)
  b=$(bundle "$id" sh -c 'yes; exit $?')
  peer_start "$id" --out "$port" /dev/null -t 1 && pf_create "$id" "$b" 0 "$port" 0 && pf_start "$id"
  wait "$peer_pid"
  pf_wait "$id"
  rc=$?
  pf_remove "$id"
  check "$what: the writer dies of SIGPIPE (WaitProcess 141), the agent serves on, the executor and front-end hold no more fds than before (executor $x_fds -> $(ls "/proc/$executor_pid/fd" | wc -l), front-end $fe_fds0 -> $(fe_fds))" \
    "$(pdiag "$id")" eval '[ $rc -eq 0 ] && [ "$(cat "$work/$id.status")" = 141 ] && ctl check >/dev/null &&
      [ "$(ls "/proc/$executor_pid/fd" | wc -l)" -le "$x_fds" ] && [ "$(fe_fds)" -le "$fe_fds0" ]'
}

t_streams() {
  agent_start passfd || return
  local b
  # stdout and stderr: 64 MiB of random bytes, their checksum from inside
  b=$(bundle big sh -c 'mkfifo /tmp/f && { sha256sum < /tmp/f >&2 & } &&
    head -c 67108864 /dev/urandom | tee /tmp/f; wait')
  peer_start big --out 5001 "$work/big.out" --err 5002 "$work/big.serr" &&
    pf_create big "$b" 0 5001 5002 && pf_start big && pf_wait big && wait "$peer_pid"
  rc=$?
  check "CreateContainer with stdout/stderr ports: 64 MiB arrive intact on the host's stream (checksum), WaitProcess 0" \
    "$(pdiag big)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/big.status")" = 0 ] &&
      [ "$(sha "$work/big.out")" = "$(cut -d" " -f1 "$work/big.serr")" ] &&
      [ "$(stat -c %s "$work/big.out")" = 67108864 ]'
  ctl call AgentService/ReadStdout '{"containerId":"big","execId":"","len":1024}' >"$work/big.read" 2>&1
  rc=$?
  check "ReadStdout of a stream that went to the host answers at once with no data (EOF)" \
    "$(cat "$work/big.read")" eval '[ $rc -eq 0 ] && [ -z "$(jq -r ".data // empty" "$work/big.read")" ]'
  pf_remove big

  # the nginx case (error_log /dev/stderr, access.log a link to
  # /dev/stdout): a program that opens /dev/stdout, /dev/stderr or a link
  # to them writes into the host's streams, since they are pipes
  b=$(bundle devout sh -c 'ln -s /dev/stdout /tmp/access.log && echo via-link >/tmp/access.log &&
    echo via-dev-stdout >/dev/stdout && echo via-dev-stderr >/dev/stderr && echo via-proc >/proc/self/fd/1')
  peer_start devout --out 5081 "$work/devout.out" --err 5082 "$work/devout.serr" &&
    pf_create devout "$b" 0 5081 5082 && pf_start devout && pf_wait devout && wait "$peer_pid"
  rc=$?
  check "default mode: a process that opens /dev/stdout, /dev/stderr, /proc/self/fd/1 or a link to /dev/stdout writes into the host's streams (pipes, upstream's semantics), WaitProcess 0" \
    "$(pdiag devout; cat "$work/devout.out" "$work/devout.serr"; grep -a "process init added" "$work/agent.log" | tail -n 2)" \
    eval '[ $rc -eq 0 ] && [ "$(cat "$work/devout.status")" = 0 ] &&
      [ "$(cat "$work/devout.out")" = "$(printf "via-link\nvia-dev-stdout\nvia-proc")" ] &&
      [ "$(cat "$work/devout.serr")" = via-dev-stderr ] &&
      grep -q "process init added: pid [0-9]*, pipes\"" "$work/agent.log" && ! grep -q "on host streams" "$work/agent.log"'
  pf_remove devout

  # stdin: 4 MiB through cat, both ways on host streams
  head -c 4194304 /dev/urandom >"$work/in.bin"
  b=$(bundle cat cat)
  peer_start cat --in 5003 "$work/in.bin" --out 5004 "$work/cat.out" --err 5005 "$work/cat.serr" &&
    pf_create cat "$b" 5003 5004 5005 && pf_start cat && pf_wait cat && wait "$peer_pid"
  rc=$?
  check "stdin port: 4 MiB sent on the host's stream reach cat and come back intact, its end is stdin's EOF" \
    "$(pdiag cat)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/cat.status")" = 0 ] && cmp -s "$work/in.bin" "$work/cat.out"'
  pf_remove cat

  # ExecProcess with ports (runtime-rs Container::start, ProcessType::Exec)
  b=$(bundle sleeper sleep 1000)
  pf_create sleeper "$b" 0 0 0 && pf_start sleeper
  local x
  x=$(jq -c '{containerId: "sleeper", execId: "x1", process: (.OCI.Process | .Args = ["sh", "-c", "read l; echo out-$l; echo err-$l >&2; exit 7"]),
      stdinPort: 5006, stdoutPort: 5007, stderrPort: 5008}' "$work/sleeper.json")
  printf 'hello\n' >"$work/x1.in"
  peer_start x1 --in 5006 "$work/x1.in" --out 5007 "$work/x1.out" --err 5008 "$work/x1.serr" &&
    ctl call AgentService/ExecProcess "$x" >"$work/x1.err" 2>&1 && pf_wait sleeper x1 && wait "$peer_pid"
  rc=$?
  check "ExecProcess with ports: stdin, stdout and stderr on the host's streams, WaitProcess 7" \
    "$(pdiag x1)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/sleeper.x1.status")" = 7 ] &&
      [ "$(cat "$work/x1.out")" = out-hello ] && [ "$(cat "$work/x1.serr")" = err-hello ]'

  # a terminal exec (runtime-rs: no stderr port with a terminal): its
  # output is the pty's, relayed by the monitor from the master into the stream
  x=$(jq -c '{containerId: "sleeper", execId: "t1", process: (.OCI.Process | .Terminal = true |
      .Args = ["sh", "-c", "[ -t 1 ] && echo is-a-tty; exit 3"]), stdoutPort: 5009}' "$work/sleeper.json")
  peer_start t1 --out 5009 "$work/t1.out" &&
    ctl call AgentService/ExecProcess "$x" >"$work/t1.err" 2>&1 && pf_wait sleeper t1 && wait "$peer_pid"
  rc=$?
  check "ExecProcess with a terminal and a stdout port: the pty's output relayed into the host's stream, WaitProcess 3" \
    "$(pdiag t1; cat "$work/t1.out")" eval '[ $rc -eq 0 ] && [ "$(cat "$work/sleeper.t1.status")" = 3 ] &&
      grep -q is-a-tty "$work/t1.out"'

  # a port nobody connected from: that stdio stays on its pipe (upstream)
  b=$(bundle nostream echo on-the-pipe)
  pf_create nostream "$b" 0 5999 0 && pf_start nostream &&
    ctl call AgentService/ReadStdout '{"containerId":"nostream","execId":"","len":1024}' >"$work/nostream.read" 2>&1
  rc=$?
  check "a port with no stream behind it: the output stays on the pipe, ReadStdout reads it" \
    "$(diag nostream; cat "$work/nostream.read")" eval '[ $rc -eq 0 ] &&
      [ "$(jq -r .data "$work/nostream.read" | base64 -d)" = on-the-pipe ]'
  pf_remove nostream

  # a stream the host connects after it sent the request naming it
  # (upstream's take_stream retries for 300 ms): the peer connects only once
  # the front-end logged that the request waits for it
  b=$(bundle late echo late-out)
  "$peer" "$pfaddr" --connect-after "$work/late.go" --out 5061 "$work/late.out" -t 30 2>"$work/late.peer" &
  local late_peer=$! cc
  pf_create late "$b" 0 5061 0 &
  cc=$!
  # told as soon as the line is written (tail -f follows by inotify; a
  # grep-and-sleep loop spent part of the 300 ms on a loaded machine)
  grep -q -m1 'late waits up to 300 ms for its passfd streams' \
    < <(timeout 30 tail -n +1 -f "$work/agent.log")
  touch "$work/late.go"
  wait "$cc" && pf_start late && pf_wait late && wait "$late_peer"
  rc=$?
  check "a stream connected after the request that names it (within upstream's 300 ms) still gets the output" \
    "$(pdiag late; grep -a late "$work/agent.log" | tail -n 5)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/late.out")" = late-out ] &&
      grep -q "late waits up to 300 ms" "$work/agent.log"'
  pf_remove late
  agent_stop
}

t_restart() {
  agent_start restart || return
  local b fe_old fe_new
  # the host reads 1 MiB, then stops: 31 MiB wait in the pipe and the
  # socket while the front-end is killed; the monitor holds the stream
  b=$(bundle stream sh -c 'mkfifo /tmp/f && { sha256sum < /tmp/f >&2 & } &&
    head -c 33554432 /dev/urandom | tee /tmp/f; wait')
  peer_start stream --out 5011 "$work/stream.out" --err 5012 "$work/stream.serr" \
    --pause-after 1048576 --hold "$work/stream.go" && pf_create stream "$b" 0 5011 5012 && pf_start stream
  rc=$?
  for _ in $(seq 1 300); do [ -e "$work/stream.go.paused" ] && break; sleep 0.1; done
  [ -e "$work/stream.go.paused" ] || rc=1
  fe_old=$(child_named "$agent_pid" kata-agent-fron)
  kill -KILL "$fe_old" 2>/dev/null
  for _ in $(seq 1 100); do
    fe_new=$(child_named "$agent_pid" kata-agent-fron)
    [ -n "$fe_new" ] && [ "$fe_new" != "$fe_old" ] && ctl check >/dev/null 2>&1 && break
    sleep 0.1
  done
  touch "$work/stream.go"
  [ $rc -eq 0 ] && pf_wait stream && wait "$peer_pid"
  rc=$?
  check "default mode (pipes, monitor splice): front-end SIGKILLed mid-stream (1 of 32 MiB read): every byte arrives (checksum), WaitProcess through the new front-end" \
    "$(pdiag stream)" eval '[ $rc -eq 0 ] && [ "$fe_new" != "$fe_old" ] && [ "$(cat "$work/stream.status")" = 0 ] &&
      [ "$(sha "$work/stream.out")" = "$(cut -d" " -f1 "$work/stream.serr")" ]'
  agent_stop
}

t_attacks() {
  agent_start attacks || return
  local b
  # a request naming a port another container's process already took
  b=$(bundle owner sh -c 'echo owner-out; sleep 1000')
  peer_start owner --out 5021 "$work/owner.out" && pf_create owner "$b" 0 5021 0 && pf_start owner &&
    wait_for_file_text "$work/owner.out" owner-out 100
  local owner_peer=$peer_pid
  b=$(bundle thief echo thief-out)
  pf_create thief "$b" 0 5021 0 && pf_start thief && pf_wait thief &&
    ctl call AgentService/ReadStdout '{"containerId":"thief","execId":"","len":1024}' >"$work/thief.read" 2>&1
  rc=$?
  check "a request naming a port another container's process holds gets no stream (its output stays on its pipe); the owner's stream has only the owner's bytes" \
    "$(pdiag owner; cat "$work/thief.read")" eval '[ $rc -eq 0 ] &&
      [ "$(jq -r .data "$work/thief.read" | base64 -d)" = thief-out ] && [ "$(cat "$work/owner.out")" = owner-out ]'
  pf_remove owner
  wait "$owner_peer" 2>/dev/null

  # the host closes its stdout stream while the container writes: the
  # monitor closes the pipe's read end, as when upstream's copy task ends
  host_closes yes 5031 "default mode, the host closes its stream (the monitor closes the pipe)"

  # 300 connections that are never named, each sending 64 KiB of garbage
  local before after
  before=$(fe_fds)
  head -c 65536 /dev/urandom >"$work/garbage"
  for i in $(seq 1 300); do
    timeout 5 "$peer" "$pfaddr" --in $((6000 + i)) "$work/garbage" -t 5 >/dev/null 2>&1
  done
  after=$(fe_fds)
  check "300 never-named connections sending garbage: the front-end holds at most 128 of them (fds $before -> $after), unread" \
    "$(tail -n 5 "$work/agent.log")" eval '[ -n "$after" ] && [ "$after" -le $((before + 128)) ] && ctl check >/dev/null'
  b=$(bundle after echo after-flood)
  peer_start after --out 5041 "$work/after.out" && pf_create after "$b" 0 5041 0 && pf_start after &&
    pf_wait after && wait "$peer_pid"
  rc=$?
  check "after the flood a runtime-shaped create gets its stream" "$(pdiag after)" \
    eval '[ $rc -eq 0 ] && [ "$(cat "$work/after.out")" = after-flood ]'
  check "the refusals are logged, rate-limited" "$(tail -n 5 "$work/agent.log")" \
    eval '[ "$(grep -c "passfd connection refused" "$work/agent.log")" -ge 1 ] &&
      [ "$(grep -c "passfd connection refused" "$work/agent.log")" -lt 50 ]'

  # 24 ExecProcess calls at once (each started, then released together),
  # each naming a stream never connected: at most 16 park (300 ms each),
  # the others go on at once; every call is answered (the container does
  # not exist) and nothing is left behind
  before=$(fe_fds)
  local pids=() i
  rm -f "$work/park.go"
  for i in $(seq 1 24); do
    until [ -e "$work/park.go" ]; do sleep 0.01; done &&
      ctl call AgentService/ExecProcess "{\"containerId\":\"nosuch\",\"execId\":\"e$i\",
      \"process\":{\"Args\":[\"true\"],\"Cwd\":\"/\"},\"stdoutPort\":$((8000 + i))}" \
      >"$work/park.$i" 2>&1 &
    pids+=($!)
  done
  sleep 0.5
  touch "$work/park.go"
  local answered=0
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    [ $? -ne 0 ] && grep -q 'NOT_FOUND\|INVALID_ARGUMENT' "$work/park.$((i + 1))" && answered=$((answered + 1))
  done
  after=$(fe_fds)
  check "24 requests naming streams that never come: at most 16 wait (the others go on at once), all 24 answered, no fd left (fds $before -> $after)" \
    "$(cat "$work/park.1"; grep -a 'wait for streams\|waits up to' "$work/agent.log" | tail -n 3)" \
    eval '[ $answered -eq 24 ] && [ "$after" -le "$before" ] &&
      grep -q "(16 requests already wait for streams)" "$work/agent.log" && ctl check >/dev/null'
  agent_stop
}

# agent.passfd_direct: the container's stdout and stderr ARE the host's
# streams (no pipe, no relay): what a container process can do with them,
# and that no agent process keeps a copy (the host's EOF is the process's
# close, as with a pipe).
t_direct() {
  agent_cmdline="agent.passfd_direct=1" agent_start direct || return
  local b ino holders
  b=$(bundle probe /bin/passfd_probe)
  if ! gcc -static -O2 -Wall -o "$b/rootfs/bin/passfd_probe" "$(dirname "$0")/passfd_probe.c" 2>"$work/gcc.err"; then
    fail_rest "cannot build passfd_probe.c statically: $(head -c 300 "$work/gcc.err")"
    return
  fi
  peer_start probe --out 5071 "$work/probe.out" --err 5072 "$work/probe.serr" -t 60 &&
    pf_create probe "$b" 0 5071 5072 && pf_start probe &&
    wait_for_file_text "$work/probe.out" probe-done 100
  rc=$?
  check "a process's stdout is the host's stream itself: /proc/self/fd/1 a socket, only fds 0-2, connect refused (its peer unchanged), accept and listen EINVAL, open(/proc/self/fd/1) ENXIO" \
    "$(pdiag probe; cat "$work/probe.out"; grep -a 'probe' "$work/agent.log" | tail -n 3)" eval '[ $rc -eq 0 ] &&
      grep -qx "fd1=socket:\[[0-9]*\]" "$work/probe.out" && grep -qx "fds=0,1,2" "$work/probe.out" &&
      grep -qx "connect=E\(ISCONN\|CONNREFUSED\)" "$work/probe.out" && grep -qx peer=unchanged "$work/probe.out" && grep -qx accept=EINVAL "$work/probe.out" &&
      grep -qx listen=EINVAL "$work/probe.out" && grep -qx open=ENXIO "$work/probe.out" &&
      grep -q "process init added: pid [0-9]*, pipes, stdout and stderr on host streams" "$work/agent.log"'
  # every holder of that socket on the machine: the probe alone
  ino=$(sed -n 's/^fd1=//p' "$work/probe.out")
  holders=$(for d in /proc/[0-9]*; do
    [[ $(ls -l "$d/fd" 2>/dev/null) == *" $ino"* ]] && echo "${d#/proc/}:$(cat "$d/comm" 2>/dev/null)"
  done)
  check "no agent process holds the container's stream (its holders: the probe only)" \
    "$(echo "holders of $ino: $holders")" eval '[ -n "$ino" ] && [ "$(echo "$holders" | wc -l)" = 1 ] &&
      echo "$holders" | grep -q ":passfd_probe\$"'
  pf_remove probe
  wait "$peer_pid"
  rc=$?
  check "the probe killed: the host reads the stream's EOF (nothing else held it open)" \
    "$(pdiag probe)" eval '[ $rc -eq 0 ]'

  # the host closes the stream the writer holds as its own fd 1: SIGPIPE
  # from the kernel, as with a pipe
  host_closes dyes 5073 "direct mode, the host closes its stream (the writer's own fd 1)"
  agent_stop
}

# With an agent policy the executor handles CreateContainer and ExecProcess
# once the policy process answered, after the streams sent ahead of them
# (agent.passfd_direct, here from the config file).
t_policy() {
  local pol b x
  pol="$(cd "$(dirname "$0")/../../policy/agent" && pwd)"
  agent_toml="policy_file = \"$pol/no-exec.rego\"
passfd_direct = true" agent_start policy || return
  b=$(bundle pol sh -c 'echo out-under-policy; echo err-under-policy >&2')
  peer_start pol --out 5091 "$work/pol.out" --err 5092 "$work/pol.serr" &&
    pf_create pol "$b" 0 5091 5092 && pf_start pol && pf_wait pol && wait "$peer_pid"
  rc=$?
  check "with an agent policy (no-exec.rego) a create with stdout/stderr ports gets both streams as its own" \
    "$(pdiag pol)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/pol.out")" = out-under-policy ] &&
      [ "$(cat "$work/pol.serr")" = err-under-policy ] &&
      grep -q "stdout and stderr on host streams" "$work/agent.log"'
  # the policy denies this exec: it fails PERMISSION_DENIED, nothing runs,
  # the next request is served
  b=$(bundle psleep sleep 1000)
  pf_create psleep "$b" 0 0 0 && pf_start psleep
  x=$(jq -c '{containerId: "psleep", execId: "d1", process: (.OCI.Process | .Args = ["echo", "denied-ran"]),
      stdoutPort: 5093}' "$work/psleep.json")
  peer_start d1 --out 5093 "$work/d1.out" -t 60
  ctl call AgentService/ExecProcess "$x" >"$work/d1.err" 2>&1
  rc=$?
  check "an ExecProcess the policy denies, with a stdout port: PERMISSION_DENIED, the exec never ran, the agent serves on" \
    "$(cat "$work/d1.err"; cat "$work/d1.out" 2>/dev/null)" eval '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$work/d1.err" &&
      ! grep -q denied-ran "$work/d1.out" 2>/dev/null && ctl check >/dev/null'
  pf_remove psleep
  kill "$peer_pid" 2>/dev/null
  wait "$peer_pid" 2>/dev/null
  agent_stop
}

t_vsock() {
  # vsock loopback (CID 1) lets the same checks run over AF_VSOCK
  if ! python3 -c 'import socket; s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); s.bind((1, 0xfffffffe))' 2>/dev/null; then
    skip 1 "over vsock loopback" "no vsock loopback on this host (AF_VSOCK bind to VMADDR_CID_LOCAL fails: vsock_loopback not loaded or built); the VM suite's passfd boots run the vsock path, both modes (tests/vm/guest-passfd.sh)"
    return
  fi
  agent_passfd="vsock://-1:10271"
  agent_cmdline="agent.vsock_peer_cids=2,1"
  pfaddr="vsock://1:10271"
  agent_start vsock || return
  local b
  b=$(bundle v sh -c 'head -c 8388608 /dev/urandom | tee /tmp/d | sha256sum >&2; cat /tmp/d')
  # stream ports: the peer's own vsock ports
  peer_start v --out 5051 "$work/v.out" --err 5052 "$work/v.serr" && pf_create v "$b" 0 5051 5052 &&
    pf_start v && pf_wait v && wait "$peer_pid"
  rc=$?
  check "over vsock loopback: 8 MiB intact (checksum)" "$(pdiag v)" \
    eval '[ $rc -eq 0 ] && [ "$(sha "$work/v.out")" = "$(cut -d" " -f1 "$work/v.serr")" ]'
  agent_stop
}

t_streams
t_restart
t_attacks
t_direct
t_policy
t_vsock
