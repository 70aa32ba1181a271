#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attack: OCI hooks from a hostile host (issue 10, items 2 and 5).
#  - every hook stage that would run as root outside the container
#    (prestart, createRuntime, createContainer, poststart, poststop) is
#    refused with PERMISSION_DENIED naming it, and never runs;
#  - a startContainer hook runs inside the container with nothing more than
#    the container's process: its uid, capabilities, no_new_privs, seccomp
#    filter, root, pid namespace and cgroup;
#  - with the config file's allow_host_hooks (stand-alone use), a poststop
#    hook that sleeps does not hold up other requests and is killed, with
#    what it started, at its deadline; hooks and modprobe inherit no fd of
#    the agent beyond stdio.
# The Go runtime sends no hooks at all (kata_agent.go constrainGRPCSpec);
# runtime-rs keeps only startContainer (virt_container amend_spec).
# Prints TAP.
#
#   hooks.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 13
suite_requires
need_tool gcc

status_keys='^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'

t_refused() {
  agent_start hooks || return
  local stage b mark="$work/hook.ran"
  for stage in prestart createRuntime createContainer poststart poststop; do
    rm -f "$mark"
    b=$(bundle "h-$stage" true)
    jqset "$b" '.hooks = {($s): [{path: "/bin/sh", args: ["sh", "-c", "echo ran > \($m)"]}]}' \
      --arg s "$stage" --arg m "$mark"
    run_ "h-$stage" "$b"
    check "a $stage hook from the host: PERMISSION_DENIED naming it, and it never runs" \
      "$(diag "h-$stage")" eval \
      '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$work/h-$stage.err" &&
       grep -q "$stage hook /bin/sh" "$work/h-$stage.err" && [ ! -e "$mark" ]'
  done

  # startContainer, as the container's user 1000 with CAP_NET_BIND_SERVICE
  # (ambient, so that it survives exec), no_new_privs, a seccomp filter
  # refusing mkdir.
  b=$(bundle sc sh -c "grep -E '$status_keys' /proc/self/status >/tmp/main.status
    cat /proc/self/cgroup >/tmp/main.cgroup; readlink /proc/self/ns/pid >/tmp/main.pidns")
  local hook="grep -E '$status_keys' /proc/self/status >/tmp/hook.status
    cat /proc/self/cgroup >/tmp/hook.cgroup; readlink /proc/self/ns/pid >/tmp/hook.pidns
    mkdir /tmp/hookdir 2>/tmp/hook.mkdir
    if [ -e '$work' ]; then echo visible; else echo hidden; fi >/tmp/hook.guest
    test -x /bin/busybox && echo container-root >>/tmp/hook.guest"
  jqset "$b" '.process.user = {uid: 1000, gid: 1000}
    | .process.capabilities = {bounding: ["CAP_NET_BIND_SERVICE"], effective: ["CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_NET_BIND_SERVICE"], inheritable: ["CAP_NET_BIND_SERVICE"],
        ambient: ["CAP_NET_BIND_SERVICE"]}
    | .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}
    | .hooks = {startContainer: [{path: "/bin/sh", args: ["sh", "-c", $h]}]}' --arg h "$hook"
  run_ sc "$b"
  local t="$b/rootfs/tmp"
  check "a startContainer hook is accepted and runs" "$(diag sc; ls "$t")" eval \
    '[ $rc -eq 0 ] && [ -s "$t/hook.status" ] && [ -s "$t/main.status" ]'
  check "startContainer: the container's uid, gid, groups, five capability sets, no_new_privs, seccomp" \
    "$(echo '-- hook'; cat "$t/hook.status"; echo '-- process'; cat "$t/main.status")" eval \
    'cmp -s "$t/hook.status" "$t/main.status" && grep -q "^Uid:.1000" "$t/hook.status" &&
     grep -q "^Seccomp:.2" "$t/hook.status" && grep -q "^NoNewPrivs:.1" "$t/hook.status"'
  check "startContainer: under the container's seccomp filter (mkdir refused), in its pid namespace and cgroup" \
    "$(cat "$t/hook.mkdir" "$t/hook.pidns" "$t/main.pidns" "$t/hook.cgroup" "$t/main.cgroup" 2>&1)" eval \
    '[ ! -e "$t/hookdir" ] && grep -qi "not permitted" "$t/hook.mkdir" &&
     cmp -s "$t/hook.pidns" "$t/main.pidns" && cmp -s "$t/hook.cgroup" "$t/main.cgroup" &&
     [ "$(cat "$t/hook.pidns")" != "$(readlink /proc/self/ns/pid)" ]'
  check "startContainer: the container's root, not the guest's (the guest's $work is not there)" \
    "$(cat "$t/hook.guest" 2>&1)" eval 'grep -qx hidden "$t/hook.guest" && grep -qx container-root "$t/hook.guest"'
  agent_stop
}

