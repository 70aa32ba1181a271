#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attack: a root process inside a container takes what the agent's setup
# processes hold while the host runs a burst of ExecProcess (issue 10, item
# 1; runc CVE-2024-21626 class). tests/security/grab.c, built static and run
# in the container (default capabilities of the busybox bundle), tries
# pidfd_getfd, /proc/PID/fd readlink and open, and PTRACE_SEIZE on every pid
# it can see, and walks ".." from any directory it obtains. It is the
# victim container's init, root with Docker's default capabilities.
#  - its child `sleep` holds fd 7 on a file: the control that proves the
#    technique works here;
#  - the pod shares its pid namespace (CreateSandbox sandbox_pidns), and a
#    second container, created and never started, keeps its setup process
#    waiting at the exec point where the attacker sees it the whole time;
#  - every ExecProcess of the burst has a setup process in the victim's pid
#    namespace for a moment.
# Prints TAP.
#
#   setup_fds.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# SETUP_FDS_EXECS (default 300): ExecProcess calls in the burst.
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 10
suite_requires
need_tool gcc

execs=${SETUP_FDS_EXECS:-300}
# What Docker (and containerd's default spec) gives a container.
docker_caps='["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
  "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]'

# The burst: ExecProcess of `true`, one after the other, as a shim does for
# each `kubectl exec` (ctl exec: ExecProcess, then the stdio and WaitProcess).
burst() {
  local i ok=0
  for i in $(seq 1 "$execs"); do
    ctl exec victim -- true </dev/null >/dev/null 2>>"$work/burst.err" && ok=$((ok + 1))
  done
  echo "$ok" >"$work/burst.count"
}

# create_in_pod ID BUNDLE: CreateContainer in the sandbox's pid namespace
# (the request ctl run would send, with sandboxPidns), not started.
create_in_pod() {
  jqset "$2" '.linux.namespaces |= map(select(.type != "pid"))'
  ctl run "$2" --id "$1" --dry-run >"$work/$1.json" 2>"$work/$1.err" &&
    jq '.sandboxPidns = true' "$work/$1.json" >"$work/$1.req" &&
    ctl call AgentService/CreateContainer - <"$work/$1.req" >>"$work/$1.err" 2>&1
}

