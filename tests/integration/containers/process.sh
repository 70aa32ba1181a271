#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Processes as the Kata runtime drives them (issue 9): every request is
# shaped as kata_agent.go builds it (cited per request), sent with
# kata-agent-ctl call. Prints TAP.
#
#   process.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 29
suite_requires

out= # the last call's output
# call METHOD JSON: one request; $rc its exit status, $out its output file.
call() {
  out="$work/call.out"
  ctl call "AgentService/$1" "$2" >"$out" 2>&1
  rc=$?
}
# status_of: the gRPC status name of the last call (OK when it succeeded).
status_of() { if [ "$rc" -eq 0 ]; then echo OK; else sed -n 's/^ERROR: \([A-Z_]*\):.*/\1/p' "$out" | head -n1; fi; }
want_status() { [ "$(status_of)" = "$1" ]; }

# mkctr ID [JQ-FILTER] -- CMD...: a container as the runtime creates it:
# kata_agent.go createContainer sends exec_id = container id (and
# sandbox_pidns when the pod shares one: $req_filter); then startContainer.
# The spec is kata-agent-ctl's reading of a busybox bundle.
req_filter=.
mkctr() {
  local id=$1 filter=${2:-.}
  shift 3
  local b
  b=$(bundle "$id" "$@") || return 1
  jqset "$b" "del(.linux.cgroupsPath) | $filter"
  ctl run "$b" --dry-run >"$work/$id.json" 2>"$work/$id.err" || return 1
  jq --arg id "$id" ".containerId = \$id | .execId = \$id | $req_filter" "$work/$id.json" >"$work/$id.req" &&
    ctl call AgentService/CreateContainer - <"$work/$id.req" >>"$work/$id.err" 2>&1 &&
    ctl call AgentService/StartContainer "{\"containerId\": \"$id\"}" >>"$work/$id.err" 2>&1
}

# read_all CID EID Stdout|Stderr FILE: ReadStdout/ReadStderr until the
# empty answer, as the shim's ioCopy reads (kata_agent.go readProcessStream:
# empty data is io.EOF). Fails on an error or after 60 s.
read_all() {
  : >"$4"
  local d end=$((SECONDS + 60))
  while [ $SECONDS -lt $end ]; do
    d=$(CTL_TIMEOUT=60 ctl call "AgentService/Read$3" \
      "{\"containerId\": \"$1\", \"execId\": \"$2\", \"len\": 32768}" 2>>"$4.err") || return 1
    d=$(printf '%s' "$d" | jq -r '.data // empty')
    [ -n "$d" ] || return 0
    printf '%s' "$d" | base64 -d >>"$4"
  done
  return 1
}

# exec_ CID EID CMD: ExecProcess as kata_agent.go exec -> cmdToKataProcess
# fills it: Terminal, User {UID, GID}, Args, Env, Cwd; never Capabilities,
# Rlimits, NoNewPrivileges or OOMScoreAdj.
exec_() {
  local p
  p=$(jq -nc --arg c "$3" '{Terminal: false, User: {UID: 0, GID: 0}, Args: ["sh", "-c", $c],
    Env: ["PATH=/bin"], Cwd: "/"}')
  call ExecProcess "{\"containerId\": \"$1\", \"execId\": \"$2\", \"process\": $p}"
}
wait_() { # wait_ CID EID: WaitProcess (kata_agent.go waitProcess); status in $st
  call WaitProcess "{\"containerId\": \"$1\", \"execId\": \"$2\"}"
  st=$(jq -r '.status // 0' "$out" 2>/dev/null)
}
signal_() { # signal_ CID EID SIG (kata_agent.go signalProcess: all -> exec id "")
  call SignalProcess "{\"containerId\": \"$1\", \"execId\": \"$2\", \"signal\": $3}"
}
remove_() { ctl call AgentService/RemoveContainer "{\"containerId\": \"$1\", \"timeout\": 20}" >/dev/null 2>&1; }

