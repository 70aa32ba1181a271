#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent policy through the real agent (parent, executor, policy process,
# front-end, monitors), with our own policies (tests/policy/agent/*.rego):
# the default policy file (policy_file) and the announce line, ExecProcess
# denied with the policy's prints and CreateContainer allowed, SetPolicy
# replacing it and refused by a policy that forbids it, state kept across
# requests by ops and across a policy process killed with -9 (requests fail
# closed while it is away), the requests the monitors answer (WaitProcess,
# WriteStdin denied; ReadStdout redacted), and a runaway policy stopped at
# its bound while the agent keeps serving. Without a policy at start no
# policy process runs (issue 14): the first SetPolicy starts one, a burst of
# them starts one only (a host, or a compromised front-end, cannot make the
# parent start processes in a loop), it is restarted after a kill -9 with
# the policy back, and a policy that does not compile leaves none in force.
# Requests are shaped as the Go runtime sends them (kata_agent.go: exec's
# process with Args, Env, Cwd, User; containerId/execId; startSandbox sends
# SetPolicy{policy} through setPolicy right after its Health check, before
# anything else). Prints TAP.
#
#   policy.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 24
suite_requires

pol="$(cd "$(dirname "$0")/../../policy/agent" && pwd)"

call() { # call NAME METHOD JSON: $work/NAME.{out,err}, $rc
  ctl call "AgentService/$2" "$3" >"$work/$1.out" 2>"$work/$1.err"
  rc=$?
}
exec_req() { # exec_req ID CMD...: ExecProcessRequest JSON into sleeper
  local args
  args=$(printf '%s\n' "${@:2}" | jq -R . | jq -s -c .)
  printf '{"containerId": "sleeper", "execId": "%s", "process": {"Args": %s, "Env": ["PATH=/bin"], "Cwd": "/", "User": {}}}' "$1" "$args"
}
set_policy() { # set_policy NAME FILE
  call "$1" SetPolicy "$(jq -Rs '{policy: .}' "$2")"
}
denied() { # denied NAME TEXT: the call failed PERMISSION_DENIED with TEXT
  [ "$rc" -ne 0 ] && grep -q "PERMISSION_DENIED" "$work/$1.err" && grep -qF "$2" "$work/$1.err"
}
start_sleeper() {
  local b
  b=$(bundle sleeper sh -c 'echo ready; exec sleep 1000')
  ctl run "$b" --id sleeper </dev/null >"$work/sleeper.out" 2>"$work/sleeper.err" &
  wait_for_file_text "$work/sleeper.out" ready 200
}

policy_procs() { # the agent's kata-agent-policy children (status 0: the
  # loop's last test is not the answer)
  local p
  for p in $(descendants "$agent_pid"); do
    [ "$(ppid_of "$p")" = "$agent_pid" ] && [[ "$(comm_of "$p")" == kata-agent-pol* ]] && echo "$p"
  done
  return 0
}
starts() { grep -c "policy process started" "$work/agent.log"; }
# call_while_unavailable NAME METHOD JSON: call, again while it fails
# UNAVAILABLE (a restarted policy process's channel is not the executor's
# yet), 10 s at most
call_while_unavailable() {
  for _ in $(seq 1 100); do
    call "$@"
    [ "$rc" -ne 0 ] && grep -q UNAVAILABLE "$work/$1.err" || return 0
    sleep 0.1
  done
}

