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
  setsid unshare -m --propagation private -- "$agent" --cmdline "$work/cmdline" "${extra[@]}" \
    >"$work/agent.log" 2>&1 </dev/null &
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
  for p in $(descendants "$agent_pid"); do
    [ "$p" = "$executor_pid" ] || [ "$p" = "$frontend_pid" ] || left+=("$p:$(comm_of "$p")")
  done
  check "no leftover processes (only parent, executor, front-end)" "${left[*]:-}" want "${#left[@]}" 0
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
  # while it flows and restarted by the parent.
  b=$(bundle stream sh -c 'mkfifo /tmp/f && { sha256sum < /tmp/f >&2 & } &&
    head -c 67108864 /dev/urandom | tee /tmp/f; wait')
  ctl run "$b" --id stream2 </dev/null 2>"$work/stream2.err" >"$work/stream2.out" &
  local run_pid=$!
  for _ in $(seq 1 200); do
    [ "$(stat -c %s "$work/stream2.out" 2>/dev/null || echo 0)" -gt 8388608 ] && break
    sleep 0.05
  done
  local fe_old=$frontend_pid
  kill -KILL "$fe_old" 2>/dev/null
  wait "$run_pid"
  rc=$?
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

for g in basics hooks stdio exec many restart shutdown hostile resources oom; do
  group "$g" && "t_$g"
done
echo "1..$n"
[ "$bad" -eq 0 ]