t_init_by_container_id() {
  local id=c0ffee01 o="$work/o"
  mkctr $id . -- sh -c 'read x; echo got-$x; echo err-$x >&2; exit 3' ||
    { fail_rest "create: $(cat "$work/$id.err")"; return 1; }
  # kata_agent.go writeProcessStdin / closeProcessStdin: exec id = container id
  call WriteStdin "{\"containerId\": \"$id\", \"execId\": \"$id\", \"data\": \"$(printf abc | base64)\"}"
  check "WriteStdin with exec_id = container id reaches the init" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(jq -r .len "$out")" = 3 ]'
  call CloseStdin "{\"containerId\": \"$id\", \"execId\": \"$id\"}"
  check "CloseStdin with exec_id = container id" "$(cat "$out")" want "$rc" 0
  read_all $id $id Stdout "$o"
  check "ReadStdout with exec_id = container id: the init's output, then EOF" "$(cat "$o" "$o.err")" \
    eval 'grep -qx got-abc "$o"'
  read_all $id "" Stderr "$o"
  check "ReadStderr with exec_id \"\" names the init too" "$(cat "$o" "$o.err")" eval 'grep -qx err-abc "$o"'
  wait_ $id $id
  check "WaitProcess with exec_id = container id: status 3" "$(cat "$out")" eval '[ $rc -eq 0 ] && [ "$st" = 3 ]'
  # container.go stop: kill(SIGKILL, all) then waitProcess(c.id) again
  signal_ $id "" 9
  local k=$rc
  wait_ $id $id
  check "the runtime's stop: SIGKILL to all, a second WaitProcess still answers 3" "$(cat "$out")" eval \
    '[ $k -eq 0 ] && [ $rc -eq 0 ] && [ "$st" = 3 ]'
  remove_ $id
}

t_exec() {
  local id=c0ffee02 o="$work/o" init
  # Kubernetes' default set has CAP_CHOWN; the runtime passes the spec's.
  mkctr $id '.process.capabilities |= map_values(. + ["CAP_CHOWN"]) |
    .process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 1234, "soft": 1234}] |
    .process.oomScoreAdj = 123' -- sh -c 'exec sleep 1000' ||
    { fail_rest "create: $(cat "$work/$id.err")"; return 1; }
  exec_ $id $id true
  check "ExecProcess reusing the init's exec id (the container id): ALREADY_EXISTS" "$(cat "$out")" \
    want_status ALREADY_EXISTS
  exec_ $id e1 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; ulimit -n; cat /proc/self/oom_score_adj;
    touch /tmp/f && chown 1:1 /tmp/f && echo chown-ok; echo "home=$HOME"'
  read_all $id e1 Stdout "$o"
  # CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE
  check "an exec without Capabilities gets the container's (CapEff 20000421): a root chown works" \
    "$(cat "$o" "$o.err")" eval 'grep -q "CapEff:.*0000000020000421" "$o" && grep -qx chown-ok "$o"'
  check "an exec gets the container's NoNewPrivileges, rlimits and oom_score_adj" "$(cat "$o")" eval \
    'grep -q "NoNewPrivs:.*1" "$o" && grep -qx 1234 "$o" && grep -qx 123 "$o"'
  check "HOME, absent from the exec's Env, comes from the container's /etc/passwd" "$(cat "$o")" \
    eval 'grep -qx home=/root "$o"'
  read_all $id e1 Stderr "$o"
  wait_ $id e1
  check "WaitProcess of an exec: its status" "$(cat "$out")" eval '[ $rc -eq 0 ] && [ "$st" = 0 ]'
  wait_ $id e1
  check "a second WaitProcess of that exec: NOT_FOUND (upstream removes it once waited)" \
    "$(cat "$out")" want_status NOT_FOUND
  # kubectl exec / exec probe: a background child keeps stdout open.
  exec_ $id e2 'sleep 1000 & echo started'
  local t0=$SECONDS
  read_all $id e2 Stdout "$o"
  local r1=$?
  read_all $id e2 Stderr "$o.2"
  check "exec whose background child holds stdout: ReadStdout ends (EOF) once the exec exits" \
    "$(cat "$o" "$o.err")" eval '[ $r1 -eq 0 ] && grep -qx started "$o"'
  wait_ $id e2
  check "... and its WaitProcess answers 0 ($((SECONDS - t0)) s)" "$(cat "$out")" eval '[ $rc -eq 0 ] && [ "$st" = 0 ]'
  # Attack: the background child floods the pipe; the host still gets EOF.
  exec_ $id e3 'yes flood >/dev/null & yes | head -c 100000; echo; echo last'
  read_all $id e3 Stdout "$o"
  r1=$?
  read_all $id e3 Stderr "$o.2"
  check "attack: a background writer flooding stdout after the exec exits cannot hold its EOF" \
    "$(tail -c 300 "$o"; cat "$o.err")" eval '[ $r1 -eq 0 ] && tail -n1 "$o" | grep -qx last'
  wait_ $id e3
  # Signals to execs
  exec_ $id e4 'exec sleep 1000'
  signal_ $id e4 15
  wait_ $id e4
  check "SIGTERM to an exec with no handler stays SIGTERM (143): only the init is converted" \
    "$(cat "$out")" eval '[ $rc -eq 0 ] && [ "$st" = 143 ]'
  exec_ $id e5 'exit 4'
  sleep 0.3
  signal_ $id e5 15
  check "SignalProcess to an exited, unwaited exec: OK" "$(cat "$out")" want "$rc" 0
  wait_ $id e5
  signal_ $id e5 15
  check "SignalProcess to a waited exec: NOT_FOUND" "$(cat "$out")" want_status NOT_FOUND
  # Error codes as upstream sandbox_err_to_ttrpc / tty_win_resize
  call ReadStdout '{"containerId": "nosuchctr", "execId": "x", "len": 10}'
  local a; a=$(status_of)
  call ReadStdout "{\"containerId\": \"$id\", \"execId\": \"nosuchexec\", \"len\": 10}"
  local b; b=$(status_of)
  call TtyWinResize "{\"containerId\": \"$id\", \"execId\": \"$id\", \"row\": 10, \"column\": 10}"
  local c; c=$(status_of)
  exec_ nosuchctr e1 true
  local d; d=$(status_of)
  check "unknown container INVALID_ARGUMENT, unknown exec NOT_FOUND, resize without tty UNAVAILABLE" \
    "$a $b $c $d" want "$a $b $c $d" "INVALID_ARGUMENT NOT_FOUND UNAVAILABLE INVALID_ARGUMENT"
  # SIGTERM by the container id to an init without a handler (sleep as pid
  # 1 of its namespace ignores it): SIGKILL, as upstream is_signal_handled.
  signal_ $id $id 15
  wait_ $id $id
  check "SIGTERM to an init without a SIGTERM handler: killed (137)" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$st" = 137 ]'
  remove_ $id
}