fds_only_stdio() { [ "$(cut -d' ' -f1 "$1" 2>/dev/null | sort -n | tr '\n' ' ')" = "0 1 2 " ]; }

# allow_host_hooks: the stand-alone opt-in.
t_opt_in() {
  local fdlist="$top/fdlist" fake="$top/fake-modprobe"
  if ! gcc -O2 -Wall -o "$fdlist" "$(dirname "$0")/fdlist.c" 2>"$top/gcc.err"; then
    fail_rest "cannot build fdlist.c: $(head -c 300 "$top/gcc.err")"
    return
  fi
  printf '#!/bin/sh\nexec %s %s/modprobe.fds\n' "$fdlist" "$top" >"$fake"
  chmod 755 "$fake"
  # modprobe is a fake in the agent's mount namespace: the host's stays.
  agent_toml='allow_host_hooks = true' agent_prep="mount --bind $fake /sbin/modprobe" \
    agent_start hooksin || return
  local b mark="$work/pst"
  b=$(bundle pst true)
  # The poststop hook: its pid, then a sleep far beyond its 3 s deadline.
  jqset "$b" '.hooks = {
      prestart: [{path: $f, args: ["fdlist", "\($m).prestart.fds"]}],
      poststop: [{path: $f, args: ["fdlist", "\($m).fds"]},
        {path: "/bin/sh", args: ["sh", "-c", "echo $$ > \($m).pid; sleep 97; echo late > \($m).late"],
        timeout: 3}]}' --arg m "$mark" --arg f "$fdlist"
  ctl run "$b" --id pst </dev/null >"$work/pst.out" 2>"$work/pst.err" &
  local run_pid=$! hpid=
  for _ in $(seq 1 200); do
    hpid=$(cat "$mark.pid" 2>/dev/null) && [ -n "$hpid" ] && break
    sleep 0.05
  done
  ctl call AgentService/GetGuestDetails '{"memBlockSize": true}' >"$work/gd.out" 2>&1
  rc=$?
  local alive=no
  [ -n "$hpid" ] && kill -0 "$hpid" 2>/dev/null && alive=yes
  check "GetGuestDetails is answered while a poststop hook still sleeps (hook alive: $alive)" \
    "$(cat "$work/gd.out"; tail -5 "$work/agent.log")" eval '[ $rc -eq 0 ] && [ $alive = yes ]'
  wait "$run_pid"
  rc=$?
  local left
  left=$(pgrep -f 'sleep 97')
  check "the poststop hook and its child are killed at the deadline; RemoveContainer then returns" \
    "$(diag pst; echo "left: $left")" eval \
    '[ $rc -eq 0 ] && [ -n "$hpid" ] && [ ! -e "/proc/$hpid" ] && [ -z "$left" ] &&
     [ ! -e "$mark.late" ] && grep -q "poststop hook 1 (/bin/sh): timed out" "$work/agent.log"'
  check "host hooks (opt-in) inherit only stdio (prestart in the launcher, poststop in the runner)" \
    "$(cat "$mark.prestart.fds" "$mark.fds" 2>&1)" eval \
    'fds_only_stdio "$mark.prestart.fds" && fds_only_stdio "$mark.fds"'
  ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "dummy"}]}' >"$work/mod.out" 2>&1
  rc=$?
  check "modprobe inherits only stdio from the executor" \
    "$(cat "$work/mod.out" "$top/modprobe.fds" 2>&1)" eval \
    '[ $rc -eq 0 ] && fds_only_stdio "$top/modprobe.fds"'
  agent_stop
}

t_refused
t_opt_in