# No policy at start: no policy process until a SetPolicy; the runtime's
# SetPolicy (kata_agent.go startSandbox -> setPolicy) starts one, however
# many come at once, and what it installs applies and survives a kill -9.
t_none() {
  agent_start nopolicy || { skip 6 "no policy" "the agent did not start"; return; }
  check "no policy configured: the announce line says so" "$(grep announce "$work/agent.log")" \
    grep -q '"policy":"none (every request allowed)"' "$work/agent.log"
  check "no policy configured: no policy process runs" "$(ps -o pid,comm --ppid "$agent_pid")" \
    eval '[ -z "$policy_pid" ] && [ -z "$(policy_procs)" ] && [ "$(starts)" = 0 ]'

  local i pids=() bad=0
  for i in 1 2 3 4 5 6 7 8; do
    set_policy "burst$i" "$pol/no-exec.rego" &
    pids+=($!)
  done
  for i in 1 2 3 4 5 6 7 8; do
    wait "${pids[$((i - 1))]}"
    [ -s "$work/burst$i.err" ] && bad=$((bad + 1))
  done
  rc=-
  check "8 SetPolicy calls at once on a fresh agent: every one answered OK" \
    "$(diag burst1; tail -n 3 "$work"/burst*.err)" want "$bad" 0
  local procs
  procs=$(policy_procs)
  check "...and they started one policy process (one ask, one start, one process)" \
    "$(grep -E "asks for a policy process|waits for a policy process|policy process started" "$work/agent.log"); running: $procs" \
    eval '[ "$(starts)" = 1 ] && [ "$(grep -c "waits for a policy process" "$work/agent.log")" = 1 ] &&
      [ "$(grep -c "the executor asks for a policy process" "$work/agent.log")" = 1 ] &&
      [ "$(wc -w <<<"$procs")" = 1 ]'

  rc=-
  start_sleeper
  call sh ExecProcess "$(exec_req sh /bin/sh -c 'echo hi')"
  check "the policy the first SetPolicy set applies: ExecProcess denied with its prints" "$(diag sh)" \
    denied sh 'ExecProcessRequest is blocked by policy: exec of ["/bin/sh","-c","echo hi"] into sleeper is not allowed'

  kill -KILL "$procs"
  local np=
  for _ in $(seq 1 100); do
    np=$(policy_procs) && [ -n "$np" ] && [ "$np" != "$procs" ] && break
    sleep 0.1
  done
  call_while_unavailable sh2 ExecProcess "$(exec_req sh2 /bin/sh)"
  local d=$rc
  call_while_unavailable ok ExecProcess "$(exec_req ok /bin/true)"
  check "killed with -9: restarted, and the policy is back (/bin/sh denied, /bin/true runs)" \
    "$(diag sh2); new policy process: ${np:-none}" \
    eval '[ -n "$np" ] && [ "$np" != "$procs" ] && rc=$d denied sh2 "is not allowed" && [ $rc -eq 0 ]'
  agent_stop
}

# A SetPolicy whose policy does not compile on a fresh agent: refused as
# upstream (INVALID_ARGUMENT), no policy in force; the policy process it
# started stays (the next SetPolicy needs no start).
t_bad() {
  agent_start badpolicy || { skip 2 "bad policy" "the agent did not start"; return; }
  printf 'package agent_policy\n\nExecProcessRequest := if {\n' >"$work/bad.rego"
  set_policy bad "$work/bad.rego"
  check "a policy that does not compile, on a fresh agent: INVALID_ARGUMENT" "$(diag bad)" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/bad.err"'
  rc=-
  start_sleeper
  call sh ExecProcess "$(exec_req sh /bin/sh -c 'echo hi')"
  local procs
  procs=$(policy_procs)
  check "...no policy is in force (ExecProcess of /bin/sh runs); the policy process stays" \
    "$(diag sh); policy processes: $procs" \
    eval '[ $rc -eq 0 ] && ! grep -q "policy in force" "$work/agent.log" && [ "$(wc -w <<<"$procs")" = 1 ]'
  agent_stop
}