t_init_handler() {
  local id=c0ffee03
  mkctr $id . -- sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done' ||
    { fail_rest "create: $(cat "$work/$id.err")"; return 1; }
  # The handler is set once "ready" is out (a SIGTERM before it, sent
  # after a fixed sleep on a slow machine, met no handler: 137).
  read_all $id $id Stdout "$work/ready.out" &
  local reader=$!
  wait_for_file_text "$work/ready.out" ready 300
  signal_ $id "" 15 # containerd-shim Kill without exec id: all=true, exec id ""
  wait_ $id $id
  check "SIGTERM to an init with a handler is delivered as SIGTERM (its handler exits 7)" \
    "$(cat "$out")" eval '[ $rc -eq 0 ] && [ "$st" = 7 ]'
  wait "$reader"
  remove_ $id
}

# Env entries without '=' and a User with Username only, as a CRI spec may
# carry them: accepted, as upstream (valid_env drops the bad entries and
# trims; the uid is what counts).
t_env_user() {
  local id=c0ffee04 o="$work/o"
  mkctr $id '.process.env += ["BROKEN", "=novalue", " SPACED = v "] | .process.user = {"username": "nobody"}' \
    -- sh -c 'env; id -u' || { tap FAIL "env/user: CreateContainer accepted" "$(cat "$work/$id.err")"; tap FAIL "env/user: output"; return; }
  tap OK "env entries without '=' and a Username-only user: CreateContainer accepted"
  read_all $id $id Stdout "$o"
  check "... BROKEN and =novalue left out, SPACED trimmed, HOME set, uid 0" "$(cat "$o")" eval \
    '! grep -q BROKEN "$o" && ! grep -q novalue "$o" && grep -qx SPACED=v "$o" && grep -qx HOME=/root "$o" && tail -n1 "$o" | grep -qx 0'
  wait_ $id $id
  remove_ $id
}

# Kill all: exec id "" with SIGKILL signals every process of the container
# (upstream: freeze, kill each pid of the cgroup, thaw), while exec id =
# container id with SIGKILL is the init only. Shown in the sandbox's pid
# namespace, where the init is not pid 1 (its death does not take the rest).
t_kill_all() {
  call CreateSandbox '{"sandboxPidns": true}'
  local f='.linux.namespaces |= map(select(.type != "pid"))'
  local a=c0ffee05 b=c0ffee06
  for id in $a $b; do
    req_filter='.sandboxPidns = true' mkctr $id "$f" -- sh -c 'exec sleep 1000' ||
      { fail_rest "create in the shared pid namespace: $(cat "$work/$id.err")"; return 1; }
  done
  exec_ $a e1 'exec sleep 1000'
  exec_ $b e1 'exec sleep 1000'
  signal_ $a $a 9
  wait_ $a $a
  local s1=$st
  CTL_TIMEOUT=3 ctl call AgentService/WaitProcess "{\"containerId\": \"$a\", \"execId\": \"e1\"}" >"$work/w.out" 2>&1
  local w=$?
  check "SIGKILL with exec id = container id: the init dies (137), its exec lives on" \
    "init $s1, exec wait: $w $(cat "$work/w.out")" eval '[ "$s1" = 137 ] && [ $w -eq 124 ]'
  signal_ $b "" 9
  local k=$rc
  wait_ $b e1
  local s2=$st
  wait_ $b $b
  check "SIGKILL with exec id \"\" (the runtime's all): the init and the exec die (137, 137)" \
    "$k $s2 $st" eval '[ $k -eq 0 ] && [ "$s2" = 137 ] && [ "$st" = 137 ]'
  signal_ $a "" 9
  wait_ $a e1
  remove_ $a
  remove_ $b
}

