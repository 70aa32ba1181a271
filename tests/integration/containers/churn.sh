#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Churn (issue 9, item 14): container lifecycles and execs exactly as the
# Kata runtime sends them, many times over; afterwards the agent's fds (all
# its processes), mounts, processes and cgroups are back at their baseline.
# Then an attack: a host that starts hundreds of execs and never waits.
# Prints TAP.
#
#   churn.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#   KATA_CHURN=N: lifecycles (default 100; each with 2 execs)
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 9
suite_requires

lifecycles=${KATA_CHURN:-100}

agent_fds() { # open fds of the agent's own processes, summed
  local p n=0
  for p in $(agent_procs); do
    n=$((n + $(ls "/proc/$p/fd" 2>/dev/null | wc -l)))
  done
  echo $n
}
agent_mounts() { wc -l <"/proc/$executor_pid/mountinfo"; }
agent_nprocs() { descendants "$agent_pid" | wc -w; }
agent_cgroups() { find /sys/fs/cgroup/*/"$cg_name" /sys/fs/cgroup/"$cg_name" -mindepth 1 -type d 2>/dev/null | wc -l; }
snapshot() { echo "fds $(agent_fds) mounts $(agent_mounts) procs $(agent_nprocs) cgroups $(agent_cgroups)"; }

c() { ctl call "AgentService/$1" "$2" >>"$work/churn.log" 2>&1; }
# This suite makes thousands of calls: its loops fork nothing they can do
# without (no seq, no jq per read), or the machine's CPU goes to the shell.
# The shim's ioCopy: read a stream to its empty answer (readProcessStream),
# which ctl prints as {} (an empty bytes field is not printed).
drain() {
  local d i
  for ((i = 0; i < 50; i++)); do
    d=$(ctl call "AgentService/Read$3" "{\"containerId\": \"$1\", \"execId\": \"$2\", \"len\": 32768}" \
      2>>"$work/churn.log") || return 1
    [[ $d == *'"data"'* ]] || return 0
  done
  return 1
}
uuid() { local u; read -r u </proc/sys/kernel/random/uuid; echo "$u"; }
# kata_agent.go exec (cmdToKataProcess), then the shim: both streams to EOF, WaitProcess.
# COMMAND is plain text here: only \ and " need escaping in its JSON string.
# The monitor's fd count once it stays the same for 0.3 s (5 s at most): an
# exec's fds go a moment after its WaitProcess is answered, and on a loaded
# machine one was still there when the count was taken (CI-like run).
settled_fds() {
  local n last=-1 same=0
  for _ in $(seq 1 50); do
    n=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
    if [ "$n" = "$last" ]; then
      same=$((same + 1))
      [ "$same" -ge 3 ] && break
    else
      same=0
    fi
    last=$n
    sleep 0.1
  done
  echo "$n"
}
run_exec() {
  local p c=${3//\\/\\\\}
  c=${c//\"/\\\"}
  p="{\"Terminal\": false, \"User\": {\"UID\": 0, \"GID\": 0}, \"Args\": [\"sh\", \"-c\", \"$c\"], \"Env\": [\"PATH=/bin\"], \"Cwd\": \"/\"}"
  c ExecProcess "{\"containerId\": \"$1\", \"execId\": \"$2\", \"process\": $p}" &&
    drain "$1" "$2" Stdout && drain "$1" "$2" Stderr &&
    c WaitProcess "{\"containerId\": \"$1\", \"execId\": \"$2\"}"
}
# One pod container's life as the runtime drives it: createContainer
# (exec_id = container id), startContainer, two execs (exec probes, one
# leaving a background child), the shim's Kill (SIGTERM, all: exec id ""),
# ioCopy to EOF and wait, the stop (SIGKILL all, waitProcess again),
# removeContainer.
lifecycle() {
  local id=$1
  jq --arg id "$id" '.containerId = $id | .execId = $id' "$work/tmpl.json" >"$work/req.json" &&
    ctl call AgentService/CreateContainer - <"$work/req.json" >>"$work/churn.log" 2>&1 &&
    c StartContainer "{\"containerId\": \"$id\"}" &&
    run_exec "$id" "$(uuid)" 'echo probe; echo err >&2' &&
    run_exec "$id" "$(uuid)" 'sleep 1000 & echo bg' &&
    c SignalProcess "{\"containerId\": \"$id\", \"execId\": \"\", \"signal\": 15}" &&
    drain "$id" "$id" Stdout && drain "$id" "$id" Stderr &&
    c WaitProcess "{\"containerId\": \"$id\", \"execId\": \"$id\"}" &&
    c SignalProcess "{\"containerId\": \"$id\", \"execId\": \"\", \"signal\": 9}" &&
    c WaitProcess "{\"containerId\": \"$id\", \"execId\": \"$id\"}" &&
    c RemoveContainer "{\"containerId\": \"$id\"}"
}

# Attack: a host starts execs that keep running and never waits for them.
# Each holds 4 fds in the monitor: past its fd budget the next ones are
# refused RESOURCE_EXHAUSTED (its table bound), never a truncated fd
# transfer that would cost the container its launcher channel.
spam_execs() {
  local id=$1 i p
  ok=0 re=0 other=0
  p='{"Terminal": false, "User": {}, "Args": ["sleep", "1000"], "Env": ["PATH=/bin"], "Cwd": "/"}'
  for i in $(seq 1 300); do
    if ctl call AgentService/ExecProcess "{\"containerId\": \"$id\", \"execId\": \"spam$i\", \"process\": $p}" \
      >"$work/spam.out" 2>&1; then
      ok=$((ok + 1))
    elif grep -q RESOURCE_EXHAUSTED "$work/spam.out"; then
      re=$((re + 1))
    else
      other=$((other + 1))
      cat "$work/spam.out" >>"$work/churn.log"
    fi
  done
}

t_churn() {
  # A guest's init gets 1024 soft, 4096 hard; here the hard limit is 1024
  # too (the worst case: no room to raise it), so a monitor's fds run short
  # after ~240 running execs.
  ulimit -Sn 1024 && ulimit -Hn 1024
  agent_start churn || return
  local b
  b=$(bundle churnbox sh -c 'echo started; exec sleep 1000')
  jqset "$b" 'del(.linux.cgroupsPath)'
  ctl run "$b" --dry-run >"$work/tmpl.json" 2>"$work/churn.log" || { fail_rest "dry-run"; return; }
  ctl call AgentService/CreateSandbox '{"hostname": "churn"}' >>"$work/churn.log" 2>&1
  lifecycle warmup00
  local base
  base=$(snapshot)
  local i bad=0 t0=$SECONDS
  for i in $(seq 1 "$lifecycles"); do
    lifecycle "$(printf 'c%063x' "$i")" || { bad=$((bad + 1)); say "lifecycle $i failed"; }
  done
  check "$lifecycles container lifecycles with 2 execs each, as the runtime sends them ($((SECONDS - t0)) s)" \
    "$(tail -n 20 "$work/churn.log")" want "$bad" 0
  local after
  after=$(settle "$base" snapshot)
  say "baseline: $base; after: $after"
  check "the agent's fds, mounts, processes and cgroups are back at their baseline" \
    "baseline: $base; after: $after" want "$after" "$base"

  # One long-lived container, many execs: its monitor's fds do not grow.
  local id=longlived mon p
  jq --arg id $id '.containerId = $id | .execId = $id' "$work/tmpl.json" >"$work/req.json"
  ctl call AgentService/CreateContainer - <"$work/req.json" >>"$work/churn.log" 2>&1 &&
    c StartContainer "{\"containerId\": \"$id\"}"
  mon=$(for p in $(descendants "$agent_pid"); do
    [ "$(comm_of "$p")" = kata-agent-moni ] && grep -q "$id" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  done | head -n1)
  run_exec $id first 'true'
  local mfd0 mfd1
  mfd0=$(settled_fds "$mon")
  bad=0
  for i in $(seq 1 200); do
    run_exec $id "x$i" 'echo out; echo err >&2' || bad=$((bad + 1))
  done
  mfd1=$(settled_fds "$mon")
  check "200 execs into one container: every one answered, its monitor holds $mfd1 fds, no more than after the first ($mfd0)" \
    "failures: $bad" eval '[ $bad -eq 0 ] && [ "$mfd1" -le "$mfd0" ]'

  spam_execs $id
  local mfd2
  mfd2=$(ls "/proc/$mon/fd" | wc -l)
  say "300 running execs: $ok started, $re refused RESOURCE_EXHAUSTED, $other other errors; monitor fds $mfd2 (limit $(awk '/open files/ {print $4}' "/proc/$mon/limits"))"
  check "attack: 300 execs that keep running, never waited: past the monitor's fd budget RESOURCE_EXHAUSTED, nothing else fails" \
    "$ok started, $re refused, $other other; $(tail -n 5 "$work/churn.log")" eval \
    '[ $other -eq 0 ] && [ $((ok + re)) -eq 300 ] && [ $ok -gt 100 ] && [ "$mfd2" -lt 1024 ]'
  for i in 1 2 3 4 5; do
    c SignalProcess "{\"containerId\": \"$id\", \"execId\": \"spam$i\", \"signal\": 9}"
    c WaitProcess "{\"containerId\": \"$id\", \"execId\": \"spam$i\"}"
  done
  run_exec $id after-spam 'echo still'
  rc=$?
  check "... 5 of them killed and waited: the container runs new execs again" "$(tail -n 5 "$work/churn.log")" want "$rc" 0
  ctl check >/dev/null 2>&1
  rc=$?
  check "... and the agent answers" "" want "$rc" 0
  c SignalProcess "{\"containerId\": \"$id\", \"execId\": \"\", \"signal\": 9}"
  c WaitProcess "{\"containerId\": \"$id\", \"execId\": \"$id\"}"
  c RemoveContainer "{\"containerId\": \"$id\"}"
  rc=$?
  after=$(settle "$base" snapshot)
  check "... RemoveContainer takes it all back: baseline again" "rc $rc; baseline: $base; after: $after" \
    eval '[ $rc -eq 0 ] && [ "$after" = "$base" ]'
  # A waited exec is released: the executor's registry lets its id go.
  jq --arg id c2 '.containerId = $id | .execId = $id' "$work/tmpl.json" >"$work/req.json"
  ctl call AgentService/CreateContainer - <"$work/req.json" >>"$work/churn.log" 2>&1 &&
    c StartContainer '{"containerId": "c2"}'
  run_exec c2 same 'true'
  rc=1
  for _ in $(seq 1 50); do # MON_RELEASED reaches the executor just after the wait
    run_exec c2 same 'true' && { rc=0; break; }
    sleep 0.1
  done
  check "an exec id is free again once its exec was waited for and drained" "$(tail -n 5 "$work/churn.log")" want "$rc" 0
  c SignalProcess '{"containerId": "c2", "execId": "", "signal": 9}'
  c RemoveContainer '{"containerId": "c2"}'
  after=$(settle "$base" snapshot)
  check "the last removal: baseline again" "baseline: $base; after: $after" want "$after" "$base"
  agent_stop
}

t_churn
