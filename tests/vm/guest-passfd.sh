# SPDX-License-Identifier: Apache-2.0
# Sourced by guest-tests.sh in the passfd boots (tests/vm/run, booted with
# agent.passfd_listener_port=1027 and agent.vsock_peer_cids=2,1): fd-passthrough
# stdio over real vsock (loopback, CID 1). passfd-peer stands for the host's
# side as runtime-rs opens it (PassfdIo::open_and_passfd, crates/runtimes/
# virt_container/src/container_manager/io/passfd_io.rs): one connection per
# stdio from a known local vsock port before the request, named in it by that
# port; the requests are runtime-rs's (Container::create: exec_id "", the
# three ports; Container::start: StartContainer, then WaitProcess at once,
# passfd_io_wait). The agent is PID 1 and cannot be restarted with another
# option, so each mode has its own boot:
#   passfd         the default mode, upstream's: the process keeps pipes,
#                  its monitor splices them into the streams (passfd_body);
#   passfd-direct  agent.passfd_direct=1: the stream is the process's own
#                  fd 1/2 when it has no terminal (passfd_direct_body).
# Uses check, pass, fail, fail_n, skip, say, $ctl, $addr, $cbundles, $shared,
# $mode from guest-tests.sh.
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
# pf_exec ID EXEC PROCESS PORTS: ExecProcess as runtime-rs sends it
# (Container::start, ProcessType::Exec): container ID's own process (its
# create request's) changed by the jq filter PROCESS, the ports the jq object
# PORTS
pf_exec() {
  jq -c --arg c "$1" --arg x "$2" "{containerId: \$c, execId: \$x, process: (.OCI.Process | $3)} + $4" \
    "$pw/$1.json" >"$pw/$2.json" &&
    timeout 60 "$ctl" --addr "$addr" call AgentService/ExecProcess - <"$pw/$2.json" >"$pw/$2.err" 2>&1
}
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
# seq_sha N: the checksum of seq 1 N (tests/vm/run computed it on the host)
seq_sha() { awk -v n="$1" '$1 == n { print $2 }' /etc/vm-seq.sha; }
frontend_pid() {
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in */kata-agent-frontend) echo "${p#/proc/}" && return 0 ;; esac
  done
  return 1
}

# pf_seq WHAT: seq 1 1000000 (6.9 MB, its checksum computed here) on stdout
# and a line on stderr, each on its own stream, arrive whole; a ReadStdout
# of it then answers EOF at once (2 checks). WHAT says what the streams are
# to the process in this mode.
pf_seq() {
  want=$(seq_sha 1000000)
  peer_start big --out 5001 "$pw/big.out" --err 5002 "$pw/big.serr" &&
    pf_create big "$cbundles/pfseq" 0 5001 5002 && pf_start big && pf_wait big && wait "$peer_pid"
  rc=$?
  got=$(sha <"$pw/big.out")
  check "CreateContainer with stdout/stderr ports over vsock ($1): seq 1 1000000 arrives intact (checksum), stderr on its own stream, WaitProcess 0" \
    sh -c '[ "$1" = 0 ] && [ "$(cat "$2/big.status")" = 0 ] && [ "$3" = "$4" ] && [ "$(cat "$2/big.serr")" = seq-done ] ||
      { echo "rc $1, sha $3 (want $4)"; echo "$5"; exit 1; }' _ "$rc" "$pw" "$got" "$want" "$(pdiag big)"
  out=$(timeout 30 "$ctl" --addr "$addr" call AgentService/ReadStdout '{"containerId":"big","execId":"","len":1024}' 2>&1)
  rc=$?
  check "ReadStdout of a process whose stdout went to the stream answers at once with no data (EOF)" \
    sh -c '[ "$1" = 0 ] && [ -z "$(echo "$2" | jq -r ".data // empty")" ] || { echo "rc $1: $2"; exit 1; }' _ "$rc" "$out"
  pf_remove big
}

