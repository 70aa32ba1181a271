#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: devices. Prints TAP.
#
#   devices.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 7
suite_requires

# Device rules (linux.resources.devices) on the v1 devices controller: the
# upstream defaults, then the spec's rules (its leading "deny all" dropped, as
# upstream does), last match wins; UpdateContainer appends; a bad rule is
# refused and what was in force stays.
t_devices() {
  if [ ! -f /sys/fs/cgroup/devices/devices.list ]; then
    skip_rest "needs the cgroup v1 devices controller"
    return
  fi
  agent_start devices || return
  local b out="$work/dev.out" last
  # Every 0.2 s: can it write /dev/null, read /dev/zero, write /dev/zero?
  b=$(bundle dv sh -c 'while :; do
      s=st; if (echo x >/dev/null) 2>/dev/null; then s="$s null:ok"; else s="$s null:no"; fi
      if (head -c1 </dev/zero >/dev/null) 2>/dev/null; then s="$s zero:ok"; else s="$s zero:no"; fi
      if (echo x >/dev/zero) 2>/dev/null; then s="$s zerow:ok"; else s="$s zerow:no"; fi
      echo "$s"; sleep 0.2; done')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {devices: [
      {allow: false, access: "rwm"},
      {allow: true, type: "c", major: 1, minor: 3, access: "rwm"},
      {allow: false, type: "c", major: 1, minor: 5, access: "rwm"}]}'
  ctl run "$b" --id dv </dev/null >"$work/dv.out" 2>"$work/dv.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/dv.out" '^st ' 200; then
    rc=-
    tap FAIL "devices: a container with device rules starts" "$(diag dv)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  local list="/sys/fs/cgroup/devices/$cg_name/dv/devices.list"
  check "create: /dev/null writable, /dev/zero not openable (c 1:5 denied)" "$(diag dv)" \
    want "$(tail -n1 "$work/dv.out")" "st null:ok zero:no zerow:no"
  check "create: devices.list has the defaults and c 1:3, no c 1:5, no 'a'" "$(cat "$list" 2>&1)" eval \
    'grep -qx "c 1:3 rwm" "$list" && grep -qx "c 136:\* rwm" "$list" && grep -qx "c \*:\* m" "$list" &&
     ! grep -q "^c 1:5 " "$list" && ! grep -q "^a " "$list"'

  ctl call AgentService/UpdateContainer '{"containerId": "dv", "resources": {"Devices": [
      {"Allow": true, "Type": "c", "Major": 1, "Minor": 5, "Access": "r"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer allowing c 1:5 r: /dev/zero readable, still not writable" \
    "$(cat "$out"; cat "$list"; diag dv)" eval \
    '[ $rc -eq 0 ] && grep -qx "c 1:5 r" "$list" && wait_for_file_text "$work/dv.out" "st null:ok zero:ok zerow:no" 50'

  local before
  before=$(cat "$list")
  ctl call AgentService/UpdateContainer '{"containerId": "dv", "resources": {"Devices": [
      {"Allow": true, "Type": "c", "Major": 1, "Minor": 7, "Access": "rw"},
      {"Allow": true, "Type": "x", "Major": 1, "Minor": 9, "Access": "q"}]}}' >"$out" 2>&1
  rc=$?
  sleep 0.5
  last=$(tail -n1 "$work/dv.out")
  check "UpdateContainer with type x: INVALID_ARGUMENT naming devices[1]; rules unchanged" \
    "$(cat "$out"; cat "$list"; echo "$last")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "devices\[1\]: type" "$out" &&
     [ "$(cat "$list")" = "$before" ] && [ "$last" = "st null:ok zero:ok zerow:no" ]'
  ctl call AgentService/UpdateContainer '{"containerId": "dv", "resources": {"Devices": [
      {"Allow": true, "Type": "c", "Major": 1, "Minor": 5, "Access": "q"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer with access q: INVALID_ARGUMENT naming devices[0]; rules unchanged" \
    "$(cat "$out"; cat "$list")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "devices\[0\]: access" "$out" &&
     [ "$(cat "$list")" = "$before" ]'

  ctl call AgentService/RemoveContainer '{"containerId": "dv", "timeout": 20}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer: OK, devices cgroup gone" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ ! -d "/sys/fs/cgroup/devices/$cg_name/dv" ]'
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null

  b=$(bundle dvbad true)
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {devices: [{allow: true, type: "c", major: -7, minor: 3, access: "rw"}]}'
  run_ dvbad "$b"
  check "create with major -7: INVALID_ARGUMENT, nothing left" "$(diag dvbad)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/dvbad.err" && [ ! -d "/sys/fs/cgroup/devices/$cg_name/dvbad" ]'
  agent_stop
}

t_devices
