#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Where a scenario is played (containerd-shim-helper/ctl/replay.c,
# doc/runtime-replay.md): the VM suite declares `replay --plan SCENARIO
# IN_GUEST=1` before it boots, lays out the share with `replay --host-side`
# on the host, and plays the rest in the guest with IN_GUEST=1. No agent is
# needed: a small scenario of shell steps and one call to an address where
# nothing listens.
#
#   modes.sh KATA_AGENT_CTL
set -uo pipefail
ctl=${1:?usage: $0 KATA_AGENT_CTL}
. "$(dirname "$0")/../lib/tap.sh"
plan 8

work=$(mktemp -d /tmp/kata-replay-modes.XXXXXX)
cleanup() { rm -rf "$work"; }
tap_cleanup=cleanup
addr="unix://$work/nobody.sock"
# 2 host_side points, 1 plain, 1 call, 1 not_in_guest; a note and an async
# call that are no points
cat >"$work/s.json" <<'EOF'
{"name": "modes", "vars": {"OUT": "${DIR}/out"},
 "steps": [
  {"note": "a note"},
  {"name": "lay out a", "host_side": true, "shell": "mkdir -p $OUT && echo a > $OUT/a"},
  {"name": "lay out b", "host_side": true, "shell": "echo b > $OUT/b && echo ${DIR}", "output": "${DIR}"},
  {"name": "anywhere", "shell": "echo c > $OUT/c"},
  {"call": "Health/Check", "req": {}},
  {"call": "WaitProcess", "req": {}, "async": true, "as": "w"},
  {"name": "after the end", "not_in_guest": "the guest is off", "shell": "echo d > $OUT/d"}
 ]}
EOF

p_all=$("$ctl" replay --plan "$work/s.json" 2>&1)
p_guest=$("$ctl" replay --plan "$work/s.json" IN_GUEST=1 2>&1)
check "--plan: every point stand-alone (5), the host_side and not_in_guest ones left out with IN_GUEST (2)" \
  "stand-alone: $p_all, in the guest: $p_guest" want "$p_all:$p_guest" 5:2

"$ctl" --addr "$addr" replay --host-side "$work/s.json" DIR="$work" >"$work/host.tap" 2>&1
rc=$?
check "--host-side: plays only the host_side steps, needs no agent, exits 0" "$(cat "$work/host.tap")" eval \
  '[ $rc = 0 ] && [ "$(grep -c "^ok " "$work/host.tap")" = 2 ] && ! grep -q "^not ok" "$work/host.tap"'
check "--host-side: its plan is theirs (1..2), first" "$(cat "$work/host.tap")" want "$(head -n 1 "$work/host.tap")" 1..2
check "--host-side: their files are laid out, nothing else ran" "$(ls "$work/out" 2>&1)" \
  want "$(ls "$work/out" 2>&1 | tr '\n' ' ')" "a b "

rm -rf "$work/out" && mkdir "$work/out"
"$ctl" --addr "$addr" replay "$work/s.json" DIR="$work" IN_GUEST=1 >"$work/guest.tap" 2>&1
rc=$?
check "IN_GUEST=1: the plan --plan gave, first" "$(cat "$work/guest.tap")" want "$(head -n 1 "$work/guest.tap")" "1..$p_guest"
check "IN_GUEST=1: the steps it leaves out are named in TAP comments after the plan, with the reason" "$(cat "$work/guest.tap")" eval \
  'grep -qx "# not played in the guest (done by the host before the boot): lay out a" "$work/guest.tap" &&
   grep -qx "# not played in the guest (the guest is off): after the end" "$work/guest.tap"'
check "IN_GUEST=1: no agent to connect to: every planned point fails, none is dropped, exit non-zero" \
  "$(cat "$work/guest.tap")" eval \
  '[ $rc != 0 ] && [ "$(grep -c "^not ok .*cannot connect" "$work/guest.tap")" = "$p_guest" ] && [ -z "$(ls "$work/out")" ]'

cat >"$work/bad.json" <<'EOF'
{"steps": [{"name": "fails", "host_side": true, "shell": "exit 3"}, {"name": "guest only", "shell": "true"}]}
EOF
"$ctl" replay --host-side "$work/bad.json" >"$work/bad.tap" 2>&1
rc=$?
check "--host-side: a failing host step is not ok and the exit status says so" "$(cat "$work/bad.tap")" eval \
  '[ $rc != 0 ] && grep -q "^not ok 1 - fails" "$work/bad.tap" && [ "$(head -n 1 "$work/bad.tap")" = 1..1 ]'