t_setup_fds() {
  agent_start setup_fds || return
  local b p
  ctl call AgentService/CreateSandbox '{"sandboxPidns": true}' >"$work/sb.err" 2>&1 ||
    { fail_rest "CreateSandbox: $(cat "$work/sb.err")"; return; }
  b=$(bundle victim sh -c 'sleep 1000 7>/tmp/bait & touch /tmp/ready
    /bin/grab /tmp/stop sleep >/tmp/grab.out 2>/tmp/grab.err; exec sleep 1000')
  jqset "$b" '.process.capabilities |= map_values($caps)' --argjson caps "$docker_caps"
  if ! gcc -static -O2 -Wall -o "$b/rootfs/bin/grab" "$(dirname "$0")/grab.c" 2>"$work/gcc.err"; then
    fail_rest "cannot build grab.c statically: $(head -c 300 "$work/gcc.err")"
    return
  fi
  create_in_pod victim "$b" &&
    ctl call AgentService/StartContainer '{"containerId": "victim"}' >>"$work/victim.err" 2>&1
  for _ in $(seq 1 100); do [ -e "$b/rootfs/tmp/ready" ] && break; sleep 0.1; done
  [ -e "$b/rootfs/tmp/ready" ] || { fail_rest "the victim did not start: $(cat "$work/victim.err")"; return; }
  p=$(bundle pending true)
  create_in_pod pending "$p" || { fail_rest "create pending: $(cat "$work/pending.err")"; return; }

  # The attacker runs while the burst goes on.
  wait_for_file_text "$b/rootfs/tmp/grab.out" CONTROL 100
  burst
  touch "$b/rootfs/tmp/stop"
  wait_for_file_text "$b/rootfs/tmp/grab.out" SCANS 300
  cp "$b/rootfs/tmp/grab.out" "$b/rootfs/tmp/grab.err" "$work/"
  local n seen
  n=$(cat "$work/burst.count" 2>/dev/null)
  check "the burst ran: ${n:-0} of $execs ExecProcess succeeded" "$(tail -5 "$work/burst.err")" \
    eval '[ "${n:-0}" -ge $((execs * 9 / 10)) ]'
  check "the attacker scanned the pod's processes" \
    "$(cat "$work/grab.err"; tail -3 "$work/grab.out")" eval 'grep -q "^SCANS [1-9]" "$work/grab.out"'
  check "control: the attacker takes its sleep's fd 7 with pidfd_getfd and /proc/PID/fd/7, and ptraces it" \
    "$(grep "CONTROL\|^SEEN" "$work/grab.out" | head; cat "$work/grab.err")" eval \
    'grep -q "^CONTROL getfd pid=[0-9]* comm=sleep fd=7 kind=reg where=in /tmp/bait" "$work/grab.out" &&
     grep -q "^CONTROL open pid=[0-9]* comm=sleep fd=7 kind=reg" "$work/grab.out" &&
     grep -q "^CONTROL ptrace pid=[0-9]* comm=sleep" "$work/grab.out"'
  seen=$(grep -c '^SEEN pid=[0-9]* comm=kata-agent' "$work/grab.out")
  check "the attacker saw setup processes ($seen): the pending container's and the burst's" \
    "$(grep '^SEEN' "$work/grab.out" | head -20)" eval '[ "$seen" -ge 2 ]'
  say "$(grep -c . "$work/grab.out") distinct lines; what was obtained (first 20):"
  grep -v '^CONTROL\|^SEEN' "$work/grab.out" | head -20 | while IFS= read -r l; do say "  $l"; done
  local from_setup leaks
  from_setup=$(grep -v '^SEEN' "$work/grab.out" | grep 'comm=kata-agent' | head -20)
  check "nothing of a setup process (still named kata-agent*) is reachable: no fd, no link, no ptrace" \
    "$from_setup" test -z "$from_setup"
  leaks=$(grep -v '^CONTROL\|^SEEN' "$work/grab.out" |
    grep -E 'kind=(sock|pidfd|anon|blk|\?)|where=out|socket:|anon_inode:' | head -20)
  check "no socket, pidfd, anon inode, or directory or file other than the container's own was obtained" \
    "$leaks" test -z "$leaks"
  check "no directory fd led out of the container (no ESCAPE)" "$(grep ESCAPE "$work/grab.out")" \
    eval '! grep -q ESCAPE "$work/grab.out"'
  ctl exec victim -- echo still serving </dev/null >"$work/after.out" 2>&1
  rc=$?
  check "the agent and the victim keep serving" "$(cat "$work/after.out"; tail -5 "$work/agent.log")" \
    eval '[ $rc -eq 0 ] && grep -q "still serving" "$work/after.out"'
  # The pod's pid 1 (kata-pidns): what a container that may ptrace it would
  # find behind /proc/1/root and /proc/1/cwd is an empty tmpfs.
  local holder
  holder=$(for q in $(descendants "$agent_pid"); do [ "$(comm_of "$q")" = kata-pidns ] && echo "$q"; done | head -n1)
  check "the pod's namespace holder (pid ${holder:-none}) has an empty root and cwd, not the guest's" \
    "$(ls -la "/proc/$holder/root/" "/proc/$holder/cwd/" 2>&1 | head)" eval \
    '[ -n "$holder" ] && [ -z "$(ls -A "/proc/$holder/root/")" ] && [ -z "$(ls -A "/proc/$holder/cwd/")" ] &&
     [ "$(stat -f -c %T "/proc/$holder/root/")" = tmpfs ]'
  ctl call AgentService/StartContainer '{"containerId": "pending"}' >"$work/pstart.err" 2>&1
  rc=$?
  check "the pending container, looked at all along, still starts" "$(cat "$work/pstart.err")" \
    eval '[ $rc -eq 0 ]'
  agent_stop
}

t_setup_fds