passfd_body() {
  # 1. A known large output through the pipes and the monitor's splice.
  pf_seq "pipes spliced into the streams"

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
  printf 'hello\n' >"$pw/x1.in"
  pf_create pfs "$cbundles/sleeper" 0 0 0 && pf_start pfs &&
    peer_start x1 --in 5006 "$pw/x1.in" --out 5007 "$pw/x1.out" --err 5008 "$pw/x1.serr" &&
    pf_exec pfs x1 '.Args = ["sh", "-c", "read l; echo out-$l; echo err-$l >&2; exit 7"]' \
      '{stdinPort: 5006, stdoutPort: 5007, stderrPort: 5008}' && pf_wait pfs x1 && wait "$peer_pid"
  rc=$?
  check "ExecProcess with ports: stdin, stdout and stderr on their streams, WaitProcess 7" \
    sh -c '[ "$1" = 0 ] && [ "$(cat "$2/pfs.x1.status")" = 7 ] && [ "$(cat "$2/x1.out")" = out-hello ] &&
      [ "$(cat "$2/x1.serr")" = err-hello ] || { echo "rc $1"; echo "$3"; exit 1; }' _ "$rc" "$pw" "$(pdiag x1; pdiag pfs)"
  # the exec's stdout is a pipe (the default mode, upstream's): a program
  # that opens /dev/stdout (nginx's log links) writes into the vsock stream
  peer_start x2 --out 5013 "$pw/x2.out" &&
    pf_exec pfs x2 '.Args = ["sh", "-c", "readlink /proc/self/fd/1; echo via-dev-stdout >/dev/stdout"]' \
      '{stdoutPort: 5013}' && pf_wait pfs x2 && wait "$peer_pid"
  rc=$?
  check "an exec's stdout is a pipe spliced into the vsock stream: what it writes through /dev/stdout arrives" \
    sh -c '[ "$1" = 0 ] && grep -q "^pipe:\[[0-9]*\]\$" "$2/x2.out" && grep -qx via-dev-stdout "$2/x2.out" ||
      { echo "rc $1"; cat "$2/x2.out"; echo "$3"; exit 1; }' _ "$rc" "$pw" "$(pdiag x2)"
  pf_remove pfs

  # 4. The front-end SIGKILLed mid-stream: the host has read 1 MiB of 6.9 MB
  # (seq 1 1000000) and stops; the rest waits in the pipe and the socket
  # (at most the 1 MiB pipe and the reader's 256 KiB vsock credit: seq
  # stays blocked with more than 4 MB to write; 20.9 MB took the boot past
  # its 120 s under TCG on a loaded host),
  # which the container's monitor holds; the parent starts a new
  # front-end, the host reads on, WaitProcess goes through the new front-end.
  want=$(seq_sha 1000000)
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
  check "front-end SIGKILLed mid-stream (1 MiB of 6.9 MB read): every byte arrives (checksum), WaitProcess through the new front-end" \
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

# pf_until FILE TEXT: wait (up to 60 s) for a line TEXT in FILE
pf_until() {
  k=0
  while [ $k -lt 600 ]; do
    grep -qx "$2" "$1" 2>/dev/null && return 0
    k=$((k + 1))
    sleep 0.1
  done
  return 1
}
# probe_ok RC FILE DIAG: the request chain returned RC, and passfd_probe's
# report in FILE (tests/integration/containers/passfd_probe.c) says its fd 1
# is the connected vsock stream itself, as passfd.sh's t_direct asks of the
# unix one; what failed and DIAG otherwise
probe_ok() {
  [ "$1" = 0 ] || { echo "rc $1"; echo "$3"; return 1; }
  for l in "fd1=socket:\[[0-9]*\]" fds=0,1,2 "connect=E\(ISCONN\|CONNREFUSED\)" peer=unchanged accept=EINVAL \
    listen=EINVAL open=ENXIO; do
    grep -qx "$l" "$2" || { echo "no line $l in ${2##*/}:"; cat "$2"; echo "$3"; return 1; }
  done
}
# sock_holders INODE: "pid:comm" of every process holding socket:[INODE]
# (one ls for all of /proc: each fork costs under TCG)
sock_holders() {
  ls -l /proc/[0-9]*/fd 2>/dev/null | awk -v s="socket:[$1]" '
    /^\/proc\/[0-9]+\/fd:$/ { split($0, a, "/"); p = a[3] }
    $NF == s { print p }' | sort -u | while read -r p; do echo "$p:$(cat "/proc/$p/comm" 2>/dev/null)"; done
}
# holders_ok HOLDERS1 HOLDERS2 INODE1 INODE2: each socket has one holder, a
# passfd_probe, not the same one
holders_ok() {
  for h in "$1" "$2"; do
    [ "$(echo "$h" | grep -c .)" = 1 ] && echo "$h" | grep -q ":passfd_probe\$" && [ "$1" != "$2" ] ||
      { echo "holders of socket:[${3:-?}]: ${1:-none}"; echo "holders of socket:[${4:-?}]: ${2:-none}"; return 1; }
  done
}

# agent.passfd_direct: the streams of a process without a terminal are its
# own fd 1 and 2 (the executor checked each is a connected vsock stream, the
# launcher gave it as the process's stdout/stderr).
passfd_direct_body() {
  if [ ! -x "$cbundles/rootfs/bin/passfd_probe" ]; then
    # a build tool missing, not a kernel feature: a failure (doc/testing.md)
    fail_n 4 "direct: the probe's checks: no passfd_probe in the image (gcc -static failed on the host: tests/vm/run's log)"
  else
    # 1. The container's init and an exec (runtime-rs: stdout and stderr
    # ports, no terminal) probe their fd 1, report on it and wait, holding it.
    peer_start probe --out 6001 "$pw/probe.out" --err 6002 "$pw/probe.serr" &&
      pf_create probe "$cbundles/probe" 0 6001 6002 && pf_start probe && pf_until "$pw/probe.out" probe-done
    rc=$?
    probe_pid=$peer_pid
    check "the container's init: fd 1 is the vsock stream itself (socket, only fds 0-2, connect refused, its peer unchanged, accept and listen EINVAL, open(/proc/self/fd/1) ENXIO)" \
      probe_ok "$rc" "$pw/probe.out" "$(pdiag probe)"
    peer_start p2 --out 6003 "$pw/p2.out" --err 6004 "$pw/p2.serr" &&
      pf_exec probe p2 . '{stdoutPort: 6003, stderrPort: 6004}' && pf_until "$pw/p2.out" probe-done
    rc=$?
    p2_pid=$peer_pid
    check "an exec: fd 1 is the vsock stream itself (the same probe)" \
      probe_ok "$rc" "$pw/p2.out" "$(pdiag p2)"

    # 2. Every holder of each stream in the guest: the probe alone (the
    # executor, the launcher and the front-end closed their copies, the
    # monitor never had one); the host's ends are other sockets.
    i1=$(sed -n 's/^fd1=socket:\[\([0-9]*\)\]$/\1/p' "$pw/probe.out")
    i2=$(sed -n 's/^fd1=socket:\[\([0-9]*\)\]$/\1/p' "$pw/p2.out")
    check "no agent process holds either stream (each one's holders: its probe only)" \
      holders_ok "$(sock_holders "${i1:-none}")" "$(sock_holders "${i2:-none}")" "$i1" "$i2"

    # 3. RemoveContainer kills both: the host reads each stream's EOF
    pf_remove probe
    wait "$probe_pid"
    r1=$?
    wait "$p2_pid"
    r2=$?
    check "the probes killed: the host reads both streams' EOF (nothing else held them open)" \
      sh -c '[ "$1:$2" = 0:0 ] || { echo "peers $1 $2"; echo "$3"; exit 1; }' _ "$r1" "$r2" "$(pdiag probe; pdiag p2)"
  fi

  # 4. A terminal exec (runtime-rs: stdin and stdout ports, no stderr with a
  # terminal): the pty's output is still relayed by the monitor
  printf 'hello\n' >"$pw/t1.in"
  pf_create pfs "$cbundles/sleeper" 0 0 0 && pf_start pfs &&
    peer_start t1 --in 6005 "$pw/t1.in" --out 6006 "$pw/t1.out" &&
    pf_exec pfs t1 '.Terminal = true | .Args = ["sh", "-c", "read l; readlink /proc/self/fd/1; echo term-$l; exit 3"]' \
      '{stdinPort: 6005, stdoutPort: 6006}' && pf_wait pfs t1 && wait "$peer_pid"
  rc=$?
  check "a terminal exec: its stdout is the pty, relayed into the vsock stream (stdin from its stream), WaitProcess 3" \
    sh -c '[ "$1" = 0 ] && [ "$(cat "$2/pfs.t1.status")" = 3 ] && tr -d "\r" <"$2/t1.out" | grep -q "^/dev/pts/[0-9]*\$" &&
      tr -d "\r" <"$2/t1.out" | grep -qx term-hello || { echo "rc $1"; cat "$2/t1.out"; echo "$3"; exit 1; }' \
    _ "$rc" "$pw" "$(pdiag t1; pdiag pfs)"
  pf_remove pfs

  # 5. A large output written by seq straight into the streams
  pf_seq "the streams are seq's own stdout and stderr"
}

pf_checks=$passfd_checks
[ "$mode" = passfd-direct ] && pf_checks=$passfd_direct_checks
mkdir -p "$pw" "$shared"
if { cp -a /opt/vm-bundles "$cbundles" && timeout 60 "$ctl" --addr "$addr" run "$cbundles/marker" </dev/null; } >"$pw/setup.out" 2>&1; then
  pass "the bundles are copied and a container without ports runs"
  case $mode in
  passfd) passfd_body ;;
  passfd-direct) passfd_direct_body ;;
  esac
else
  fail "the bundles are copied and a container without ports runs" "$(cat "$pw/setup.out")"
  fail_n $((pf_checks - 1)) "not run: the bundles or the sandbox are not there"
fi
