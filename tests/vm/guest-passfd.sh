# SPDX-License-Identifier: Apache-2.0
# Sourced by guest-tests.sh in the passfd boot (tests/vm/run, booted with
# agent.passfd_listener_port=1027 and agent.vsock_peer_cids=2,1): fd-passthrough
# stdio over real vsock (loopback, CID 1). passfd-peer stands for the host's
# side as runtime-rs opens it (PassfdIo::open_and_passfd, crates/runtimes/
# virt_container/src/container_manager/io/passfd_io.rs): one connection per
# stdio from a known local vsock port before the request, named in it by that
# port; the requests are runtime-rs's (Container::create: exec_id "", the
# three ports; Container::start: StartContainer, then WaitProcess at once,
# passfd_io_wait). The agent (PID 1, not restartable) runs in the default
# mode, upstream's: the process keeps pipes, its monitor splices them into
# the streams. agent.passfd_direct (the stream as the process's own fd) is
# covered stand-alone (tests/integration/containers/passfd.sh, AF_UNIX, and
# over vsock loopback where the host has it), not in this boot. Uses check,
# pass, fail, fail_n, say, $ctl, $addr, $cbundles, $shared from
# guest-tests.sh.
pfaddr=vsock://1:1027
peer=/usr/bin/passfd-peer
pw=/tmp/passfd

# pf_create ID BUNDLE IN OUT ERR: CreateContainer as runtime-rs sends it
pf_create() {
  "$ctl" --addr "$addr" run "$2" --id "$1" --dry-run >"$pw/$1.dry" 2>>"$pw/$1.err" &&
    jq --argjson i "$3" --argjson o "$4" --argjson e "$5" \
      '.execId = "" | .stdinPort = $i | .stdoutPort = $o | .stderrPort = $e' \
      "$pw/$1.dry" >"$pw/$1.json" &&
    timeout 60 "$ctl" --addr "$addr" call AgentService/CreateContainer - <"$pw/$1.json" >>"$pw/$1.err" 2>&1
}
pf_start() { timeout 60 "$ctl" --addr "$addr" call AgentService/StartContainer "{\"containerId\":\"$1\"}" >>"$pw/$1.err" 2>&1; }
# pf_wait ID [EXEC]: the exit status in $pw/ID[.EXEC].status
pf_wait() {
  timeout 90 "$ctl" --addr "$addr" call AgentService/WaitProcess "{\"containerId\":\"$1\",\"execId\":\"${2:-}\"}" \
    >"$pw/$1${2:+.$2}.wait" 2>>"$pw/$1.err" &&
    jq -r '.status // 0' "$pw/$1${2:+.$2}.wait" >"$pw/$1${2:+.$2}.status"
}
pf_remove() { timeout 60 "$ctl" --addr "$addr" call AgentService/RemoveContainer "{\"containerId\":\"$1\"}" >/dev/null 2>&1; }
# peer_start NAME ARGS...: the host's streams in the background ($peer_pid),
# returns once every stream is connected
peer_start() {
  n=$1
  shift
  rm -f "$pw/$n.ready"
  "$peer" "$pfaddr" --ready "$pw/$n.ready" -t 90 "$@" 2>"$pw/$n.peer" &
  peer_pid=$!
  k=0
  while [ $k -lt 200 ]; do
    [ -e "$pw/$n.ready" ] && return 0
    kill -0 "$peer_pid" 2>/dev/null || return 1
    k=$((k + 1))
    sleep 0.05
  done
  return 1
}
pdiag() { # NAME: what the peer, the calls and WaitProcess said
  for f in "$pw/$1.peer" "$pw/$1.err" "$pw/$1"*.status; do
    [ -s "$f" ] && echo "${f##*/}: $(head -c 400 "$f")"
  done
}
sha() { sha256sum | cut -d' ' -f1; }
frontend_pid() {
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in */kata-agent-frontend) echo "${p#/proc/}" && return 0 ;; esac
  done
  return 1
}

