#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kata-agent-ctl against the real agent, as a developer would drive it.
# Prints TAP (tests/lib/tap.sh: the plan first).
#
#   ctl_test.sh KATA_AGENT KATA_AGENT_CTL
#
# The agent runs from a config file that allows only a few endpoints, so a
# refused call has a known outcome (PERMISSION_DENIED) whatever the front-end
# implements. The agent's process group and the temp dir are removed on exit.
set -uo pipefail

agent=${1:?usage: $0 KATA_AGENT KATA_AGENT_CTL}
ctl=${2:?usage: $0 KATA_AGENT KATA_AGENT_CTL}
. "$(dirname "$0")/../lib/tap.sh"
plan 10

work=$(mktemp -d /tmp/kata-ctl-test.XXXXXX)
agent_pid=

stop_agent() {
  [ -n "$agent_pid" ] || return 0
  kill -TERM -- "-$agent_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 -- "-$agent_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$agent_pid" 2>/dev/null || true
  wait "$agent_pid" 2>/dev/null || true
}
cleanup() {
  stop_agent
  rm -rf "$work"
}
tap_cleanup=cleanup
# kill -0 succeeds on a zombie: look at the state letter instead.
alive() { [ -e "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }
trap 'exit 130' INT TERM

for b in "$agent" "$ctl"; do
  [ -x "$b" ] || { fail_rest "$(basename "$b") is not built ($b)"; exit 1; }
done
need_tool python3 setsid

sock="$work/agent.sock"
addr="unix://$sock"
echo "agent.server_addr=$addr agent.log=debug" >"$work/cmdline"
cat >"$work/agent.toml" <<EOF
server_addr = "$addr"
log_level = "debug"

[endpoints]
allowed = ["GuestDetailsRequest", "CheckRequest"]
EOF
setsid "$agent" --cmdline "$work/cmdline" --config "$work/agent.toml" \
  >"$work/agent.log" 2>&1 </dev/null &
agent_pid=$!

ready=
for _ in $(seq 1 150); do
  if [ -S "$sock" ] && timeout 5 "$ctl" --addr "$addr" check >/dev/null 2>&1; then
    ready=1
    break
  fi
  alive "$agent_pid" || break
  sleep 0.1
done
if [ -z "$ready" ]; then
  tap FAIL "kata-agent answers kata-agent-ctl check" "$work/agent.log"
  fail_rest "the agent did not start"
  exit 1
fi
tap OK "kata-agent answers kata-agent-ctl check"

run() { # run NAME ARGS...: output in $work/NAME.out, exit status in $rc
  local name=$1
  shift
  timeout 20 "$ctl" --addr "$addr" "$@" >"$work/$name.out" 2>&1
  rc=$?
}
# json_get FILE EXPR: a value of the JSON in FILE (python expression on j)
json_get() { python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

run check check
check "check prints SERVING and nothing else" "exit $rc: $(cat "$work/check.out")" \
  eval '[ $rc -eq 0 ] && [ "$(cat "$work/check.out")" = SERVING ]'

# grpc.Health/Version: the project's version and the agent API version
# upstream reports (0.0.1)
run version version
check "version prints agent_version X.Y.Z and grpc_version 0.0.1" "exit $rc: $(cat "$work/version.out")" \
  eval '[ $rc -eq 0 ] && grep -qx "agent_version: [0-9]\+\.[0-9]\+\.[0-9]\+" "$work/version.out" &&
    grep -qx "grpc_version: 0.0.1" "$work/version.out"'

run health call grpc.Health/Check '{}'
check "call grpc.Health/Check prints JSON whose status is SERVING" "exit $rc: $(cat "$work/health.out")" \
  eval '[ $rc -eq 0 ] && [ "$(json_get "$work/health.out" "j[\"status\"]")" = SERVING ]'

# memBlockSizeBytes is the guest's (here this host's) memory block size,
# 0 (absent in JSON) on a kernel without memory hotplug
blk=$(cat /sys/devices/system/memory/block_size_bytes 2>/dev/null)
run details call grpc.AgentService/GetGuestDetails '{"memBlockSize": true, "memHotplugProbe": true}'
check "call GetGuestDetails: JSON with memBlockSizeBytes = block_size_bytes (0x${blk:-absent}) and the agent's version" \
  "exit $rc: $(cat "$work/details.out")" \
  eval '[ $rc -eq 0 ] && [ "$(json_get "$work/details.out" "j.get(\"memBlockSizeBytes\", \"0\")")" = "$((16#${blk:-0}))" ] &&
    [ "$(json_get "$work/details.out" "j[\"agentDetails\"][\"version\"]")" = "$(sed -n "s/^agent_version: //p" "$work/version.out")" ]'

run denied call grpc.AgentService/CreateContainer '{"containerId": "c1"}'
check "a call outside [endpoints] allowed: PERMISSION_DENIED naming CreateContainerRequest, exit 1" \
  "exit $rc: $(cat "$work/denied.out")" \
  eval '[ $rc -eq 1 ] && grep -q "PERMISSION_DENIED: CreateContainerRequest is blocked" "$work/denied.out"'

# the two below never reach the agent: the tool refuses them itself
run badjson call grpc.AgentService/GetGuestDetails '{"memBlockSize": '
check "malformed JSON: usage error (exit 2) naming the message type and the position" \
  "exit $rc: $(cat "$work/badjson.out")" \
  eval '[ $rc -eq 2 ] && grep -q "JSON for grpc.GuestDetailsRequest: line 1 column" "$work/badjson.out"'

run nomethod call grpc.AgentService/NoSuchMethod '{}'
check "an unknown method: usage error (exit 2) naming it" "exit $rc: $(cat "$work/nomethod.out")" \
  eval '[ $rc -eq 2 ] && grep -q "unknown method \"grpc.AgentService/NoSuchMethod\"" "$work/nomethod.out"'

# The agent is still there after all of that.
run after check
check "the agent still serves after the errors" "exit $rc: $(cat "$work/after.out")" \
  eval '[ $rc -eq 0 ] && [ "$(cat "$work/after.out")" = SERVING ]'

stop_agent
left=
for p in /proc/[0-9]*; do
  pg=$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f3) || continue
  [ "$pg" = "$agent_pid" ] && left="$left ${p#/proc/}"
done
agent_pid=
check "no agent process left after stop" "still running:$left" want "$left" ""
