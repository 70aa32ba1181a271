#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: ghooks. Prints TAP.
#
#   ghooks.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 5
suite_requires

# CreateSandbox's guest_hook_path: root's executables in <path>/prestart run
# as OCI hooks of every container; a path the host could fill is never used,
# and, as upstream, a problem with the path is logged, not an error.
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
  check "CreateSandbox with guest_hook_path: OK, and no hook runs before a container does" "$(cat "$out")" \
    eval '[ $rc -eq 0 ] && [ ! -e "$mark" ]'
  local b
  b=$(bundle ghrun true)
  run_ ghrun "$b"
  check "a container runs the guest prestart hook (args: its name and the kind) and poststop" \
    "$(cat "$mark" 2>&1; diag ghrun)" eval \
    '[ $rc -eq 0 ] && grep -q "prestart/10-mark prestart" "$mark" && grep -q "^poststop poststop" "$mark" &&
     ! grep -q 20-not "$mark"'
  # As upstream (create_sandbox logs add_hooks' failure and goes on): a path
  # that cannot hold hooks is logged and left out, CreateSandbox succeeds,
  # and no hook from it ever runs.
  : >"$mark"
  mkdir -p "$shared/hk/prestart"
  printf '#!/bin/sh\necho planted >>%s\n' "$mark" >"$shared/hk/prestart/planted"
  chmod 755 "$shared/hk/prestart/planted"
  ctl call AgentService/CreateSandbox "{\"guestHookPath\": \"$shared/hk\"}" >"$out" 2>&1
  rc=$?
  b=$(bundle ghrun2 true)
  run_ ghrun2 "$b"
  check "guest_hook_path below the shared dir: CreateSandbox OK, logged, no hook from it runs" \
    "$(cat "$out" "$mark"; diag ghrun2)" eval \
    '[ $rc -eq 0 ] && ! grep -q planted "$mark" && grep -q "below the shared directory.*no guest hooks" "$work/agent.log"'
  chmod 775 "$hd/prestart"
  : >"$mark"
  ctl call AgentService/CreateSandbox "{\"guestHookPath\": \"$hd\"}" >"$out" 2>&1
  rc=$?
  b=$(bundle ghrun3 true)
  run_ ghrun3 "$b"
  check "a group-writable prestart directory: CreateSandbox OK, logged, its hooks left out, poststop still runs" \
    "$(cat "$out" "$mark"; diag ghrun3)" eval \
    '[ $rc -eq 0 ] && ! grep -q "10-mark prestart" "$mark" && grep -q "^poststop poststop" "$mark" &&
     grep -q "prestart is not root.s alone.*no prestart hooks" "$work/agent.log"'
  ctl call AgentService/CreateSandbox '{"guestHookPath": "/nonexistent/kata-hooks"}' >"$out" 2>&1
  rc=$?
  check "a guest_hook_path that does not exist: CreateSandbox OK (upstream finds no hooks there)" \
    "$(cat "$out")" eval '[ $rc -eq 0 ] && grep -q "/nonexistent/kata-hooks.*no guest hooks" "$work/agent.log"'
  agent_stop
}

t_ghooks
