#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Where a scenario is played (containerd-shim-helper/ctl/replay.c,
# doc/runtime-replay.md): the VM suite declares `replay --plan SCENARIO
# IN_GUEST=1` before it boots, lays out the share with `replay --host-side`
# on the host, plays the rest in the guest with IN_GUEST=1, and plays a host
# step the guest asks for during the scenario (`--host-side --step N`). This
# suite plays both sides on one machine, against a fresh agent, with a small
# scenario of shell steps and one call.
#
#   modes.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 12
suite_requires

s=$top/s.json
out=$top/out
# 3 host_side points (2 before the first call, 1 during), 1 plain, 1 call,
# 1 not_in_guest; a note and an async call that are no points
cat >"$s" <<'EOF'
{"name": "modes", "vars": {"OUT": "${DIR}/out"},
 "steps": [
  {"note": "a note"},
  {"name": "lay out a", "host_side": true, "shell": "mkdir -p $OUT && echo a > $OUT/a"},
  {"name": "lay out b", "host_side": true, "shell": "echo b > $OUT/b && echo ${DIR}", "output": "${DIR}"},
  {"call": "Health/Check", "req": {}},
  {"name": "change a", "host_side": true, "shell": "echo a2 > $OUT/a"},
  {"name": "anywhere", "shell": "cat $OUT/a; echo c > $OUT/c", "output": "a2"},
  {"call": "WaitProcess", "req": {}, "async": true, "as": "w"},
  {"name": "after the end", "not_in_guest": "the guest is off", "shell": "echo d > $OUT/d"}
 ]}
EOF

p_all=$("$ctl_bin" replay --plan "$s" 2>&1)
p_guest=$("$ctl_bin" replay --plan "$s" IN_GUEST=1 2>&1)
check "--plan: every point stand-alone (6), in the guest all but the host steps before the first call and not_in_guest (3)" \
  "stand-alone: $p_all, in the guest: $p_guest" want "$p_all:$p_guest" 6:3

"$ctl_bin" replay --host-side "$s" DIR="$top" >"$top/host.tap" 2>&1
rc=$?
check "--host-side: plays the host_side steps before the first call, needs no agent, exits 0" \
  "$(cat "$top/host.tap")" eval \
  '[ $rc = 0 ] && [ "$(grep -c "^ok " "$top/host.tap")" = 2 ] && ! grep -q "^not ok" "$top/host.tap"'
check "--host-side: their plan (1..2), first" "$(cat "$top/host.tap")" want "$(head -n 1 "$top/host.tap")" 1..2
check "--host-side: their files are laid out, nothing else ran" "$(ls "$out" 2>&1)" \
  want "$(ls "$out" 2>&1 | tr '\n' ' ')" "a b "

agent_start modes || { fail_rest "the agent does not start"; exit 1; }
# The guest's side in the background; this shell plays the host when asked.
mkdir "$top/done"
"$ctl_bin" --addr "$addr" replay "$s" DIR="$top" IN_GUEST=1 HOST_DONE_DIR="$top/done" \
  >"$top/guest.tap" 2>&1 &
guest=$!
for _ in $(seq 1 300); do # 30 s at most (ASan x4 on a loaded machine)
  grep -q '^# host step ' "$top/guest.tap" && break
  sleep 0.1
done
asked=$(sed -n 's/^# host step \([0-9]*\): .*/\1/p' "$top/guest.tap")
check "IN_GUEST=1: the host step during the scenario is asked for as step 5, after the call" \
  "$(cat "$top/guest.tap")" want "$asked" 5
"$ctl_bin" replay --host-side --step "${asked:-5}" "$s" DIR="$top" >"$top/done/tmp" 2>&1
rc=$?
mv "$top/done/tmp" "$top/done/step-${asked:-5}.tap"
check "--host-side --step 5: plays that step only (1..1), exits 0" "$(cat "$top/done/step-5.tap")" eval \
  '[ $rc = 0 ] && [ "$(head -n 1 "$top/done/step-5.tap")" = 1..1 ] && grep -q "^ok 1 - change a" "$top/done/step-5.tap" &&
   [ "$(cat "$out/a")" = a2 ] && [ ! -e "$out/c" ]'
wait "$guest"
rc=$?
check "IN_GUEST=1: the plan --plan gave, first; every point ok; exit 0" "$(cat "$top/guest.tap")" eval \
  '[ $rc = 0 ] && [ "$(head -n 1 "$top/guest.tap")" = "1..$p_guest" ] && [ "$(grep -c "^ok " "$top/guest.tap")" = "$p_guest" ]'
check "IN_GUEST=1: the host's answer is the step's point, the next step saw the change" \
  "$(cat "$top/guest.tap")" eval \
  'grep -q "^ok 2 - change a (by the host, asked from the guest)" "$top/guest.tap" && grep -q "^ok 3 - anywhere" "$top/guest.tap"'
check "IN_GUEST=1: the steps it leaves out are named in TAP comments after the plan, with the reason" \
  "$(cat "$top/guest.tap")" eval \
  'grep -qx "# not played in the guest (done by the host before the boot): lay out a" "$top/guest.tap" &&
   grep -qx "# not played in the guest (the guest is off): after the end" "$top/guest.tap" && [ ! -e "$out/d" ]'

# No host answers: the step fails after its timeout, the rest goes on.
rm -f "$top/done/"*
sed 's/"name": "change a", "host_side": true/"timeout": 1, &/' "$s" >"$top/t.json"
"$ctl_bin" --addr "$addr" replay "$top/t.json" DIR="$top" IN_GUEST=1 HOST_DONE_DIR="$top/done" \
  >"$top/noanswer.tap" 2>&1
rc=$?
check "IN_GUEST=1, no host answers: that step is not ok, the others still report, exit non-zero" \
  "$(cat "$top/noanswer.tap")" eval \
  '[ $rc != 0 ] && grep -q "^not ok 2 - change a" "$top/noanswer.tap" && grep -q "no answer from the host" "$top/noanswer.tap" &&
   grep -q "^ok 1 " "$top/noanswer.tap" && [ "$(grep -c "^\(not \)\{0,1\}ok " "$top/noanswer.tap")" = 3 ]'

cat >"$top/bad.json" <<'EOF'
{"steps": [{"name": "fails", "host_side": true, "shell": "exit 3"}, {"name": "guest only", "shell": "true"}]}
EOF
"$ctl_bin" replay --host-side "$top/bad.json" >"$top/bad.tap" 2>&1
rc=$?
check "--host-side: a failing host step is not ok and the exit status says so" "$(cat "$top/bad.tap")" eval \
  '[ $rc != 0 ] && grep -q "^not ok 1 - fails" "$top/bad.tap" && [ "$(head -n 1 "$top/bad.tap")" = 1..1 ]'
"$ctl_bin" replay --host-side --step 2 "$top/bad.json" >"$top/step2.out" 2>&1
rc=$?
check "--host-side --step N of a step that is no host step: a usage error, nothing played" "$(cat "$top/step2.out")" eval \
  '[ $rc = 2 ] && grep -q "step 2 is no host_side step" "$top/step2.out" && ! grep -q "^ok" "$top/step2.out"'
