#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call. Prints TAP.
#
#   containers_test.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# Every group of checks starts its own agent in a private mount namespace
# (unshare -m --propagation private: container mounts never reach the host's
# table), with a temp shared dir holding the bundles and a private cgroup
# parent, and tears it down on every path (trap). Needs root.
#
# KATA_TEST_ONLY=regex runs only the groups whose name matches;
# KATA_TEST_LOG=debug raises the agents' log level (default info).
set -uo pipefail

agent=${1:?usage: $0 KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE}
ctl_bin=${2:?}
mkbundle=${3:?}
only=${KATA_TEST_ONLY:-}

n=0
bad=0
top=$(mktemp -d /tmp/kata-containers-test.XXXXXX)
chmod 755 "$top"
agent_pid=
agent_prep=
cg_name=
declare -a tree=()

say() { printf '# %s\n' "$*"; }
tap() { # tap OK|FAIL description [diagnostic file or text]
  n=$((n + 1))
  if [ "$1" = OK ]; then
    echo "ok $n - $2"
  else
    bad=$((bad + 1))
    echo "not ok $n - $2"
    if [ -n "${3:-}" ]; then
      if [ -f "$3" ]; then tail -n 20 "$3"; else printf '%s\n' "$3"; fi | sed 's/^/# /'
    fi
  fi
}
check() { # check DESCRIPTION DIAG COMMAND...: OK if the command succeeds
  local desc=$1 diag=$2
  shift 2
  if "$@"; then tap OK "$desc"; else tap FAIL "$desc" "$diag"; fi
}

# ---- process tree of the agent ----

