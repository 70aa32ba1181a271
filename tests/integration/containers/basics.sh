#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: basics. Prints TAP.
#
#   basics.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 10
suite_requires

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

t_basics
