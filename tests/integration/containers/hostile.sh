#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: hostile. Prints TAP.
#
#   hostile.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 10
suite_requires

t_hostile() {
  agent_start hostile || return
  local b out="$work/hostile.out"
  # a spec complete enough that only the id is wrong
  b=$(bundle x true)
  local spec='{"Process": {"Args": ["true"], "Cwd": "/"}, "Root": {"Path": "'"$b"'/rootfs"},
    "Linux": {"Namespaces": [{"Type": "mount"}, {"Type": "pid"}]}}'
  local id
  for id in '../x' 'a/b' '..' ''; do
    ctl call AgentService/CreateContainer "{\"containerId\": \"$id\", \"OCI\": $spec}" >"$out" 2>&1
    rc=$?
    check "CreateContainer with id \"$id\" is INVALID_ARGUMENT naming the container id" "$(cat "$out")" \
      eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -qi "container.\?id" "$out"'
  done
  ctl call AgentService/ReadStdout '{"containerId": "../../etc", "len": 10}' >"$out" 2>&1
  rc=$?
  check "ReadStdout with id \"../../etc\" is INVALID_ARGUMENT" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'

  ln -s / "$shared/evilroot"
  ctl call AgentService/CreateContainer \
    "{\"containerId\": \"evil1\", \"OCI\": ${spec/$b\/rootfs/$shared/evilroot}}" >"$out" 2>&1
  rc=$?
  local refused
  refused=$(cat "$out")
  ctl call AgentService/RemoveContainer '{"containerId": "evil1"}' >"$out" 2>&1
  check "a rootfs that is a symlink to / is refused naming the root, and no container evil1 exists" \
    "$refused; $(cat "$out")" eval \
    '[ $rc -ne 0 ] && [[ $refused == *INVALID_ARGUMENT*evilroot* || $refused == *PERMISSION_DENIED*evilroot* ]] &&
     grep -q NOT_FOUND "$out"'

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
  check "a bind mount of a host path outside the allowed guest paths is refused naming /etc" "$(diag bindetc)" \
    eval '[ $rc -ne 0 ] && ! [ -s "$work/bindetc.out" ] && grep -q "Source /etc: bind sources must be below" "$work/bindetc.err" &&
      grep -q -e INVALID_ARGUMENT -e PERMISSION_DENIED "$work/bindetc.err"'
  agent_stop
}

t_hostile