# Attack: SignalProcess racing pid reuse. The executor reads the init's
# /proc/PID/status to choose SIGTERM or SIGKILL; the init dies and its pid
# goes to an unrelated host process before the executor looks. That process
# must not be signalled (signals go by the monitor's pidfd, and the status
# read checks the monitor is the parent).
t_pid_reuse() {
  local id=c0ffee07
  mkctr $id . -- sh -c 'exec sleep 1000' || { fail_rest "create: $(cat "$work/$id.err")"; return 1; }
  local init="" p
  for _ in $(seq 1 100); do # until sh has exec'd sleep
    for p in $(descendants "$agent_pid"); do
      [ "$(comm_of "$p")" = sleep ] && in_child_pidns "$p" && init=$p
    done
    [ -n "$init" ] && break
    sleep 0.1
  done
  if [ -z "$init" ] || [ ! -w /proc/sys/kernel/ns_last_pid ]; then
    skip 2 "pid reuse" "no init found or ns_last_pid not writable"
    remove_ $id
    return
  fi
  kill -STOP "$executor_pid"
  ctl call AgentService/SignalProcess "{\"containerId\": \"$id\", \"execId\": \"$id\", \"signal\": 15}" \
    >"$work/sig.out" 2>&1 &
  local sig=$!
  sleep 0.3 # the request waits in the stopped executor's socket
  kill -KILL "$init"
  local victim="" n
  for n in $(seq 1 200); do
    [ -e "/proc/$init" ] && { sleep 0.01; continue; }
    echo $((init - 1)) >/proc/sys/kernel/ns_last_pid 2>/dev/null
    sleep 1000 &
    if [ $! = "$init" ]; then victim=$!; break; fi
    kill $! 2>/dev/null
    wait $! 2>/dev/null
  done
  kill -CONT "$executor_pid"
  wait $sig
  local r=$?
  sleep 0.5
  if [ -z "$victim" ]; then
    skip 1 "pid reuse: a host process took the dead init's pid" "could not get pid $init again"
  else
    check "attack: a host process that took the dead init's pid is not signalled" \
      "$(cat "$work/sig.out")" eval 'kill -0 $victim 2>/dev/null'
    kill -KILL "$victim" 2>/dev/null
    wait "$victim" 2>/dev/null
  fi
  wait_ $id $id
  check "... the SignalProcess itself succeeds, and the init's status is the SIGKILL it got (137)" \
    "$r $(cat "$work/sig.out" "$out")" eval '[ $r -eq 0 ] && [ "$st" = 137 ]'
  remove_ $id
}

# Signals: the executor and the launcher ignore SIGPIPE and block what
# their loops take by signalfd; a container process must start with
# neither (as runc's and upstream's do), or `yes | head` prints "Broken
# pipe" and a process never sees the SIGTERM it is sent. Shown for the
# init (cat itself, no shell in between) and for an exec (sh execs cat:
# ignored and blocked signals go through execve).
sig_clean() { grep -qx 'SigBlk:[[:space:]]*0*' "$1" && grep -qx 'SigIgn:[[:space:]]*0*' "$1"; }
t_clean_signals() {
  local id=c0ffee07 o="$work/o"
  mkctr $id . -- sh -c 'cat /proc/self/status; exec sleep 1000' ||
    { tap FAIL "signals: create: $(cat "$work/$id.err")"; tap FAIL "signals: exec"; return; }
  exec_ $id e1 'exec cat /proc/self/status'
  read_all $id e1 Stdout "$o.exec"
  wait_ $id e1
  check "an exec starts with no signal blocked or ignored" "$(grep ^Sig "$o.exec")" sig_clean "$o.exec"
  signal_ $id $id 9
  read_all $id $id Stdout "$o.init"
  wait_ $id $id
  check "the init too (its shell's own status, before it execs)" "$(grep ^Sig "$o.init")" sig_clean "$o.init"
  remove_ $id
}

agent_start process || exit 0
t_init_by_container_id
t_exec
t_init_handler
t_env_user
t_kill_all
t_pid_reuse
t_clean_signals
# After DestroySandbox the agent stops, as upstream's: last.
call DestroySandbox '{}'
agent_stop
