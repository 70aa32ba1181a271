#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: ghooks. Prints TAP.
#
#   ghooks.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 4
suite_requires

# CreateSandbox's guest_hook_path: root's executables in <path>/prestart run
# as OCI hooks of every container; a path the host could fill is refused.
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
  ctl call AgentService/CreateSandbox "{\"guestHookPath\": \"$shared\"}" >"$out" 2>&1
  rc=$?
  check "guest_hook_path below the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'
  chmod 775 "$hd/prestart"
  ctl call AgentService/CreateSandbox "{\"guestHookPath\": \"$hd\"}" >"$out" 2>&1
  rc=$?
  check "a group-writable hook directory: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'
  agent_stop
}

t_ghooks
