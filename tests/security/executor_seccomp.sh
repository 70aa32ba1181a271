#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The executor's own seccomp deny-list (agentd/executor/executor_seccomp.c;
# tests/unit/test_executor_seccomp.c calls every listed syscall under it):
#  - the running executor has it loaded, and what runs in its context (a
#    poststop hook, run by its runner) is refused a listed call (syslog,
#    through dmesg);
#  - containers do not inherit it: their processes carry exactly their
#    spec's filter (none, or one), and a listed call their spec allows
#    (syslog, with CAP_SYSLOG) works; modprobe, started by the spawner,
#    carries none either.
# Prints TAP.
#
#   executor_seccomp.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 7
suite_requires

seccomp_of() { awk '/^Seccomp:/ {m = $2} /^Seccomp_filters:/ {f = $2} END {print m "/" f}' "$1" 2>/dev/null; }

t_executor_seccomp() {
  local fake="$top/fake-modprobe"
  printf '#!/bin/sh\ngrep ^Seccomp /proc/$$/status > %s/modprobe.status\n' "$top" >"$fake"
  chmod 755 "$fake"
  agent_toml='allow_host_hooks = true' agent_prep="mount --bind $fake /sbin/modprobe" \
    agent_start exsc || return
  local st b
  st=$(seccomp_of "/proc/$executor_pid/status")
  check "the executor runs under its filter (Seccomp mode/filters: $st)" "$st" want "$st" 2/1

  b=$(bundle plain sh -c 'grep ^Seccomp /proc/self/status; dmesg >/dev/null && echo syslog-ok')
  jqset "$b" '.process.capabilities |= map_values(. + ["CAP_SYSLOG"])'
  run_ plain "$b"
  check "a container without a seccomp profile carries no filter, and may read the kernel log (syslog, denied to the executor)" \
    "$(diag plain)" eval \
    '[ $rc -eq 0 ] && grep -q "^Seccomp:.0" "$work/plain.out" && grep -qx syslog-ok "$work/plain.out"'
  b=$(bundle own sh -c 'grep ^Seccomp /proc/self/status; mkdir /tmp/x 2>/dev/null || echo mkdir-refused')
  jqset "$b" '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}'
  run_ own "$b"
  check "a container with a profile carries exactly that one filter" "$(diag own)" eval \
    '[ $rc -eq 0 ] && grep -q "^Seccomp_filters:.1$" "$work/own.out" && grep -qx mkdir-refused "$work/own.out"'

  local mpid
  b=$(bundle mon sleep 30)
  ctl run "$b" --id mon </dev/null >/dev/null 2>&1 &
  local run_pid=$!
  for _ in $(seq 1 100); do mpid=$(child_named "$executor_pid" kata-agent-mon) && break; sleep 0.1; done
  st=$(seccomp_of "/proc/$mpid/status")
  check "a monitor carries its own allow-list only (Seccomp mode/filters: $st)" "$st" want "$st" 2/1
  ctl call AgentService/SignalProcess '{"containerId": "mon", "signal": 9}' >/dev/null 2>&1
  wait "$run_pid"

  b=$(bundle hook true)
  jqset "$b" '.hooks = {poststop: [{path: "/bin/sh", args: ["sh", "-c",
    "dmesg --syslog > /dev/null 2> \($o).err; echo $? > \($o)"]}]}' --arg o "$work/hook.syslog"
  run_ hook "$b"
  check "in the executor's context (a poststop hook, root) reading the kernel log is refused: EPERM" \
    "$(diag hook; cat "$work/hook.syslog.err")" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$work/hook.syslog")" != 0 ] && grep -qi "not permitted" "$work/hook.syslog.err"'

  ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "dummy"}]}' >"$work/mod.out" 2>&1
  rc=$?
  check "modprobe (from the spawner) carries no filter" "$(cat "$work/mod.out" "$top/modprobe.status" 2>&1)" eval \
    '[ $rc -eq 0 ] && grep -q "^Seccomp:.0" "$top/modprobe.status"'
  b=$(bundle after echo still serving)
  run_ after "$b"
  check "containers still work" "$(diag after)" eval '[ $rc -eq 0 ] && grep -q "still serving" "$work/after.out"'
  agent_stop
}

t_executor_seccomp