t_policy() {
  agent_toml="policy_file = \"$pol/no-exec.rego\"" agent_start policy || {
    skip 13 "policy" "the agent did not start"; return; }
  check "with a policy file the policy process runs from boot" "$(grep "policy process" "$work/agent.log")" \
    eval '[ -n "$policy_pid" ] && [ "$(starts)" = 1 ]'
  local sum
  sum=$(sha256sum "$pol/no-exec.rego" | cut -d' ' -f1)
  check "the announce line names the policy file and its sha256" "$(grep announce "$work/agent.log")" \
    eval 'grep announce "$work/agent.log" | grep -q "\"sha256\":\"$sum\""'
  rc=-
  start_sleeper
  check "CreateContainer allowed by the policy: the container runs" "$(diag sleeper)" \
    grep -q ready "$work/sleeper.out"

  call sh ExecProcess "$(exec_req sh /bin/sh -c 'echo hi')"
  check "ExecProcess denied: PERMISSION_DENIED with the policy's prints" "$(diag sh)" \
    denied sh 'ExecProcessRequest is blocked by policy: exec of ["/bin/sh","-c","echo hi"] into sleeper is not allowed'
  call true ExecProcess "$(exec_req t1 /bin/true)"
  check "ExecProcess of what the policy allows runs" "$(diag true)" [ "$rc" -eq 0 ]

  # SetPolicy: no-exec.rego's SetPolicyRequest allows it; stateful.rego
  # counts execs in data.pstate.
  set_policy set1 "$pol/stateful.rego"
  check "SetPolicy replaces the policy" "$(diag set1)" eval \
    '[ $rc -eq 0 ] && grep -q "policy in force: SetPolicy" "$work/agent.log"'
  call e1 ExecProcess "$(exec_req e1 /bin/sh -c 'echo one')"
  local r1=$rc
  call e2 ExecProcess "$(exec_req e2 /bin/sh -c 'echo two')"
  local r2=$rc
  call e3 ExecProcess "$(exec_req e3 /bin/sh -c 'echo three')"
  check "ops update the state: two execs allowed, the third denied" "$(diag e3)" eval \
    '[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && denied e3 "already 2 execs: [\"e1\",\"e2\"]"'

  # The policy process dies with a check in it: that request fails (closed),
  # and once it is back the policy and its state are what they were.
  local pp
  pp=$(child_named "$agent_pid" kata-agent-pol)
  kill -STOP "$pp"
  call e4 ExecProcess "$(exec_req e4 /bin/true)" &
  local bg=$!
  wait_queued "$pp" # the check is in the stopped process's socket
  kill -KILL "$pp"
  wait "$bg"
  rc=$(grep -c UNAVAILABLE "$work/e4.err")
  check "a policy process killed with a check in it: the request fails UNAVAILABLE" "$(diag e4)" \
    eval 'grep -q "UNAVAILABLE: ExecProcessRequest: the policy process went away" "$work/e4.err"'
  local np=
  for _ in $(seq 1 50); do
    np=$(child_named "$agent_pid" kata-agent-pol) && [ "$np" != "$pp" ] && break
    sleep 0.1
  done
  call e5 ExecProcess "$(exec_req e5 /bin/true)"
  check "restarted: the policy and its state are back (the third exec is still denied)" \
    "$(diag e5)" eval '[ -n "$np" ] && [ "$np" != "$pp" ] && denied e5 "already 2 execs"'

  # A policy that forbids SetPolicy, and the monitors' requests.
  set_policy set2 "$pol/locked.rego"
  local s2=$rc
  set_policy set3 "$pol/no-exec.rego"
  check "SetPolicy refused by a policy that forbids it" "$(diag set3)" eval \
    '[ $s2 -eq 0 ] && denied set3 "SetPolicyRequest is blocked by policy"'
  call wait WaitProcess '{"containerId": "sleeper", "execId": "sleeper"}'
  check "WaitProcess denied (enforced by the container's monitor)" "$(diag wait)" \
    denied wait "WaitProcessRequest is blocked by policy"
  call write WriteStdin '{"containerId": "sleeper", "execId": "sleeper", "data": "aGkK"}'
  check "WriteStdin denied (enforced by the container's monitor)" "$(diag write)" \
    denied write "WriteStreamRequest is blocked by policy"
  call secret ExecProcess "$(exec_req secret /bin/sh -c 'echo secret-output')"
  local out=
  for _ in $(seq 1 20); do
    call read ReadStdout '{"containerId": "sleeper", "execId": "secret", "len": 4096}'
    [ "$rc" -eq 0 ] || break
    local d
    d=$(jq -r '.data // empty' "$work/read.out")
    [ -n "$d" ] || break
    out+=$(printf '%s' "$d" | base64 -d)
  done
  check "ReadStdout redacted: the process's output never reaches the host" "$(diag read)" \
    eval '[ $rc -eq 0 ] && [ -z "$out" ]'
  agent_stop
}

t_runaway() {
  agent_toml="policy_file = \"$pol/runaway.rego\"" agent_start runaway || {
    skip 3 "runaway" "the agent did not start"; return; }
  rc=-
  start_sleeper
  call loop ExecProcess "$(exec_req loop /bin/true)"
  check "a looping policy: ExecProcess stops at the evaluation bound" "$(diag loop)" eval \
    '[ $rc -ne 0 ] && grep -Eq "DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED" "$work/loop.err"'
  call stats StatsContainer '{"containerId": "sleeper"}'
  check "the agent keeps serving after it" "$(diag stats)" [ "$rc" -eq 0 ]
  check "the policy process survived its runaway query" "$(tail -n 20 "$work/agent.log")" \
    eval '! grep -q "policy process (pid [0-9]*) \(exited\|killed\)" "$work/agent.log"'
  agent_stop
}

t_none
t_bad
t_policy
t_runaway