ppid_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2; }
comm_of() { cat "/proc/$1/comm" 2>/dev/null; }
descendants() { # every live descendant of $1
  local -A kids=()
  local p pp
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    pp=$(ppid_of "$p") || continue
    [ -n "$pp" ] && kids[$pp]="${kids[$pp]:-} $p"
  done
  local queue=("$1") out=()
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for c in ${kids[$p]:-}; do
      out+=("$c")
      queue+=("$c")
    done
  done
  echo "${out[@]:-}"
}
child_named() { # child_named PARENT COMM-PREFIX
  local p
  for p in $(descendants "$1"); do
    [ "$(ppid_of "$p")" = "$1" ] && [[ "$(comm_of "$p")" == "$2"* ]] && { echo "$p"; return 0; }
  done
  return 1
}
in_child_pidns() { # a container process: its NSpid has more than one entry
  local ns
  ns=$(awk '/^NSpid:/ {print NF - 1}' "/proc/$1/status" 2>/dev/null)
  [ -n "$ns" ] && [ "$ns" -gt 1 ]
}
agent_procs() { # the agent's own processes (not container processes)
  local p
  echo "$agent_pid"
  for p in $(descendants "$agent_pid"); do
    in_child_pidns "$p" || echo "$p"
  done
}
rss_anon_kib() { # total RssAnon of the agent's own processes
  local sum=0 p v
  for p in $(agent_procs); do
    v=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# ---- one agent ----

agent_stop() {
  [ -n "$agent_pid" ] || return 0
  tree=($(descendants "$agent_pid"))
  kill -TERM "$agent_pid" 2>/dev/null
  for _ in $(seq 1 50); do
    [ -e "/proc/$agent_pid" ] || break
    [ "$(sed 's/.*) //' "/proc/$agent_pid/stat" 2>/dev/null | cut -c1)" = Z ] && break
    sleep 0.1
  done
  kill -KILL "$agent_pid" "${tree[@]}" 2>/dev/null
  wait "$agent_pid" 2>/dev/null
  agent_pid=
  local d
  for d in /sys/fs/cgroup/*/"$cg_name" /sys/fs/cgroup/"$cg_name"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}
cleanup() {
  agent_stop
  rm -rf "$top"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has_option() { "$agent" --help 2>&1 | grep -q -- "$1"; }

# agent_start NAME: a fresh agent; sets work, shared, addr, agent_pid, cg_name,
# executor_pid, frontend_pid.
agent_start() {
  work="$top/$1"
  shared="$work/shared"
  mkdir -p "$shared"
  local sock="$work/agent.sock"
  addr="unix://$sock"
  cg_name="kata-test-$$-$1"
  # debug logs two lines per ReadStdout: gigabytes for the big streams.
  echo "agent.server_addr=$addr agent.log=${KATA_TEST_LOG:-info}" >"$work/cmdline"
  local extra=(--shared-dir "$shared" --cgroup-parent "/$cg_name")
  # agent_prep: shell commands run inside the new mount namespace before the
  # agent (which then takes the shell's pid), e.g. extra cgroup mounts;
  # agent_netns=1: the agent gets a network namespace of its own too.
  setsid unshare -m ${agent_netns:+-n} --propagation private -- sh -c "${agent_prep:-true}"' && exec "$@"' sh \
    "$agent" --cmdline "$work/cmdline" "${extra[@]}" >"$work/agent.log" 2>&1 </dev/null &
  agent_pid=$!
  for _ in $(seq 1 150); do
    if [ -S "$sock" ] && timeout 5 "$ctl_bin" --addr "$addr" check >/dev/null 2>&1; then
      executor_pid=$(child_named "$agent_pid" kata-agent-exec)
      frontend_pid=$(child_named "$agent_pid" kata-agent-fron)
      return 0
    fi
    [ -e "/proc/$agent_pid" ] || break
    sleep 0.1
  done
  tap FAIL "$1: the agent starts" "$work/agent.log"
  return 1
}

# -k: run/exec forward SIGTERM to the container instead of dying.
ctl() { timeout -k 10 "${CTL_TIMEOUT:-120}" "$ctl_bin" --addr "$addr" "$@"; }

# bundle NAME [CMD...]: a busybox bundle in the shared dir; prints its path.
bundle() {
  local name=$1
  shift
  "$mkbundle" "$shared/$name" "$@" >/dev/null || return 1
  echo "$shared/$name"
}
# jqset BUNDLE FILTER [jq args]: edit BUNDLE/config.json in place.
jqset() {
  local b=$1 f=$2
  shift 2
  jq "$@" "$f" "$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
}
# runc_ NAME BUNDLE [ctl run options]: run it; output in $work/NAME.{out,err}, status in $rc.
run_() {
  local name=$1 b=$2
  shift 2
  ctl run "$b" "$@" </dev/null >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
}
diag() { # diag NAME: what a failed check shows
  { echo "exit status: $rc"; echo "-- stdout"; head -c 2000 "$work/$1.out" | cat -v; echo "-- stderr";
    tail -n 10 "$work/$1.err"; echo "-- agent log"; tail -n 15 "$work/agent.log"; } 2>/dev/null
}
wait_for_file_text() { # wait_for_file_text FILE TEXT [tenths]
  for _ in $(seq 1 "${3:-100}"); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
want() { [ "$1" = "$2" ]; }

group() { [ -z "$only" ] || [[ "$1" =~ $only ]]; }

# ---- the groups ----

t_basics() {
  agent_start basics || return
  local b
  b=$(bundle hello)
  run_ hello "$b"
  check "run: a busybox container prints its output and exits 0" "$(diag hello)" \
    eval '[ $rc -eq 0 ] && grep -q "hello from a container" "$work/hello.out" && grep -q "uid=0" "$work/hello.out"'

  b=$(bundle exit3 sh -c 'exit 3')
  run_ exit3 "$b"
  check "exit 3 -> status 3" "$(diag exit3)" want "$rc" 3

  b=$(bundle pid1 sh -c 'echo $$')
  run_ pid1 "$b"
  check "the container init is pid 1 in its pid namespace" "$(diag pid1)" \
    want "$(cat "$work/pid1.out")" 1

  b=$(bundle host hostname)
  jqset "$b" '.hostname = "kata-test-host"'
  run_ host "$b"
  check "hostname from the spec" "$(diag host)" want "$(cat "$work/host.out")" kata-test-host

  b=$(bundle ids sh -c 'id -u; id -g; id -G')
  jqset "$b" '.process.user = {uid: 1000, gid: 1001, additionalGids: [10, 20]}'
  run_ ids "$b"
  check "uid, gid and additional gids" "$(diag ids)" eval \
    '[ "$(sed -n 1p "$work/ids.out")" = 1000 ] && [ "$(sed -n 2p "$work/ids.out")" = 1001 ] &&
     sed -n 3p "$work/ids.out" | tr " " "\n" | grep -qx 10 &&
     sed -n 3p "$work/ids.out" | tr " " "\n" | grep -qx 20'

  b=$(bundle caps sh -c 'grep -E "^Cap(Eff|Prm|Bnd):" /proc/self/status')
  jqset "$b" '.process.capabilities = {bounding: $c, effective: $c, permitted: $c, ambient: []}' \
    --argjson c '["CAP_KILL", "CAP_NET_BIND_SERVICE"]'
  run_ caps "$b"
  # CAP_KILL is 5, CAP_NET_BIND_SERVICE 10: 0x420.
  check "capability sets (CapEff/CapPrm/CapBnd = CAP_KILL|CAP_NET_BIND_SERVICE)" "$(diag caps)" \
    eval '[ $rc -eq 0 ] && [ "$(grep -c "0000000000000420$" "$work/caps.out")" -eq 3 ]'

  b=$(bundle seccomp sh -c 'mkdir /tmp/denied; echo "rc=$?"')
  jqset "$b" '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}'
  run_ seccomp "$b"
  check "a seccomp rule makes mkdir fail with EPERM" "$(diag seccomp)" eval \
    'grep -q "rc=1" "$work/seccomp.out" && grep -qi "not permitted" "$work/seccomp.err" &&
     [ ! -e "$b/rootfs/tmp/denied" ]'

  b=$(bundle rlimit sh -c 'ulimit -n; ulimit -Hn')
  jqset "$b" '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 123, hard: 456}]'
  run_ rlimit "$b"
  check "rlimits (RLIMIT_NOFILE 123/456)" "$(diag rlimit)" \
    want "$(tr '\n' ' ' <"$work/rlimit.out")" "123 456 "

  b=$(bundle rootro sh -c 'touch /newfile; echo "rc=$?"')
  jqset "$b" '.root.readonly = true'
  run_ rootro "$b"
  check "read-only rootfs" "$(diag rootro)" eval \
    'grep -q "rc=1" "$work/rootro.out" && grep -qi "read-only" "$work/rootro.err" &&
     [ ! -e "$b/rootfs/newfile" ]'

  b=$(bundle masked sh -c 'wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname; echo "rc=$?"')
  run_ masked "$b"
  check "masked paths read empty, read-only paths refuse writes" "$(diag masked)" \
    want "$(tr -d ' ' <"$work/masked.out" | tr '\n' ' ')" "0 0 rc=1 "
  agent_stop
}

t_hooks() {
  agent_start hooks || return
  local b log hook="$work/hook.sh"
  b=$(bundle hooks true)
  log="$b/rootfs/tmp/hooks.log"
  printf '#!/bin/sh\necho "$1" >> "$2"\n' >"$hook"
  chmod 755 "$hook"
  jqset "$b" '.hooks = {
      prestart: [{path: $h, args: ["hook.sh", "prestart", $l]}],
      createRuntime: [{path: $h, args: ["hook.sh", "createRuntime", $l]}],
      createContainer: [{path: $h, args: ["hook.sh", "createContainer", $l]}],
      startContainer: [{path: "/bin/sh", args: ["sh", "-c", "echo startContainer >> /tmp/hooks.log"]}],
      poststart: [{path: $h, args: ["hook.sh", "poststart", $l]}],
      poststop: [{path: $h, args: ["hook.sh", "poststop", $l]}]}' \
    --arg h "$hook" --arg l "$log"
  run_ hooks "$b"
  check "hooks ran in order (prestart createRuntime createContainer startContainer poststart poststop)" \
    "$(diag hooks; echo "-- hooks.log"; cat "$log" 2>&1)" \
    want "$( { tr '\n' ' ' <"$log"; } 2>/dev/null)" \
    "prestart createRuntime createContainer startContainer poststart poststop "
  agent_stop
}

t_stdio() {
  agent_start stdio || return
  local b
  b=$(bundle cat cat)
  printf 'hello stdin\n' | ctl run "$b" >"$work/cat.out" 2>"$work/cat.err"
  rc=$?
  check "stdin to cat and back" "$(diag cat)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/cat.out")" = "hello stdin" ]'

  head -c $((4 << 20)) /dev/urandom >"$work/in.bin"
  ctl run "$b" <"$work/in.bin" >"$work/cat4.out" 2>"$work/cat4.err"
  rc=$?
  check "4 MiB of random bytes through cat arrive intact" "$(diag cat4)" \
    eval '[ $rc -eq 0 ] && cmp -s "$work/in.bin" "$work/cat4.out"'

  # 256 MiB of random data on stdout, its sha256 computed inside on stderr.
  b=$(bundle big sh -c 'mkfifo /tmp/f && { sha256sum < /tmp/f >&2 & } &&
    head -c 268435456 /dev/urandom | tee /tmp/f; wait')
  ctl run "$b" </dev/null 2>"$work/big.err" | sha256sum >"$work/big.out"
  rc=${PIPESTATUS[0]}
  check "256 MiB through stdout: the checksums inside and outside agree" "$(diag big)" eval \
    '[ $rc -eq 0 ] && [ -n "$(cut -d" " -f1 "$work/big.out")" ] &&
     [ "$(cut -d" " -f1 "$work/big.out")" = "$(awk "{print \$1}" "$work/big.err")" ]'

  # A slow reader: the container writes 200 MiB at once, nobody reads for
  # a while; the agent's own processes must not buffer it.
  b=$(bundle fast head -c 209715200 /dev/zero)
  local before during
  before=$(rss_anon_kib)
  ctl run "$b" </dev/null 2>"$work/fast.err" | { sleep 4; rss_anon_kib >"$work/fast.rss"; wc -c >"$work/fast.out"; }
  rc=${PIPESTATUS[0]}
  during=$(cat "$work/fast.rss" 2>/dev/null)
  check "slow reader: 200 MiB pending, agent processes' RssAnon stays < 16 MiB (before ${before} KiB, during ${during:-?} KiB)" \
    "$(diag fast)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/fast.out")" = 209715200 ] &&
      [ "${during:-999999}" -lt 16384 ]'
  agent_stop
}

t_exec() {
  agent_start exec || return
  local b
  b=$(bundle sleeper sh -c 'echo ready; exec sleep 1000')
  ctl run "$b" --id sleeper </dev/null >"$work/sleeper.out" 2>"$work/sleeper.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/sleeper.out" ready 200; then
    rc=-
    tap FAIL "exec: a long-running container starts" "$(diag sleeper)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  ctl exec sleeper -- sh -c 'hostname; cat /proc/1/cmdline | tr "\0" " "; exit 5' \
    </dev/null >"$work/exec.out" 2>"$work/exec.err"
  rc=$?
  check "exec into a running container: output and exit status 5" "$(diag exec)" eval \
    '[ $rc -eq 5 ] && grep -qx busybox "$work/exec.out" && grep -q "sleep 1000" "$work/exec.out"'

  # A tty exec: the size set with TtyWinResize while it runs is what it sees.
  local proc='{"Terminal": true, "Args": ["sh", "-c", "sleep 1; stty size"],
    "Env": ["PATH=/bin"], "Cwd": "/", "User": {}}'
  ctl call AgentService/ExecProcess \
    "{\"containerId\": \"sleeper\", \"execId\": \"tty1\", \"process\": $proc}" >"$work/tty.err" 2>&1
  ctl call AgentService/TtyWinResize \
    '{"containerId": "sleeper", "execId": "tty1", "row": 44, "column": 120}' >>"$work/tty.err" 2>&1
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
  # script(1) turns EOF on its own stdin into a ^D typed at the terminal:
  # keep its stdin open (and empty) so only the command runs.
  timeout -k 5 60 script -qec "stty rows 33 cols 99; $(printf '%q ' "$ctl_bin") --addr $addr exec --tty sleeper -- stty size" \
    /dev/null < <(sleep 30) >"$work/tty2.out" 2>"$work/tty2.err"
  rc=$?
  check "ctl exec --tty: the terminal's size reaches the process" "$(diag tty2)" eval \
    'tr -d "\r" <"$work/tty2.out" | grep -qx "33 99"'

  ctl call AgentService/SignalProcess '{"containerId": "sleeper", "signal": 9}' >"$work/kill.err" 2>&1
  wait "$run_pid"
  rc=$?
  check "SignalProcess SIGKILL: run exits 128+9" "$(diag sleeper; cat "$work/kill.err")" want "$rc" 137
  agent_stop
}

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

  # After removing everything nothing is left behind.
  sleep 0.5
  local left=() p
  # (kata-pidns holds the sandbox's shared namespaces until DestroySandbox)
  for p in $(descendants "$agent_pid"); do
    [ "$p" = "$executor_pid" ] || [ "$p" = "$frontend_pid" ] || [ "$(comm_of "$p")" = kata-pidns ] ||
      left+=("$p:$(comm_of "$p")")
  done
  check "no leftover processes (only parent, executor, front-end, the sandbox's namespace holder)" \
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

t_shutdown() {
  agent_start shutdown || return
  local b marker="sleep 99$$"
  b=$(bundle idle $marker)
  ctl run "$b" --id idle </dev/null >"$work/idle.out" 2>"$work/idle.err" &
  local run_pid=$!
  for _ in $(seq 1 100); do
    pgrep -fx "$marker" >/dev/null && break
    sleep 0.1
  done
  # Stop the parent alone, as an init system would: it must take the
  # executor, the monitor and the container down with it.
  kill -TERM "$agent_pid"
  for _ in $(seq 1 100); do
    [ -e "/proc/$agent_pid" ] || break
    [ "$(sed 's/.*) //' "/proc/$agent_pid/stat" 2>/dev/null | cut -c1)" = Z ] && break
    sleep 0.1
  done
  sleep 0.3
  local left cgs
  left=$({ pgrep -fx "$marker"; pgrep -f "kata-agent-monitor --container-id idle"; } | tr '\n' ' ')
  cgs=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -path "*/$cg_name/*" -type d 2>/dev/null)
  check "agent stopped with a running container: the container and its monitor are gone" \
    "left: $left" want "$left" ""
  check "agent stopped with a running container: its cgroups are removed" "$cgs" want "$cgs" ""
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null
  agent_stop
}

t_hostile() {
  agent_start hostile || return
  local b out="$work/hostile.out"
  local spec='{"Process": {"Args": ["true"], "Cwd": "/"}, "Root": {"Path": "'"$shared"'/x/rootfs"}}'
  local id
  for id in '../x' 'a/b' '..' ''; do
    ctl call AgentService/CreateContainer "{\"containerId\": \"$id\", \"OCI\": $spec}" >"$out" 2>&1
    rc=$?
    check "CreateContainer with id \"$id\" is INVALID_ARGUMENT" "$(cat "$out")" \
      eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  done
  ctl call AgentService/ReadStdout '{"containerId": "../../etc", "len": 10}' >"$out" 2>&1
  rc=$?
  check "ReadStdout with id \"../../etc\" is INVALID_ARGUMENT" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'

  ln -s / "$shared/evilroot"
  ctl call AgentService/CreateContainer \
    "{\"containerId\": \"evil1\", \"OCI\": {\"Process\": {\"Args\": [\"true\"], \"Cwd\": \"/\"}, \"Root\": {\"Path\": \"$shared/evilroot\"}}}" \
    >"$out" 2>&1
  rc=$?
  check "a rootfs that is a symlink to / is refused" "$(cat "$out")" eval '[ $rc -ne 0 ]'
  ctl call AgentService/RemoveContainer '{"containerId": "evil1"}' >/dev/null 2>&1

  # A mount destination behind a symlink that points out of the root.
  b=$(bundle escape sh -c 'ls /escape/sub >/dev/null 2>&1; echo done')
  mkdir -p "$work/outside"
  ln -s "$work/outside" "$b/rootfs/escape"
  jqset "$b" '.mounts += [{destination: "/escape/sub", type: "tmpfs", source: "tmpfs"}]'
  run_ escape "$b"
  check "a mount destination symlinked out of the root stays inside or is refused; nothing on the host" \
    "$(diag escape; ls -la "$work/outside"; grep outside "/proc/$executor_pid/mountinfo")" eval \
    '[ ! -e "$work/outside/sub" ] && ! grep -q "$work/outside" "/proc/$executor_pid/mountinfo" &&
     ! grep -q "$work/outside" /proc/self/mountinfo'

  b=$(bundle bigenv true)
  jqset "$b" '.process.env += [range(100000) | "V\(.)=x"]'
  run_ bigenv "$b"
  check "a spec with 100000 env entries is INVALID_ARGUMENT" "$(diag bigenv)" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/bigenv.err"'
  b=$(bundle after echo still serving)
  run_ after "$b"
  check "the agent keeps serving after the hostile requests" "$(diag after)" \
    eval '[ $rc -eq 0 ] && grep -q "still serving" "$work/after.out"'

  b=$(bundle bindetc cat /hostetc/hostname)
  jqset "$b" '.mounts += [{destination: "/hostetc", type: "bind", source: "/etc", options: ["rbind", "ro"]}]'
  run_ bindetc "$b"
  check "a bind mount of a host path outside the allowed guest paths is refused" "$(diag bindetc)" \
    eval '[ $rc -ne 0 ] && ! [ -s "$work/bindetc.out" ]'
  agent_stop
}

t_resources() {
  if [ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] || [ ! -f /sys/fs/cgroup/pids/cgroup.procs ]; then
    say "resources: skipped: needs cgroup v1 memory and pids (this group reads the v1 files)"
    return
  fi
  agent_start resources || return
  local b out="$work/update.out"
  b=$(bundle rsleeper sh -c 'echo ready; exec sleep 1000')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {memory: {limit: 67108864}, pids: {limit: 50}}'
  ctl run "$b" --id rs </dev/null >"$work/rs.out" 2>"$work/rs.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/rs.out" ready 200; then
    rc=-
    tap FAIL "resources: a container with limits starts" "$(diag rs)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  local mem="/sys/fs/cgroup/memory/$cg_name/rs" pids="/sys/fs/cgroup/pids/$cg_name/rs"
  check "create: linux.resources memory limit 64 MiB is in memory.limit_in_bytes" "$(diag rs)" \
    want "$(cat "$mem/memory.limit_in_bytes" 2>&1)" 67108864
  check "create: pids limit 50 is in pids.max" "$(diag rs)" want "$(cat "$pids/pids.max" 2>&1)" 50

  ctl call AgentService/UpdateContainer \
    '{"containerId": "rs", "resources": {"Memory": {"Limit": 134217728}}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer: memory limit 128 MiB, pids limit untouched" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$mem/memory.limit_in_bytes")" = 134217728 ] && [ "$(cat "$pids/pids.max")" = 50 ]'

  ctl call AgentService/UpdateContainer \
    '{"containerId": "rs", "resources": {"Memory": {"Limit": 33554432}, "CPU": {"Cpus": "4095"}}}' \
    >"$out" 2>&1
  rc=$?
  check "UpdateContainer with cpus 4095: INVALID_ARGUMENT naming the file; memory limit restored" \
    "$(cat "$out"; diag rs)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q cpuset.cpus "$out" &&
     [ "$(cat "$mem/memory.limit_in_bytes")" = 134217728 ]'

  ctl call AgentService/UpdateContainer '{"containerId": "nosuch", "resources": {}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer of an unknown container: NOT_FOUND" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'

  local frz="/sys/fs/cgroup/freezer/$cg_name/rs/freezer.state"
  local proc='{"Args": ["true"], "Env": ["PATH=/bin"], "Cwd": "/", "User": {}}'
  ctl call AgentService/PauseContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "PauseContainer: the freezer state is FROZEN" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$frz")" = FROZEN ]'
  ctl call AgentService/ExecProcess \
    "{\"containerId\": \"rs\", \"execId\": \"e1\", \"process\": $proc}" >"$out" 2>&1
  rc=$?
  check "ExecProcess into a paused container: FAILED_PRECONDITION" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'
  ctl call AgentService/PauseContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "PauseContainer twice: FAILED_PRECONDITION" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'
  ctl call AgentService/ResumeContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "ResumeContainer: THAWED, and exec works again" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$frz")" = THAWED ] && ctl exec rs -- true </dev/null >/dev/null 2>&1'
  ctl call AgentService/ResumeContainer '{"containerId": "rs"}' >"$out" 2>&1
  rc=$?
  check "ResumeContainer of a running container: FAILED_PRECONDITION" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'

  # A paused container is still removed (thawed first, so SIGKILL lands).
  ctl call AgentService/PauseContainer '{"containerId": "rs"}' >/dev/null 2>&1
  ctl call AgentService/RemoveContainer '{"containerId": "rs", "timeout": 20}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer of a paused container: OK, cgroup gone" "$(cat "$out"; diag rs)" eval \
    '[ $rc -eq 0 ] && [ ! -d "$mem" ] && [ ! -d "/sys/fs/cgroup/freezer/$cg_name/rs" ]'
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null

  b=$(bundle rbad true)
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {cpu: {cpus: "4095"}}'
  run_ rbad "$b"
  check "create with cpus 4095: INVALID_ARGUMENT, nothing left" "$(diag rbad)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/rbad.err" && [ ! -d "/sys/fs/cgroup/cpuset/$cg_name/rbad" ]'
  agent_stop
}

# StatsContainer on this (v1) host: cpu, memory and pids from the cgroup,
# network from the container's own network namespace (only lo in it).
t_stats() {
  if [ ! -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] || [ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] ||
     [ ! -f /sys/fs/cgroup/pids/cgroup.procs ]; then
    say "stats: skipped: needs cgroup v1 cpuacct, memory and pids"
    return
  fi
  agent_start stats || return
  local b s1="$work/stats1.json" s2="$work/stats2.json" out="$work/stats.out"
  b=$(bundle sbusy sh -c 'echo ready; while :; do :; done')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {memory: {limit: 67108864}, pids: {limit: 40}}'
  ctl run "$b" --id sbusy </dev/null >"$work/sbusy.out" 2>"$work/sbusy.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/sbusy.out" ready 200; then
    rc=-
    tap FAIL "stats: a busy container starts" "$(diag sbusy)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  ctl call AgentService/StatsContainer '{"containerId": "sbusy"}' >"$s1" 2>&1
  local rc1=$?
  sleep 0.5
  ctl call AgentService/StatsContainer '{"containerId": "sbusy"}' >"$s2" 2>&1
  rc=$?
  check "StatsContainer twice: OK, the output is JSON" "$(cat "$s1" "$s2")" eval \
    '[ $rc1 -eq 0 ] && [ $rc -eq 0 ] && jq -e .cgroupStats "$s1" >/dev/null && jq -e .cgroupStats "$s2" >/dev/null'
  local u1 u2
  u1=$(jq -r '.cgroupStats.cpuStats.cpuUsage.totalUsage // 0 | tonumber' "$s1" 2>/dev/null)
  u2=$(jq -r '.cgroupStats.cpuStats.cpuUsage.totalUsage // 0 | tonumber' "$s2" 2>/dev/null)
  check "cpu totalUsage grows under a busy loop ($u1 -> $u2 ns)" "$(cat "$s1" "$s2")" eval \
    '[ -n "$u1" ] && [ -n "$u2" ] && [ "$u1" -gt 0 ] && [ "$u2" -gt "$u1" ]'
  local ncpu
  ncpu=$(awk -F, '{ n = 0; for (i = 1; i <= NF; i++) { if (split($i, r, "-") == 2) n += r[2] - r[1] + 1; else n++ } print n }' \
    /sys/devices/system/cpu/possible)
  check "percpuUsage has one entry per possible cpu ($ncpu)" "$(cat "$s2")" want \
    "$(jq -r '.cgroupStats.cpuStats.cpuUsage.percpuUsage | length' "$s2" 2>&1)" "$ncpu"
  check "usage in user+kernel mode is reported" "$(cat "$s2")" eval \
    '[ "$(jq -r "(.cgroupStats.cpuStats.cpuUsage.usageInUsermode // 0 | tonumber) + (.cgroupStats.cpuStats.cpuUsage.usageInKernelmode // 0 | tonumber)" "$s2")" -gt 0 ]'
  check "memory usage > 0, limit 64 MiB as in the spec" "$(cat "$s2")" eval \
    '[ "$(jq -r ".cgroupStats.memoryStats.usage.usage // 0 | tonumber" "$s2")" -gt 0 ] &&
     [ "$(jq -r ".cgroupStats.memoryStats.usage.limit // 0 | tonumber" "$s2")" = 67108864 ]'
  check "memory stats map carries memory.stat (rss or anon key present)" "$(cat "$s2")" eval \
    'jq -e ".cgroupStats.memoryStats.stats | has(\"rss\") or has(\"total_rss\")" "$s2" >/dev/null'
  check "pids current >= 1, limit 40 as in the spec" "$(cat "$s2")" eval \
    '[ "$(jq -r ".cgroupStats.pidsStats.current // 0 | tonumber" "$s2")" -ge 1 ] &&
     [ "$(jq -r ".cgroupStats.pidsStats.limit // 0 | tonumber" "$s2")" = 40 ]'
  check "networkStats lists the container's interfaces (lo)" "$(cat "$s2")" eval \
    'jq -e "[.networkStats[].name] | index(\"lo\") != null" "$s2" >/dev/null'

  ctl call AgentService/StatsContainer '{"containerId": "nosuch"}' >"$out" 2>&1
  rc=$?
  check "StatsContainer of an unknown container: NOT_FOUND" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  ctl call AgentService/StatsContainer '{"containerId": "../x"}' >"$out" 2>&1
  rc=$?
  check "StatsContainer with an invalid id: INVALID_ARGUMENT" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'

  # A container whose init has exited (created and started by hand, so
  # nothing removes it): cgroup statistics still come, network ones not.
  b=$(bundle sdone true)
  local spec='{"Process": {"Args": ["true"], "Cwd": "/"}, "Root": {"Path": "'"$b"'/rootfs"}, "Linux": {"Namespaces": [{"Type": "mount"}, {"Type": "pid"}]}}'
  ctl call AgentService/CreateContainer "{\"containerId\": \"sdone\", \"OCI\": $spec}" >"$out" 2>&1 &&
    ctl call AgentService/StartContainer '{"containerId": "sdone"}' >>"$out" 2>&1 &&
    ctl call AgentService/WaitProcess '{"containerId": "sdone", "execId": ""}' >>"$out" 2>&1
  ctl call AgentService/StatsContainer '{"containerId": "sdone"}' >"$s1" 2>&1
  rc=$?
  check "StatsContainer after the init exited: OK, cgroup stats, no network stats" \
    "$(cat "$out" "$s1"; diag sdone)" eval \
    '[ $rc -eq 0 ] && jq -e ".cgroupStats.memoryStats.usage" "$s1" >/dev/null &&
     [ "$(jq -r "(.networkStats // []) | length" "$s1")" = 0 ]'
  ctl call AgentService/RemoveContainer '{"containerId": "sdone", "timeout": 20}' >/dev/null 2>&1
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null
  ctl call AgentService/RemoveContainer '{"containerId": "sbusy", "timeout": 20}' >/dev/null 2>&1
  agent_stop
}

# The rest of linux.resources (block IO, hugetlb, network, cpu realtime) on
# this v1 host. net_cls and net_prio are mounted by the test, in the agent's
# private mount namespace only, over the controller-less name=systemd mount
# (no directory is made in the host's /sys/fs/cgroup).
limits_netcg_clean() { # rmdir what is left in the private net_cls,net_prio hierarchy
  [ -n "$agent_pid" ] && [ -e "/proc/$agent_pid" ] || return 0
  nsenter -t "$agent_pid" -m -- sh -c \
    'd=/sys/fs/cgroup/systemd/$1; [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + ; true' \
    sh "$cg_name" 2>/dev/null
}
t_limits() {
  local blk=/sys/fs/cgroup/blkio
  if [ ! -d "$blk" ] || [ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    say "limits: skipped: needs the cgroup v1 blkio and memory controllers"
    return
  fi
  # The device of a real disk (one with a device/ link), else any block device.
  local dev= s
  for s in /sys/block/*; do
    [ -e "$s/device" ] && [ -f "$s/dev" ] && { dev=$(cat "$s/dev"); break; }
  done
  [ -n "$dev" ] || for s in /sys/block/*; do [ -f "$s/dev" ] && { dev=$(cat "$s/dev"); break; }; done
  if [ -z "$dev" ]; then
    say "limits: skipped: no block device in /sys/block"
    return
  fi
  local maj=${dev%%:*} min=${dev##*:}
  local net=no rt=no
  grep -qw net_cls /proc/cgroups && grep -qw net_prio /proc/cgroups && [ -d /sys/fs/cgroup/systemd ] &&
    ! [ -d /sys/fs/cgroup/net_cls ] && net=yes
  [ -f /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] && rt=yes
  if [ $net = yes ]; then
    agent_prep='mount -t cgroup -o net_cls,net_prio cgroup /sys/fs/cgroup/systemd'
  else
    say "limits: network checks skipped: net_cls/net_prio not available to mount"
  fi
  [ $rt = yes ] || say "limits: cpu realtime checks skipped: no cpu.rt_runtime_us (CONFIG_RT_GROUP_SCHED off)"
  agent_start limits
  local started=$?
  agent_prep=
  [ $started -eq 0 ] || return
  if [ $rt = yes ]; then
    # A child's realtime budget comes out of its parent's, which is 0 in a
    # new cgroup: give the private parent 5%.
    mkdir -p "/sys/fs/cgroup/cpu/$cg_name" && echo 50000 >"/sys/fs/cgroup/cpu/$cg_name/cpu.rt_runtime_us" ||
      { rt=no; say "limits: cpu realtime checks skipped: cannot give the parent a realtime budget"; }
  fi
  local b out="$work/limits.out"
  b=$(bundle lm sh -c 'echo ready; exec sleep 1000')
  local res
  res=$(jq -n --argjson maj "$maj" --argjson min "$min" --arg net $net --arg rt $rt '
    {memory: {limit: 67108864},
     blockIO: {weight: 200,
               throttleReadBpsDevice: [{major: $maj, minor: $min, rate: 1048576}],
               throttleWriteIOPSDevice: [{major: $maj, minor: $min, rate: 100}]}}
    + (if $net == "yes" then {network: {classID: 1048577, priorities: [{name: "lo", priority: 5}]}} else {} end)
    + (if $rt == "yes" then {cpu: {realtimePeriod: 100000, realtimeRuntime: 4000}} else {} end)')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = $r' --argjson r "$res"
  ctl run "$b" --id lm </dev/null >"$work/lm.out" 2>"$work/lm.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/lm.out" ready 200; then
    rc=-
    tap FAIL "limits: a container with block IO, network and realtime limits starts" "$(diag lm)"
    kill "$run_pid" 2>/dev/null
    limits_netcg_clean
    agent_stop
    return
  fi
  local bd="$blk/$cg_name/lm" md="/sys/fs/cgroup/memory/$cg_name/lm"
  local nd="/proc/$agent_pid/root/sys/fs/cgroup/systemd/$cg_name/lm" cd="/sys/fs/cgroup/cpu/$cg_name/lm"
  local wf=blkio.weight
  [ -f "$bd/$wf" ] || wf=blkio.bfq.weight
  # line FILE KEY: the value on KEY's line of a list file ("" if none)
  line() { awk -v k="$2" '$1 == k {print $2}' "$1" 2>/dev/null; }
  check "create: blockIO weight 200 is in $wf" "$(diag lm)" want "$(cat "$bd/$wf" 2>&1)" 200
  check "create: throttleReadBpsDevice $dev 1048576 is in blkio.throttle.read_bps_device" "$(diag lm)" \
    want "$(line "$bd/blkio.throttle.read_bps_device" "$dev")" 1048576
  check "create: throttleWriteIOPSDevice $dev 100 is in blkio.throttle.write_iops_device" "$(diag lm)" \
    want "$(line "$bd/blkio.throttle.write_iops_device" "$dev")" 100
  if [ $net = yes ]; then
    check "create: network classID 1048577 is in net_cls.classid" "$(diag lm)" \
      want "$(cat "$nd/net_cls.classid" 2>&1)" 1048577
    check "create: network priority lo 5 is in net_prio.ifpriomap" "$(diag lm)" \
      want "$(line "$nd/net_prio.ifpriomap" lo)" 5
  fi
  if [ $rt = yes ]; then
    check "create: cpu realtime period 100000 / runtime 4000 in cpu.rt_period_us / cpu.rt_runtime_us" \
      "$(diag lm)" want "$(cat "$cd/cpu.rt_period_us" "$cd/cpu.rt_runtime_us" 2>&1 | tr '\n' ' ')" "100000 4000 "
  fi

  local upd
  upd=$(jq -n -c --argjson maj "$maj" --argjson min "$min" --arg net $net --arg rt $rt '
    {BlockIO: {Weight: 300, ThrottleReadBpsDevice: [{Major: $maj, Minor: $min, Rate: 2097152}]}}
    + (if $net == "yes" then {Network: {ClassID: 1048578, Priorities: [{Name: "lo", Priority: 7}]}} else {} end)
    + (if $rt == "yes" then {CPU: {RealtimeRuntime: 5000}} else {} end)')
  ctl call AgentService/UpdateContainer "{\"containerId\": \"lm\", \"resources\": $upd}" >"$out" 2>&1
  rc=$?
  check "UpdateContainer: weight 300 and read bps 2097152 written, write iops untouched" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$bd/$wf")" = 300 ] &&
     [ "$(line "$bd/blkio.throttle.read_bps_device" "$dev")" = 2097152 ] &&
     [ "$(line "$bd/blkio.throttle.write_iops_device" "$dev")" = 100 ]'
  if [ $net = yes ]; then
    check "UpdateContainer: classID 1048578 and lo priority 7 written" "$(cat "$out"; diag lm)" eval \
      '[ "$(cat "$nd/net_cls.classid")" = 1048578 ] && [ "$(line "$nd/net_prio.ifpriomap" lo)" = 7 ]'
  fi
  if [ $rt = yes ]; then
    check "UpdateContainer: rt runtime 5000, rt period untouched" "$(cat "$out"; diag lm)" eval \
      '[ "$(cat "$cd/cpu.rt_runtime_us")" = 5000 ] && [ "$(cat "$cd/cpu.rt_period_us")" = 100000 ]'
  fi

  # Refused before anything is written: the memory limit of the same
  # request stays as it was.
  ctl call AgentService/UpdateContainer \
    '{"containerId": "lm", "resources": {"Memory": {"Limit": 33554432}, "BlockIO": {"Weight": 5}}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer blockIO weight 5: INVALID_ARGUMENT naming weight; memory limit kept" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "weight 5" "$out" &&
     [ "$(cat "$md/memory.limit_in_bytes")" = 67108864 ] && [ "$(cat "$bd/$wf")" = 300 ]'
  ctl call AgentService/UpdateContainer \
    '{"containerId": "lm", "resources": {"BlockIO": {"Weight": 400}, "HugepageLimits": [{"Pagesize": "3MB", "Limit": 0}]}}' \
    >"$out" 2>&1
  rc=$?
  check "UpdateContainer hugepage size 3MB: INVALID_ARGUMENT naming it; weight kept" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "3MB" "$out" && [ "$(cat "$bd/$wf")" = 300 ]'
  ctl call AgentService/UpdateContainer \
    '{"containerId": "lm", "resources": {"BlockIO": {"Weight": 400}, "Network": {"ClassID": 7, "Priorities": [{"Name": "a/b", "Priority": 1}]}}}' \
    >"$out" 2>&1
  rc=$?
  check "UpdateContainer interface name a/b: INVALID_ARGUMENT naming it; weight kept" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "a/b" "$out" && [ "$(cat "$bd/$wf")" = 300 ]'
  if [ $net = yes ]; then
    check "... and classID kept" "$(diag lm)" want "$(cat "$nd/net_cls.classid" 2>&1)" 1048578
  fi

  # Refused by the kernel half way (no device 4095:1048575): the weight, the
  # read bps line and the new write bps line written before it are undone.
  upd=$(jq -n -c --argjson maj "$maj" --argjson min "$min" '
    {BlockIO: {Weight: 400,
      ThrottleReadBpsDevice: [{Major: $maj, Minor: $min, Rate: 4194304}],
      ThrottleWriteBpsDevice: [{Major: $maj, Minor: $min, Rate: 1000000}],
      ThrottleWriteIOPSDevice: [{Major: 4095, Minor: 1048575, Rate: 1}]}}')
  ctl call AgentService/UpdateContainer "{\"containerId\": \"lm\", \"resources\": $upd}" >"$out" 2>&1
  rc=$?
  check "UpdateContainer with a throttle on a missing device: INVALID_ARGUMENT naming the file" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q blkio.throttle.write_iops_device "$out"'
  check "... weight, read bps restored, the new write bps rule removed" "$(cat "$out"; diag lm)" eval \
    '[ "$(cat "$bd/$wf")" = 300 ] && [ "$(line "$bd/blkio.throttle.read_bps_device" "$dev")" = 2097152 ] &&
     [ -z "$(line "$bd/blkio.throttle.write_bps_device" "$dev")" ]'

  # hugetlb: on this hybrid host it is bound to the cgroup2, which the agent
  # does not use; with a v1 hugetlb hierarchy the limit is read back.
  local hp=
  for s in /sys/kernel/mm/hugepages/hugepages-2048kB /sys/kernel/mm/hugepages/hugepages-*; do
    [ -d "$s" ] && { hp=$s; break; }
  done
  if [ -z "$hp" ]; then
    say "limits: hugetlb checks skipped: the kernel has no huge page sizes"
  else
    local kb=${hp##*hugepages-} name
    kb=${kb%kB}
    if [ "$kb" -ge 1048576 ]; then name=$((kb / 1048576))GB
    elif [ "$kb" -ge 1024 ]; then name=$((kb / 1024))MB; else name=${kb}KB; fi
    ctl call AgentService/UpdateContainer \
      "{\"containerId\": \"lm\", \"resources\": {\"HugepageLimits\": [{\"Pagesize\": \"$name\", \"Limit\": 4194304}]}}" \
      >"$out" 2>&1
    rc=$?
    if [ -d /sys/fs/cgroup/hugetlb ]; then
      check "UpdateContainer hugepage $name limit 4 MiB is in hugetlb.$name.limit_in_bytes" \
        "$(cat "$out"; diag lm)" eval \
        '[ $rc -eq 0 ] && [ "$(cat "/sys/fs/cgroup/hugetlb/$cg_name/lm/hugetlb.$name.limit_in_bytes")" = 4194304 ]'
    else
      say "limits: hugetlb read-back skipped: no v1 hugetlb hierarchy (it is on the cgroup2 here)"
      check "UpdateContainer hugepage $name without a v1 hugetlb hierarchy: FAILED_PRECONDITION naming hugetlb" \
        "$(cat "$out"; diag lm)" eval \
        '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out" && grep -q hugetlb "$out"'
    fi
  fi

  ctl call AgentService/RemoveContainer '{"containerId": "lm", "timeout": 20}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer: OK, blkio cgroup gone" "$(cat "$out"; diag lm)" eval \
    '[ $rc -eq 0 ] && [ ! -d "$bd" ]'
  if [ $net = yes ]; then
    check "... and the net_cls,net_prio one" "$(diag lm)" eval '[ ! -d "$nd" ]'
  fi
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null

  # A refused value at create: nothing is left behind.
  b=$(bundle lbad true)
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {blockIO: {weight: 5}}'
  run_ lbad "$b"
  check "create with blockIO weight 5: INVALID_ARGUMENT, no cgroup left" "$(diag lbad)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/lbad.err" && [ ! -d "$blk/$cg_name/lbad" ]'
  limits_netcg_clean
  agent_stop
}

# Device rules (linux.resources.devices) on the v1 devices controller: the
# upstream defaults, then the spec's rules (its leading "deny all" dropped, as
# upstream does), last match wins; UpdateContainer appends; a bad rule is
# refused and what was in force stays.
t_devices() {
  if [ ! -f /sys/fs/cgroup/devices/devices.list ]; then
    say "devices: skipped: needs the cgroup v1 devices controller"
    return
  fi
  agent_start devices || return
  local b out="$work/dev.out" last
  # Every 0.2 s: can it write /dev/null, read /dev/zero, write /dev/zero?
  b=$(bundle dv sh -c 'while :; do
      s=st; if (echo x >/dev/null) 2>/dev/null; then s="$s null:ok"; else s="$s null:no"; fi
      if (head -c1 </dev/zero >/dev/null) 2>/dev/null; then s="$s zero:ok"; else s="$s zero:no"; fi
      if (echo x >/dev/zero) 2>/dev/null; then s="$s zerow:ok"; else s="$s zerow:no"; fi
      echo "$s"; sleep 0.2; done')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {devices: [
      {allow: false, access: "rwm"},
      {allow: true, type: "c", major: 1, minor: 3, access: "rwm"},
      {allow: false, type: "c", major: 1, minor: 5, access: "rwm"}]}'
  ctl run "$b" --id dv </dev/null >"$work/dv.out" 2>"$work/dv.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/dv.out" '^st ' 200; then
    rc=-
    tap FAIL "devices: a container with device rules starts" "$(diag dv)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  local list="/sys/fs/cgroup/devices/$cg_name/dv/devices.list"
  check "create: /dev/null writable, /dev/zero not openable (c 1:5 denied)" "$(diag dv)" \
    want "$(tail -n1 "$work/dv.out")" "st null:ok zero:no zerow:no"
  check "create: devices.list has the defaults and c 1:3, no c 1:5, no 'a'" "$(cat "$list" 2>&1)" eval \
    'grep -qx "c 1:3 rwm" "$list" && grep -qx "c 136:\* rwm" "$list" && grep -qx "c \*:\* m" "$list" &&
     ! grep -q "^c 1:5 " "$list" && ! grep -q "^a " "$list"'

  ctl call AgentService/UpdateContainer '{"containerId": "dv", "resources": {"Devices": [
      {"Allow": true, "Type": "c", "Major": 1, "Minor": 5, "Access": "r"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer allowing c 1:5 r: /dev/zero readable, still not writable" \
    "$(cat "$out"; cat "$list"; diag dv)" eval \
    '[ $rc -eq 0 ] && grep -qx "c 1:5 r" "$list" && wait_for_file_text "$work/dv.out" "st null:ok zero:ok zerow:no" 50'

  local before
  before=$(cat "$list")
  ctl call AgentService/UpdateContainer '{"containerId": "dv", "resources": {"Devices": [
      {"Allow": true, "Type": "c", "Major": 1, "Minor": 7, "Access": "rw"},
      {"Allow": true, "Type": "x", "Major": 1, "Minor": 9, "Access": "q"}]}}' >"$out" 2>&1
  rc=$?
  sleep 0.5
  last=$(tail -n1 "$work/dv.out")
  check "UpdateContainer with type x: INVALID_ARGUMENT naming devices[1]; rules unchanged" \
    "$(cat "$out"; cat "$list"; echo "$last")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "devices\[1\]: type" "$out" &&
     [ "$(cat "$list")" = "$before" ] && [ "$last" = "st null:ok zero:ok zerow:no" ]'
  ctl call AgentService/UpdateContainer '{"containerId": "dv", "resources": {"Devices": [
      {"Allow": true, "Type": "c", "Major": 1, "Minor": 5, "Access": "q"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer with access q: INVALID_ARGUMENT naming devices[0]; rules unchanged" \
    "$(cat "$out"; cat "$list")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "devices\[0\]: access" "$out" &&
     [ "$(cat "$list")" = "$before" ]'

  ctl call AgentService/RemoveContainer '{"containerId": "dv", "timeout": 20}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer: OK, devices cgroup gone" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ ! -d "/sys/fs/cgroup/devices/$cg_name/dv" ]'
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null

  b=$(bundle dvbad true)
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {devices: [{allow: true, type: "c", major: -7, minor: 3, access: "rw"}]}'
  run_ dvbad "$b"
  check "create with major -7: INVALID_ARGUMENT, nothing left" "$(diag dvbad)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/dvbad.err" && [ ! -d "/sys/fs/cgroup/devices/$cg_name/dvbad" ]'
  agent_stop
}

# metric_value FILE SAMPLE-PREFIX: the value of the first sample line that
# starts with SAMPLE-PREFIX followed by a space.
metric_value() { awk -v p="$2" 'index($0, p " ") == 1 { print $NF; exit }' "$1"; }
# start_time PID: the process's start, seconds since the epoch, as GetMetrics
# computes it (btime + starttime / CLK_TCK), to two decimals.
start_time() {
  local st btime hz
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)
  btime=$(awk '/^btime / {print $2}' /proc/stat)
  hz=$(getconf CLK_TCK)
  [ -n "$st" ] && awk -v b="$btime" -v s="$st" -v h="$hz" 'BEGIN { printf "%.2f\n", b + s / h }'
}
# prom_check FILE: Prometheus text 0.0.4 syntax; prints what is wrong.
prom_check() {
  python3 - "$1" <<'EOF'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
value = r'(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]Inf|NaN)'
sample = re.compile(r'^(%s)(?:\{(?:%s(?:,%s)*)?\})? %s(?: -?[0-9]+)?$' % (name, label, label, value))
text = open(sys.argv[1], encoding='utf-8').read()
bad = []
types = {}
if not text.endswith('\n'):
    bad.append('no final newline')
for line in text.split('\n')[:-1]:
    if line.startswith('# TYPE '):
        f = line.split()
        if len(f) != 4 or f[3] not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
            bad.append('bad TYPE line: ' + line)
        elif f[2] in types:
            bad.append('second TYPE line for ' + f[2])
        else:
            types[f[2]] = True
    elif line.startswith('#'):
        continue
    else:
        m = sample.match(line)
        if not m:
            bad.append('not a sample: ' + line)
        elif m.group(1) not in types:
            bad.append('sample before its TYPE line: ' + line)
for b in bad[:10]:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

t_metrics() {
  agent_start metrics || return
  local b out="$work/metrics.out" txt="$work/metrics.txt"
  b=$(bundle msleeper sh -c 'echo ready; exec sleep 1000')
  ctl run "$b" --id ms </dev/null >"$work/ms.out" 2>"$work/ms.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/ms.out" ready 200; then
    rc=-
    tap FAIL "metrics: a container starts" "$(diag ms)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  local mon launcher
  mon=$(child_named "$executor_pid" kata-agent-moni)
  launcher=$(child_named "$mon" kata-agent-exec)

  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  rc=$?
  jq -j .metrics "$out" >"$txt" 2>/dev/null
  check "GetMetrics answers with text" "$(head -c 1000 "$out")" \
    eval '[ $rc -eq 0 ] && [ -s "$txt" ] && [ "$(metric_value "$txt" kata_agent_scrape_count)" = 1 ]'
  local role pid p ok=1 why=
  for role in parent frontend executor monitor; do
    case $role in
      parent) pid=$agent_pid; p="process=\"parent\"" ;;
      frontend) pid=$frontend_pid; p="process=\"frontend\"" ;;
      executor) pid=$executor_pid; p="process=\"executor\"" ;;
      monitor) pid=$mon; p="process=\"monitor\",container_id=\"ms\"" ;;
    esac
    # the start time names the process: it must be the one we know by pid
    if [ -z "$pid" ] || [ "$(metric_value "$txt" "kata_agent_start_time_seconds{$p}")" != "$(start_time "$pid")" ]; then
      ok=0; why="$why $role(pid ${pid:-?}): start time $(metric_value "$txt" "kata_agent_start_time_seconds{$p}") != $(start_time "${pid:-0}");"
    fi
    for f in threads total_time total_vm total_rss open_fds max_fds; do
      [ -n "$(metric_value "$txt" "kata_agent_${f}{$p}")" ] || { ok=0; why="$why no kata_agent_${f}{$p};"; }
    done
    grep -q "^kata_agent_proc_status{$p,item=\"vmrss\"} [0-9]" "$txt" || { ok=0; why="$why no vmrss for $role;"; }
  done
  check "kata_agent_* families for parent, frontend, executor and the container's monitor (their start times match their pids)" \
    "$why" want "$ok" 1
  if [ -n "$launcher" ]; then
    check "the container's launcher is there too" "launcher pid $launcher" \
      want "$(metric_value "$txt" "kata_agent_start_time_seconds{process=\"launcher\",container_id=\"ms\"}")" \
      "$(start_time "$launcher")"
  fi
  check "the monitor's max_fds is its RLIMIT_NOFILE" "$(grep "^Max open files" "/proc/$mon/limits")" \
    want "$(metric_value "$txt" "kata_agent_max_fds{process=\"monitor\",container_id=\"ms\"}")" \
    "$(awk '/^Max open files/ {print $4}' "/proc/$mon/limits")"
  local fam missing=
  for fam in 'kata_guest_meminfo{item="mem_total"}' 'kata_guest_load{item="load1"}' \
    'kata_guest_tasks{item="cur"}' 'kata_guest_cpu_time{cpu="total",item="user"}' \
    'kata_guest_vm_stat{item="pgfault"}' 'kata_guest_netdev_stat{interface="lo",item="recv_bytes"}'; do
    [ -n "$(metric_value "$txt" "$fam")" ] || missing="$missing $fam"
  done
  if [ -s /proc/diskstats ]; then
    local disk
    disk=$(awk 'NR == 1 {print $3}' /proc/diskstats)
    [ -n "$(metric_value "$txt" "kata_guest_diskstat{disk=\"$disk\",item=\"reads\"}")" ] ||
      missing="$missing diskstat($disk)"
  fi
  check "kata_guest_* families: meminfo, load, tasks, cpu_time, vm_stat, netdev_stat, diskstat" \
    "missing:$missing" want "$missing" ""
  check "the mem_total is /proc/meminfo's MemTotal in bytes" "" \
    want "$(metric_value "$txt" 'kata_guest_meminfo{item="mem_total"}')" \
    "$(awk '/^MemTotal:/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo)"
  check "every line is a comment or a Prometheus sample; one TYPE line per family" \
    "$(prom_check "$txt" 2>&1)" prom_check "$txt"

  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  check "a second GetMetrics counts the scrape" "$(head -c 500 "$out")" \
    want "$(jq -r .metrics "$out" | awk '$1 == "kata_agent_scrape_count" {print $2}')" 2

  # A restarted front-end is reported under its new pid (CTL_NEW_FRONTEND
  # carries it to the executor).
  local fe_old=$frontend_pid fe_new=
  kill -KILL "$fe_old" 2>/dev/null
  for _ in $(seq 1 100); do
    fe_new=$(child_named "$agent_pid" kata-agent-fron)
    [ -n "$fe_new" ] && [ "$fe_new" != "$fe_old" ] && ctl check >/dev/null 2>&1 && break
    sleep 0.1
  done
  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  jq -j .metrics "$out" >"$txt" 2>/dev/null
  check "after a front-end restart, process=\"frontend\" is the new front-end" \
    "old $fe_old new $fe_new; $(grep 'start_time_seconds{process="frontend"' "$txt")" \
    eval '[ -n "$fe_new" ] && [ "$fe_new" != "$fe_old" ] &&
      [ "$(metric_value "$txt" "kata_agent_start_time_seconds{process=\"frontend\"}")" = "$(start_time "$fe_new")" ]'

  ctl call AgentService/RemoveContainer '{"containerId": "ms", "timeout": 20}' >/dev/null 2>&1
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null
  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  rc=$?
  check "with the container gone, GetMetrics answers without its monitor" "$(head -c 500 "$out")" \
    eval '[ $rc -eq 0 ] && ! jq -r .metrics "$out" | grep "container_id=\"ms\"" >/dev/null'
  agent_stop

  # A text above 64 KiB travels in a sealed memfd, which the confined
  # front-end must map: an agent in its own network namespace with 400
  # bridges (16 netdev samples each) answers with about 400 KiB.
  work="$top/metrics-big"
  mkdir -p "$work/shared"
  addr="unix://$work/agent.sock"
  cg_name="kata-test-$$-metrics-big"
  echo "agent.server_addr=$addr agent.log=${KATA_TEST_LOG:-info}" >"$work/cmdline"
  cat >"$work/netns.sh" <<EOF
#!/bin/sh
ip link set lo up || exit 1
i=0
while [ \$i -lt 400 ]; do i=\$((i + 1)); ip link add br\$i type bridge || exit 1; done
exec "$agent" --cmdline "$work/cmdline" --shared-dir "$work/shared" --cgroup-parent "/$cg_name"
EOF
  chmod +x "$work/netns.sh"
  setsid unshare -m -n --propagation private -- "$work/netns.sh" >"$work/agent.log" 2>&1 </dev/null &
  agent_pid=$!
  for _ in $(seq 1 150); do
    [ -S "$work/agent.sock" ] && ctl check >/dev/null 2>&1 && break
    sleep 0.1
  done
  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  rc=$?
  jq -j .metrics "$out" >"$txt" 2>/dev/null
  check "a 400 KiB metrics text (memfd) reaches the host whole and valid" \
    "$(head -c 300 "$out"; tail -n 5 "$work/agent.log")" eval \
    '[ $rc -eq 0 ] && [ "$(stat -c %s "$txt")" -gt 262144 ] &&
     [ -n "$(metric_value "$txt" "kata_guest_netdev_stat{interface=\"br400\",item=\"sent_compressed\"}")" ] &&
     prom_check "$txt" >/dev/null'
  agent_stop
}

# GetOOMEvent: the executor's OOM watches (v1 eventfd here) and its event
# queue, the front-end's long poll, deadlines, a front-end restart, shutdown.
t_oom() {
  if [ ! -f /sys/fs/cgroup/memory/memory.oom_control ]; then
    say "oom: skipped: needs the cgroup v1 memory controller"
    return
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
    jqset "$d" 'del(.linux.cgroupsPath) |
      .linux.resources = {memory: {limit: 33554432, swap: 33554432}}' || return 1
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
  sleep 0.3
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
  jqset "$b" 'del(.linux.cgroupsPath) |
    .linux.resources = {memory: {limit: 33554432, swap: 33554432}}'
  ctl --timeout 60 call AgentService/GetOOMEvent '{}' >"$work/evlive.out" 2>&1 &
  ev_pid=$!
  sleep 0.3
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

  # Stopping the agent answers a waiting call at once.
  ctl call AgentService/GetOOMEvent '{}' >"$work/evstop.out" 2>&1 &
  ev_pid=$!
  sleep 0.5
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

# Guest-wide requests (agentd/executor/guest_ops.c): CopyFile below the
# shared dir (chunks, directories, symlinks, owner and mode, refusals that
# write nothing), GetVolumeStats, ReseedRandomDev; SetGuestDateTime only
# with refused values (a valid one would set this host's clock: the VM
# suite sets it in a guest).
t_guest() {
  agent_start guest || return
  local out="$work/guest.out" cf="$shared/cf"
  b64() { printf '%s' "$1" | base64 -w0; }
  copy() { # copy JSON-FIELDS: CopyFile with these fields
    ctl call AgentService/CopyFile "{$1}" >"$out" 2>&1
  }
  copy "\"path\": \"$cf/a/b.txt\", \"fileSize\": 6, \"fileMode\": $((0100640)), \"dirMode\": $((0750)),
    \"uid\": 1000, \"gid\": 1001, \"data\": \"$(b64 'hello
')\""
  rc=$?
  check "CopyFile of a small file: content, mode 640, owner 1000:1001, new dirs 750" \
    "$(cat "$out"; ls -la "$cf/a" 2>&1)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$cf/a/b.txt")" = hello ] &&
     [ "$(stat -c %a:%u:%g "$cf/a/b.txt")" = 640:1000:1001 ] && [ "$(stat -c %a "$cf/a")" = 750 ]'

  # three chunks, in order: the file appears whole with the last one; a
  # chunk out of order is refused
  local f="\"path\": \"$cf/chunked\", \"fileSize\": 12, \"fileMode\": $((0100644)), \"uid\": -1, \"gid\": -1"
  copy "$f, \"offset\": 0, \"data\": \"$(b64 aaaa)\""
  rc=$?
  check "CopyFile: the first of three chunks: nothing at the path yet" "$(cat "$out"; ls -la "$cf")" eval \
    '[ $rc -eq 0 ] && [ ! -e "$cf/chunked" ]'
  copy "$f, \"offset\": 8, \"data\": \"$(b64 cccc)\""
  rc=$?
  check "CopyFile: a chunk out of order: INVALID_ARGUMENT, still nothing at the path" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$cf/chunked" ]'
  copy "$f, \"offset\": 4, \"data\": \"$(b64 bbbb)\"" && copy "$f, \"offset\": 8, \"data\": \"$(b64 cccc)\""
  rc=$?
  check "CopyFile: the second and third chunks complete it (aaaabbbbcccc), no temporary file left" \
    "$(cat "$out"; ls -la "$cf")" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$cf/chunked")" = aaaabbbbcccc ] && [ -z "$(ls "$cf" | grep kata-copy)" ]'

  copy "\"path\": \"$cf/d\", \"fileMode\": $((040700)), \"uid\": 1000, \"gid\": 1000"
  rc=$?
  check "CopyFile of a directory: mode 700, owner 1000" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -d "$cf/d" ] && [ "$(stat -c %a:%u "$cf/d")" = 700:1000 ]'
  copy "\"path\": \"$cf/a/link\", \"fileMode\": $((0120777)), \"data\": \"$(b64 b.txt)\"" &&
    copy "\"path\": \"$cf/a/link\", \"fileMode\": $((0120777)), \"data\": \"$(b64 ..data/b.txt)\""
  rc=$?
  check "CopyFile of a symlink, then again with a new target: replaced" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(readlink "$cf/a/link")" = ..data/b.txt ]'
  copy "\"path\": \"$cf/s\", \"fileSize\": 1, \"fileMode\": $((0106755)), \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile with setuid and setgid bits: written without them (755)" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(stat -c %a "$cf/s")" = 755 ]'

  # refusals, each leaving nothing behind
  local outside="$work/outside"
  mkdir -p "$outside"
  ln -s "$outside" "$shared/evil"
  copy "\"path\": \"$shared/evil/f\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile through a symlink that leaves the shared dir: refused, nothing written outside" \
    "$(cat "$out"; ls -la "$outside")" eval '[ $rc -ne 0 ] && [ -z "$(ls -A "$outside")" ]'
  mkfifo "$cf/fifo.kata-copy"
  copy "\"path\": \"$cf/fifo\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile onto a planted fifo (its temporary name): refused at once, the executor not blocked" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && [ -p "$cf/fifo.kata-copy" ] && ctl check >/dev/null'
  rm -f "$cf/fifo.kata-copy"
  copy "\"path\": \"$shared/../escape\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile with a .. component: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$work/escape" ]'
  copy "\"path\": \"/etc/kata-copy-test\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile outside the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -e /etc/kata-copy-test ]'
  copy "\"path\": \"$cf/big\", \"fileSize\": 4, \"offset\": 2, \"data\": \"$(b64 xyz)\""
  rc=$?
  check "CopyFile with data past file_size: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$cf/big.kata-copy" ]'
  copy "\"path\": \"$cf/abs\", \"fileMode\": $((0120777)), \"data\": \"$(b64 /etc/shadow)\""
  rc=$?
  check "CopyFile of a symlink to an absolute target: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -L "$cf/abs" ]'
  copy "\"path\": \"$cf/up\", \"fileMode\": $((0120777)), \"data\": \"$(b64 ../../x)\""
  rc=$?
  check "CopyFile of a symlink with a .. target: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -L "$cf/up" ]'
  copy "\"path\": \"$cf/fifo\", \"fileMode\": $((010644))"
  rc=$?
  check "CopyFile of a fifo: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$cf/fifo" ]'

  ctl call AgentService/GetVolumeStats "{\"volumeGuestPath\": \"$cf\"}" >"$out" 2>&1
  rc=$?
  local want
  want=$(stat -f -c '%b %S' "$cf" | awk '{ printf "%.0f\n", $1 * $2 }')
  check "GetVolumeStats: bytes total as statfs says ($want), inodes, condition OK" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(jq -r ".usage[0].total" "$out")" = "$want" ] &&
     [ "$(jq -r ".usage[1].unit" "$out")" = INODES ] && [ "$(jq -r ".volumeCondition.message" "$out")" = OK ]'
  ctl call AgentService/GetVolumeStats '{"volumeGuestPath": "/etc"}' >"$out" 2>&1
  rc=$?
  check "GetVolumeStats outside the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'

  ctl call AgentService/ReseedRandomDev "{\"data\": \"$(head -c 64 /dev/urandom | base64 -w0)\"}" >"$out" 2>&1
  rc=$?
  check "ReseedRandomDev with 64 bytes: OK" "$(cat "$out"; tail -3 "$work/agent.log")" eval '[ $rc -eq 0 ]'
  ctl call AgentService/ReseedRandomDev '{}' >"$out" 2>&1
  rc=$?
  check "ReseedRandomDev without data: INVALID_ARGUMENT (missing entropy data)" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  # OnlineCPUMem: nothing to online here (no CPU asked for, memory left
  # alone: this host's blocks must not change); the scan itself is
  # unit-tested on a fake sysfs (tests/unit/test_guest_online.c)
  ctl call AgentService/OnlineCPUMem '{"wait": true, "nbCpus": 0, "cpuOnly": true}' >"$out" 2>&1
  rc=$?
  check "OnlineCPUMem with nothing to online: OK" "$(cat "$out")" eval '[ $rc -eq 0 ]'
  ctl call AgentService/OnlineCPUMem '{"wait": true, "nbCpus": 5000, "cpuOnly": true}' >"$out" 2>&1
  rc=$?
  check "OnlineCPUMem of 5000 CPUs: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  # MemHotplugByProbe: this host's kernel has no probe file (x86 without
  # CONFIG_ARCH_MEMORY_PROBE), so the executor says so and probes nothing
  if [ ! -e /sys/devices/system/memory/probe ]; then
    ctl call AgentService/MemHotplugByProbe '{"memHotplugProbeAddr": ["4294967296"]}' >"$out" 2>&1
    rc=$?
    check "MemHotplugByProbe without a probe file: FAILED_PRECONDITION naming it" "$(cat "$out")" eval \
      '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out" && grep -q memory/probe "$out"'
  fi
  ctl call AgentService/MemHotplugByProbe '{"memHotplugProbeAddr": []}' >"$out" 2>&1
  rc=$?
  check "MemHotplugByProbe with no address: OK, nothing done" "$(cat "$out")" eval '[ $rc -eq 0 ]'
  # CreateSandbox's DNS: written below the shared dir; stand-alone (not the
  # guest's init) this host's /etc/resolv.conf is left alone
  local resolv_before
  resolv_before=$(sha256sum /etc/resolv.conf 2>/dev/null)
  ctl call AgentService/CreateSandbox '{"hostname": "h", "dns": ["nameserver 10.0.0.53", "search example.test"]}' \
    >"$out" 2>&1
  rc=$?
  check "CreateSandbox with dns: $shared/sandbox/resolv.conf has the lines, the host's resolv.conf untouched" \
    "$(cat "$out"; cat "$shared/sandbox/resolv.conf" 2>&1)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$shared/sandbox/resolv.conf")" = "nameserver 10.0.0.53
search example.test" ] && [ "$(sha256sum /etc/resolv.conf 2>/dev/null)" = "$resolv_before" ]'
  ctl call AgentService/CreateSandbox '{"hostname": "h", "dns": ["nameserver 10.0.0.53\nnameserver 6.6.6.6"]}' \
    >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a dns line holding a newline: INVALID_ARGUMENT, file unchanged" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && ! grep -q 6.6.6.6 "$shared/sandbox/resolv.conf"'
  # shared filesystem storages (virtio-fs, 9p): this host has no such
  # device, so the mount fails cleanly and leaves no mount point behind
  ctl call AgentService/CreateSandbox "{\"storages\": [{\"driver\": \"9p\", \"source\": \"nosuchtag\",
    \"fstype\": \"9p\", \"options\": [\"trans=virtio\"], \"mountPoint\": \"$shared/s9p\"}]}" >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a 9p storage of an unknown tag: refused, no mount point left" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && [ ! -e "$shared/s9p" ] && ! grep -q " $shared/s9p " /proc/$agent_pid/mounts'
  ctl call AgentService/CreateSandbox "{\"storages\": [{\"driver\": \"virtio-fs\", \"source\": \"a,b\",
    \"fstype\": \"virtiofs\", \"mountPoint\": \"$shared/svfs\"}]}" >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a virtio-fs tag a,b: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$shared/svfs" ]'
  # kernel modules: only refusals here (a real module would change this
  # host; the VM suite loads one)
  ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "../evil"}]}' >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a module named ../evil: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "dummy", "parameters": ["-r"]}]}' >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a module parameter -r (a modprobe option): INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  if command -v modprobe >/dev/null; then
    ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "kata_no_such_module"}]}' >"$out" 2>&1
    rc=$?
    check "CreateSandbox with a module that does not exist: an error carrying modprobe's words" "$(cat "$out")" eval \
      '[ $rc -ne 0 ] && grep -q "modprobe exited" "$out" && grep -qi "not found" "$out"'
  fi
  # AddSwapPath: only refusals here (a valid one would add swap to this
  # host; the VM suite swaps on a file)
  ctl call AgentService/AddSwapPath '{"path": "/etc/passwd"}' >"$out" 2>&1
  rc=$?
  check "AddSwapPath outside the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'
  head -c 8192 /dev/zero >"$shared/tiny-swap"
  ctl call AgentService/AddSwapPath "{\"path\": \"$shared/tiny-swap\"}" >"$out" 2>&1
  rc=$?
  check "AddSwapPath on an 8 KiB file: INVALID_ARGUMENT (too small), the file untouched" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ -z "$(tr -d "\\0" <"$shared/tiny-swap")" ]'
  ctl call AgentService/AddSwapPath "{\"path\": \"$cf\"}" >"$out" 2>&1
  rc=$?
  check "AddSwapPath on a directory: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  # UpdateEphemeralMounts: a tmpfs storage of 1 MiB grows to 2 MiB (seen
  # from the agent's mount namespace)
  local eph="$shared/eph" tmpfs_bytes
  tmpfs_bytes() { nsenter -t "$agent_pid" -m stat -f -c '%b %S' "$eph" 2>/dev/null | awk '{ printf "%.0f\n", $1 * $2 }'; }
  ctl call AgentService/CreateSandbox "{\"storages\": [{\"driver\": \"ephemeral\", \"source\": \"tmpfs\",
    \"fstype\": \"tmpfs\", \"options\": [\"size=1m\"], \"mountPoint\": \"$eph\"}]}" >"$out" 2>&1
  rc=$?
  check "an ephemeral storage of 1 MiB" "$(cat "$out"; tmpfs_bytes)" eval '[ $rc -eq 0 ] && [ "$(tmpfs_bytes)" = 1048576 ]'
  ctl call AgentService/UpdateEphemeralMounts "{\"storages\": [{\"driver\": \"ephemeral\", \"source\": \"tmpfs\",
    \"fstype\": \"tmpfs\", \"options\": [\"size=2m\", \"fsgid=5\"], \"mountPoint\": \"$eph\"}]}" >"$out" 2>&1
  rc=$?
  check "UpdateEphemeralMounts size=2m: the tmpfs is 2 MiB now" "$(cat "$out"; tmpfs_bytes)" eval \
    '[ $rc -eq 0 ] && [ "$(tmpfs_bytes)" = 2097152 ]'
  ctl call AgentService/UpdateEphemeralMounts "{\"storages\": [{\"driver\": \"ephemeral\",
    \"options\": [\"size=3m\"], \"mountPoint\": \"$cf\"}]}" >"$out" 2>&1
  rc=$?
  check "UpdateEphemeralMounts of a directory that is no ephemeral storage: NOT_FOUND" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  ctl call AgentService/UpdateEphemeralMounts "{\"storages\": [{\"driver\": \"local\", \"mountPoint\": \"$eph\"}]}" \
    >"$out" 2>&1
  rc=$?
  check "UpdateEphemeralMounts of a local storage: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/SetGuestDateTime '{"Sec": 1700000000, "Usec": 2000000}' >"$out" 2>&1
  rc=$?
  check "SetGuestDateTime with 2000000 us: INVALID_ARGUMENT (the clock is not touched)" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  agent_stop
}

# The guest network RPCs (agentd/executor/network.c) against an agent in a
# network namespace of its own, with a veth pair made there: this host's
# network is never touched.
t_network() {
  agent_netns=1 agent_start network || return
  local out="$work/net.out" ns=(nsenter -t "$agent_pid" -n)
  if ! "${ns[@]}" ip link add kv0 type veth peer name kv1 2>"$out" ||
    ! "${ns[@]}" ip link set kv0 address 02:42:ac:11:00:02 2>>"$out"; then
    say "network: skipped: cannot make a veth pair ($(cat "$out"))"
    agent_stop
    return
  fi
  local host_links
  host_links=$(ip -br link | wc -l)
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:00:02",
    "mtu": 1400, "IPAddresses": [{"address": "172.17.0.2", "mask": "16"}, {"family": "v6", "address": "fd00::2", "mask": "64"}]}}' \
    >"$out" 2>&1
  rc=$?
  check "UpdateInterface: kv0 found by MAC, renamed eth0, mtu 1400, 172.17.0.2/16, up" \
    "$(cat "$out"; "${ns[@]}" ip addr)" eval \
    '[ $rc -eq 0 ] && "${ns[@]}" ip -o link show eth0 | grep "mtu 1400" >/dev/null &&
     "${ns[@]}" ip -o addr show eth0 | grep "inet 172.17.0.2/16" >/dev/null &&
     "${ns[@]}" ip -o link show eth0 | grep "[<,]UP[,>]" >/dev/null && [ "$(jq -r .name "$out")" = eth0 ]'
  ctl call AgentService/UpdateRoutes '{"routes": {"Routes": [
      {"dest": "", "gateway": "172.17.0.1", "device": "eth0"},
      {"dest": "10.10.0.0/24", "device": "eth0", "scope": 253}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateRoutes: a link route and a default route via 172.17.0.1 (link route first)" \
    "$(cat "$out"; "${ns[@]}" ip route)" eval \
    '[ $rc -eq 0 ] && "${ns[@]}" ip route | grep "^default via 172.17.0.1 dev eth0" >/dev/null &&
     "${ns[@]}" ip route | grep "^10.10.0.0/24 dev eth0" >/dev/null'
  ctl call AgentService/ListRoutes '{}' >"$out" 2>&1
  rc=$?
  check "ListRoutes: the default route and 10.10.0.0/24 on eth0" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && jq -e ".Routes[] | select(.gateway == \"172.17.0.1\" and .device == \"eth0\")" "$out" >/dev/null &&
     jq -e ".Routes[] | select(.dest == \"10.10.0.0/24\")" "$out" >/dev/null'
  ctl call AgentService/ListInterfaces '{}' >"$out" 2>&1
  rc=$?
  check "ListInterfaces: eth0 with its MAC, mtu and address; lo" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && jq -e ".Interfaces[] | select(.name == \"eth0\" and .hwAddr == \"02:42:ac:11:00:02\" and .mtu == \"1400\") | .IPAddresses[] | select(.address == \"172.17.0.2\" and .mask == \"16\")" "$out" >/dev/null &&
     jq -e ".Interfaces[] | select(.name == \"lo\")" "$out" >/dev/null'
  ctl call AgentService/AddARPNeighbors '{"neighbors": {"ARPNeighbors": [
      {"toIPAddress": {"address": "172.17.0.9"}, "device": "eth0", "lladdr": "02:42:ac:11:00:09"}]}}' >"$out" 2>&1
  rc=$?
  check "AddARPNeighbors: a permanent entry 172.17.0.9 lladdr 02:42:ac:11:00:09" \
    "$(cat "$out"; "${ns[@]}" ip neigh)" eval \
    '[ $rc -eq 0 ] && "${ns[@]}" ip neigh show 172.17.0.9 | grep "lladdr 02:42:ac:11:00:09 PERMANENT" >/dev/null'

  # refusals: nothing changes
  local before
  before=$("${ns[@]}" ip -o addr; "${ns[@]}" ip -o link; "${ns[@]}" ip route)
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:zz:02"}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface with a bad MAC: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q hwAddr "$out"'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:00:02",
    "IPAddresses": [{"address": "172.17.0.3", "mask": "16"}, {"address": "1.2.3", "mask": "8"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface with address 1.2.3 second: INVALID_ARGUMENT, the first not added" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && ! "${ns[@]}" ip -o addr | grep 172.17.0.3 >/dev/null'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:00:02",
    "IPAddresses": [{"address": "172.17.0.4", "mask": "33"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface with prefix 33: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth9", "hwAddr": "02:00:00:00:00:99"}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface of an unknown MAC: NOT_FOUND" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "a/b", "hwAddr": "02:42:ac:11:00:02"}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface renaming to a/b: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/UpdateRoutes '{"routes": {"Routes": [{"dest": "10.20.0.0/24", "device": "nosuch0"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateRoutes on an unknown device: NOT_FOUND" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  check "the refused requests changed nothing in the agent's namespace" "" eval \
    '[ "$before" = "$("${ns[@]}" ip -o addr; "${ns[@]}" ip -o link; "${ns[@]}" ip route)" ]'
  check "the host's links are untouched" "$(ip -br link)" eval \
    '[ "$(ip -br link | wc -l)" = "$host_links" ] && ! ip link show eth0 2>/dev/null | grep 02:42:ac:11:00:02 >/dev/null'
  agent_stop
}

# CreateSandbox's guest_hook_path: root's executables in <path>/prestart run
# as OCI hooks of every container; a path the host could fill is refused.
t_ghooks() {
  agent_start ghooks || return
  local out="$work/gh.out" hd="$work/hooks" mark="$work/hook.ran"
  mkdir -p "$hd/prestart" "$hd/poststop"
  printf '#!/bin/sh\necho "$0 $*" >>%s\n' "$mark" >"$hd/prestart/10-mark"
  printf '#!/bin/sh\necho "poststop $*" >>%s\n' "$mark" >"$hd/poststop/mark"
  chmod 755 "$hd/prestart/10-mark" "$hd/poststop/mark"
  printf 'not a hook\n' >"$hd/prestart/20-not-executable"
  ctl call AgentService/CreateSandbox "{\"guestHookPath\": \"$hd\"}" >"$out" 2>&1
  rc=$?
  check "CreateSandbox with guest_hook_path: OK" "$(cat "$out")" eval '[ $rc -eq 0 ]'
  local b
  b=$(bundle ghrun true)
  run_ ghrun "$b"
  check "a container runs the guest prestart hook (args: its name and the kind) and poststop" \
    "$(cat "$mark" 2>&1; diag ghrun)" eval \
    '[ $rc -eq 0 ] && grep -q "prestart/10-mark prestart" "$mark" && grep -q "^poststop poststop" "$mark" &&
     ! grep -q 20-not "$mark"'
  ctl call AgentService/CreateSandbox "{\"guestHookPath\": \"$shared\"}" >"$out" 2>&1
  rc=$?
  check "guest_hook_path below the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'
  chmod 775 "$hd/prestart"
  ctl call AgentService/CreateSandbox "{\"guestHookPath\": \"$hd\"}" >"$out" 2>&1
  rc=$?
  check "a group-writable hook directory: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'
  agent_stop
}

# The pid namespace, as upstream: the runtime strips it from the spec and
# the agent gives each container a new one, or the sandbox's shared one
# when CreateContainerRequest.sandbox_pidns asks (CreateSandbox made it).
t_pidns() {
  agent_start pidns || return
  local out="$work/pidns.out" b json
  b=$(bundle pnsleep sh -c 'exec sleep 1000')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.namespaces |= map(select(.type != "pid"))'
  ctl run "$b" --dry-run >"$work/pn.json" 2>"$out" || { tap FAIL "pidns: dry-run" "$(cat "$out")"; agent_stop; return; }
  start_as() { # start_as ID SANDBOX_PIDNS: create and start a copy of pn.json
    jq --arg id "$1" --argjson s "$2" '.containerId = $id | .execId = $id | .sandboxPidns = $s' \
      "$work/pn.json" >"$work/$1.json"
    ctl call AgentService/CreateContainer - <"$work/$1.json" >"$out" 2>&1 &&
      ctl call AgentService/StartContainer "{\"containerId\": \"$1\"}" >>"$out" 2>&1
  }
  start_as pshared true
  rc=$?
  check "CreateContainer with sandboxPidns before any shared pid namespace: FAILED_PRECONDITION" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out"'
  ctl call AgentService/CreateSandbox '{"sandboxPidns": true}' >"$out" 2>&1
  rc=$?
  local holder
  holder=$(for q in $(descendants "$agent_pid"); do [ "$(comm_of "$q")" = kata-pidns ] && echo "$q"; done | head -n1)
  check "CreateSandbox with sandboxPidns: a kata-pidns holder runs (pid ${holder:-none})" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -n "$holder" ]'
  start_as pa true && start_as pb true && start_as pown false
  rc=$?
  sleep 0.5
  local ns_h sleeps=()
  for p in $(descendants "$agent_pid"); do
    [ "$(comm_of "$p")" = sleep ] && sleeps+=("$p")
  done
  ns_h=$(readlink "/proc/$holder/ns/pid" 2>/dev/null)
  local same=0 own=0 host_ns
  host_ns=$(readlink /proc/self/ns/pid)
  local p nsl
  for p in "${sleeps[@]}"; do
    nsl=$(readlink "/proc/$p/ns/pid")
    if [ "$nsl" = "$ns_h" ]; then same=$((same + 1)); elif [ "$nsl" != "$host_ns" ]; then own=$((own + 1)); fi
  done
  check "two containers share the sandbox's pid namespace, the third has its own (spec without one)" \
    "$(cat "$out"; echo "sleeps: ${sleeps[*]}, holder ns $ns_h")" eval \
    '[ $rc -eq 0 ] && [ "$same" = 2 ] && [ "$own" = 1 ]'
  local shared_ipc=0
  for p in "${sleeps[@]}"; do
    [ "$(readlink "/proc/$p/ns/ipc")" = "$(readlink "/proc/$holder/ns/ipc")" ] &&
      [ "$(readlink "/proc/$p/ns/uts")" = "$(readlink "/proc/$holder/ns/uts")" ] && shared_ipc=$((shared_ipc + 1))
  done
  check "all three share the sandbox's IPC and UTS namespaces (as upstream, per pod)" \
    "sleeps: ${sleeps[*]}" want "$shared_ipc" 3
  for id in pa pb pown; do
    ctl call AgentService/RemoveContainer "{\"containerId\": \"$id\", \"timeout\": 20}" >/dev/null 2>&1
  done
  ctl call AgentService/DestroySandbox '{}' >"$out" 2>&1
  rc=$?
  sleep 0.2
  check "DestroySandbox: the holder is gone" "$(cat "$out")" eval '[ $rc -eq 0 ] && [ ! -e "/proc/$holder" ]'
  agent_stop
}

# ---- main ----

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP needs root (namespaces, mounts, cgroups)"
  exit 0
fi
for b in "$agent" "$ctl_bin" "$mkbundle"; do
  [ -x "$b" ] || { echo "1..0 # SKIP missing $b"; exit 0; }
done
for t in jq unshare script; do
  command -v "$t" >/dev/null || { echo "1..0 # SKIP missing $t"; exit 0; }
done
if ! has_option --shared-dir; then
  echo "1..0 # SKIP kata-agent has no --shared-dir option"
  exit 0
fi

for g in basics hooks stdio exec many restart shutdown hostile resources stats limits devices metrics oom guest network ghooks pidns; do
  group "$g" && "t_$g"
done
echo "1..$n"
[ "$bad" -eq 0 ]