passfd_body() {
  # 1. A known large output (seq: 6.9 MB, its checksum computed here) on
  # stdout, a line on stderr, each on its own stream.
  want=$(seq 1 1000000 | sha)
  peer_start big --out 5001 "$pw/big.out" --err 5002 "$pw/big.serr" &&
    pf_create big "$cbundles/pfseq" 0 5001 5002 && pf_start big && pf_wait big && wait "$peer_pid"
  rc=$?
  got=$(sha <"$pw/big.out")
  check "CreateContainer with stdout/stderr ports over vsock: seq 1 1000000 arrives intact (checksum), stderr on its own stream, WaitProcess 0" \
    sh -c '[ "$1" = 0 ] && [ "$(cat "$2/big.status")" = 0 ] && [ "$3" = "$4" ] && [ "$(cat "$2/big.serr")" = seq-done ] ||
      { echo "rc $1, sha $3 (want $4)"; echo "$5"; exit 1; }' _ "$rc" "$pw" "$got" "$want" "$(pdiag big)"
  out=$(timeout 30 "$ctl" --addr "$addr" call AgentService/ReadStdout '{"containerId":"big","execId":"","len":1024}' 2>&1)
  rc=$?
  check "ReadStdout of a process whose stdout went to the stream answers at once with no data (EOF)" \
    sh -c '[ "$1" = 0 ] && [ -z "$(echo "$2" | jq -r ".data // empty")" ] || { echo "rc $1: $2"; exit 1; }' _ "$rc" "$out"
  pf_remove big

  # 2. stdin through cat: 1 MiB of random bytes on the stdin stream come back
  # on the stdout stream; the stream's end is cat's EOF.
  head -c 1048576 /dev/urandom >"$pw/in.bin"
  peer_start cat --in 5003 "$pw/in.bin" --out 5004 "$pw/cat.out" --err 5005 "$pw/cat.serr" &&
    pf_create cat "$cbundles/pfcat" 5003 5004 5005 && pf_start cat && pf_wait cat && wait "$peer_pid"
  rc=$?
  check "stdin port: 1 MiB sent on the stdin stream reaches cat and comes back intact, its end is cat's EOF" \
    sh -c '[ "$1" = 0 ] && [ "$(cat "$2/cat.status")" = 0 ] && cmp -s "$2/in.bin" "$2/cat.out" || { echo "rc $1"; echo "$3"; exit 1; }' \
    _ "$rc" "$pw" "$(pdiag cat)"
  pf_remove cat

  # 3. ExecProcess with ports (runtime-rs Container::start, ProcessType::Exec)
  if pf_create pfs "$cbundles/sleeper" 0 0 0 && pf_start pfs; then
    jq -c '{containerId: "pfs", execId: "x1", process: (.OCI.Process | .Args = ["sh", "-c", "read l; echo out-$l; echo err-$l >&2; exit 7"]),
        stdinPort: 5006, stdoutPort: 5007, stderrPort: 5008}' "$pw/pfs.json" >"$pw/x1.json"
    printf 'hello\n' >"$pw/x1.in"
    peer_start x1 --in 5006 "$pw/x1.in" --out 5007 "$pw/x1.out" --err 5008 "$pw/x1.serr" &&
      timeout 60 "$ctl" --addr "$addr" call AgentService/ExecProcess - <"$pw/x1.json" >"$pw/x1.err" 2>&1 &&
      pf_wait pfs x1 && wait "$peer_pid"
    rc=$?
  else
    rc=1
  fi
  check "ExecProcess with ports: stdin, stdout and stderr on their streams, WaitProcess 7" \
    sh -c '[ "$1" = 0 ] && [ "$(cat "$2/pfs.x1.status")" = 7 ] && [ "$(cat "$2/x1.out")" = out-hello ] &&
      [ "$(cat "$2/x1.serr")" = err-hello ] || { echo "rc $1"; echo "$3"; exit 1; }' _ "$rc" "$pw" "$(pdiag x1; pdiag pfs)"
  # the exec's stdout is a pipe (the default mode, upstream's): a program
  # that opens /dev/stdout (nginx's log links) writes into the vsock stream
  jq -c '{containerId: "pfs", execId: "x2", process: (.OCI.Process |
      .Args = ["sh", "-c", "readlink /proc/self/fd/1; echo via-dev-stdout >/dev/stdout"]),
      stdoutPort: 5013}' "$pw/pfs.json" >"$pw/x2.json"
  peer_start x2 --out 5013 "$pw/x2.out" &&
    timeout 60 "$ctl" --addr "$addr" call AgentService/ExecProcess - <"$pw/x2.json" >"$pw/x2.err" 2>&1 &&
    pf_wait pfs x2 && wait "$peer_pid"
  rc=$?
  check "an exec's stdout is a pipe spliced into the vsock stream: what it writes through /dev/stdout arrives" \
    sh -c '[ "$1" = 0 ] && grep -q "^pipe:\[[0-9]*\]\$" "$2/x2.out" && grep -qx via-dev-stdout "$2/x2.out" ||
      { echo "rc $1"; cat "$2/x2.out"; echo "$3"; exit 1; }' _ "$rc" "$pw" "$(pdiag x2)"
  pf_remove pfs

  # 4. The front-end SIGKILLed mid-stream: the host has read 1 MiB of 20.9 MB
  # (seq 1 3000000) and stops; the rest waits in the pipe and the socket,
  # which the container's monitor holds; the parent starts a new
  # front-end, the host reads on, WaitProcess goes through the new front-end.
  want=$(seq 1 3000000 | sha)
  fe_old=$(frontend_pid)
  fe_new=
  peer_start long --out 5011 "$pw/long.out" --err 5012 "$pw/long.serr" --pause-after 1048576 --hold "$pw/long.go" &&
    pf_create long "$cbundles/pflong" 0 5011 5012 && pf_start long
  rc=$?
  k=0
  while [ $rc = 0 ] && [ $k -lt 600 ] && [ ! -e "$pw/long.go.paused" ]; do
    k=$((k + 1))
    sleep 0.1
  done
  [ -e "$pw/long.go.paused" ] || rc=1
  kill -KILL "$fe_old" 2>/dev/null
  k=0
  while [ $k -lt 300 ]; do
    fe_new=$(frontend_pid) && [ "$fe_new" != "$fe_old" ] && "$ctl" --addr "$addr" check >/dev/null 2>&1 && break
    k=$((k + 1))
    sleep 0.1
  done
  touch "$pw/long.go"
  [ $rc = 0 ] && pf_wait long && wait "$peer_pid"
  rc=$?
  got=$(sha <"$pw/long.out")
  check "front-end SIGKILLed mid-stream (1 MiB of 20.9 MB read): every byte arrives (checksum), WaitProcess through the new front-end" \
    sh -c '[ "$1" = 0 ] && [ -n "$2" ] && [ "$2" != "$3" ] && [ "$(cat "$4/long.status")" = 0 ] && [ "$5" = "$6" ] ||
      { echo "rc $1, front-end $3 -> ${2:-none}, sha $5 (want $6)"; echo "$7"; exit 1; }' \
    _ "$rc" "$fe_new" "$fe_old" "$pw" "$got" "$want" "$(pdiag long)"
  pf_remove long

  # 5. The new front-end serves the same listener (the parent's): a stream
  # opened after the restart is named and taken.
  peer_start after --out 5021 "$pw/after.out" && pf_create after "$cbundles/marker" 0 5021 0 && pf_start after &&
    pf_wait after && wait "$peer_pid"
  rc=$?
  check "after the restart a runtime-shaped create gets its stream from the same listener" \
    sh -c '[ "$1" = 0 ] && [ "$(cat "$2/after.out")" = vm-container-marker ] || { echo "rc $1"; echo "$3"; exit 1; }' \
    _ "$rc" "$pw" "$(pdiag after)"
  pf_remove after
}

mkdir -p "$pw" "$shared"
if { cp -a /opt/vm-bundles "$cbundles" && timeout 60 "$ctl" --addr "$addr" run "$cbundles/marker" </dev/null; } >"$pw/setup.out" 2>&1; then
  pass "the bundles are copied and a container without ports runs"
  passfd_body
else
  fail "the bundles are copied and a container without ports runs" "$(cat "$pw/setup.out")"
  fail_n $((passfd_checks - 1)) "not run: the bundles or the sandbox are not there"
fi
