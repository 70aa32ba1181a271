#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: hooks. Prints TAP.
#
#   hooks.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 1
suite_requires

# The host's hooks other than startContainer are refused unless the config
# file says allow_host_hooks (tests/security/hooks.sh); here they are
# allowed, to check the order and placement of every stage.
t_hooks() {
  agent_toml='allow_host_hooks = true' agent_start hooks || return
  local b log hook="$work/hook.sh"
  b=$(bundle hooks true)
  log="$b/rootfs/tmp/hooks.log"
  printf '#!/bin/sh\necho "$1" >> "$2"\n' >"$hook"
  chmod 755 "$hook"
  jqset "$b" '.hooks = {
      prestart: [{path: $h, args: ["hook.sh", "prestart", $l]}],
      createRuntime: [{path: $h, args: ["hook.sh", "createRuntime", $l]}],
      createContainer: [{path: $h, args: ["hook.sh", "createContainer", $l]}],
      startContainer: [{path: "/bin/sh", args: ["sh", "-c", "echo startContainer >> /tmp/hooks.log"]}],
      poststart: [{path: $h, args: ["hook.sh", "poststart", $l]}],
      poststop: [{path: $h, args: ["hook.sh", "poststop", $l]}]}' \
    --arg h "$hook" --arg l "$log"
  run_ hooks "$b"
  check "hooks ran in order (prestart createRuntime createContainer startContainer poststart poststop)" \
    "$(diag hooks; echo "-- hooks.log"; cat "$log" 2>&1)" \
    want "$( { tr '\n' ' ' <"$log"; } 2>/dev/null)" \
    "prestart createRuntime createContainer startContainer poststart poststop "
  agent_stop
}

t_hooks
