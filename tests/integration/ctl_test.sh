#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kata-agent-ctl against the real agent, as a developer would drive it.
# Prints TAP.
#
#   ctl_test.sh KATA_AGENT KATA_AGENT_CTL
#
# The agent runs from a config file that allows only a few endpoints, so a
# refused call has a known outcome (PERMISSION_DENIED) whatever the front-end
# implements. The agent's process group and the temp dir are removed on exit.
set -uo pipefail

agent=${1:?usage: $0 KATA_AGENT KATA_AGENT_CTL}
ctl=${2:?usage: $0 KATA_AGENT KATA_AGENT_CTL}
work=$(mktemp -d /tmp/kata-ctl-test.XXXXXX)
agent_pid=
n=0
bad=0

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
trap cleanup EXIT
# kill -0 succeeds on a zombie: look at the state letter instead.
alive() { [ -e "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }
trap 'exit 130' INT TERM

tap() { # tap OK|FAIL description [diagnostic file or text]
  n=$((n + 1))
  if [ "$1" = OK ]; then
    echo "ok $n - $2"
  else
    bad=$((bad + 1))
    echo "not ok $n - $2"
    if [ -n "${3:-}" ]; then
      if [ -f "$3" ]; then tail -n 15 "$3"; else printf '%s\n' "$3"; fi | sed 's/^/# /'
    fi
  fi
}
finish() {
  echo "1..$n"
  [ "$bad" -eq 0 ]
  exit
}

for b in "$agent" "$ctl"; do
  if [ ! -x "$b" ]; then
    tap FAIL "$(basename "$b") is built" "missing $b"
    finish
  fi
done

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
  finish
fi
tap OK "kata-agent answers kata-agent-ctl check"

run() { # run NAME ARGS...: output in $work/NAME.out, exit status in $rc
  local name=$1
  shift
  timeout 20 "$ctl" --addr "$addr" "$@" >"$work/$name.out" 2>&1
  rc=$?
}
is_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }

run check check
if [ "$rc" -eq 0 ] && grep -q SERVING "$work/check.out"; then
  tap OK "check prints SERVING"
else
  tap FAIL "check prints SERVING (exit $rc)" "$work/check.out"
fi

run version version
if [ "$rc" -eq 0 ] && grep -q '[0-9]\+\.[0-9]\+\.[0-9]\+' "$work/version.out"; then
  tap OK "version prints the versions"
else
  tap FAIL "version prints the versions (exit $rc)" "$work/version.out"
fi

run health call grpc.Health/Check '{}'
if [ "$rc" -eq 0 ] && is_json "$work/health.out" && grep -q SERVING "$work/health.out"; then
  tap OK "call grpc.Health/Check prints a JSON answer with SERVING"
else
  tap FAIL "call grpc.Health/Check prints a JSON answer with SERVING (exit $rc)" "$work/health.out"
fi

run details call grpc.AgentService/GetGuestDetails '{"memBlockSize": true, "memHotplugProbe": true}'
if [ "$rc" -eq 0 ] && is_json "$work/details.out"; then
  tap OK "call GetGuestDetails with JSON answers JSON"
else
  tap FAIL "call GetGuestDetails with JSON answers JSON (exit $rc)" "$work/details.out"
fi

run denied call grpc.AgentService/CreateContainer '{"containerId": "c1"}'
if [ "$rc" -ne 0 ] && grep -q PERMISSION_DENIED "$work/denied.out"; then
  tap OK "a refused call prints PERMISSION_DENIED and exits non-zero"
else
  tap FAIL "a refused call prints PERMISSION_DENIED and exits non-zero (exit $rc)" "$work/denied.out"
fi

run badjson call grpc.AgentService/GetGuestDetails '{"memBlockSize": '
if [ "$rc" -ne 0 ] && [ -s "$work/badjson.out" ]; then
  tap OK "malformed JSON is an error with a message"
else
  tap FAIL "malformed JSON is an error with a message (exit $rc)" "$work/badjson.out"
fi

run nomethod call grpc.AgentService/NoSuchMethod '{}'
if [ "$rc" -ne 0 ] && [ -s "$work/nomethod.out" ]; then
  tap OK "an unknown method is an error with a message"
else
  tap FAIL "an unknown method is an error with a message (exit $rc)" "$work/nomethod.out"
fi

# The agent is still there after all of that.
run after check
if [ "$rc" -eq 0 ]; then
  tap OK "agent still serves after the errors"
else
  tap FAIL "agent still serves after the errors" "$work/after.out"
fi

stop_agent
left=
for p in /proc/[0-9]*; do
  pg=$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f3) || continue
  [ "$pg" = "$agent_pid" ] && left="$left ${p#/proc/}"
done
agent_pid=
if [ -z "$left" ]; then
  tap OK "no agent process left after stop"
else
  tap FAIL "no agent process left after stop" "still running:$left"
fi
finish
