#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Interoperability test: the reference Go ttRPC client (Debian's
# golang-github-containerd-ttrpc-dev, built offline) against the real agent
# on a unix socket. Prints TAP on stdout, diagnostics on stderr.
#
#   tests/interop/run.sh BUILD_DIR
#
# Everything it starts (the agent's process group) and creates (a temp dir
# holding the Go build cache, the socket and the log) is removed on exit,
# whatever the outcome.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
agent="$build/agentd/parent/kata-agent"

work=$(mktemp -d /tmp/kata-interop.XXXXXX)
agent_pid=
n=0
bad=0

stop_agent() {
  [ -n "$agent_pid" ] || return 0
  # The agent leads its own process group (setsid below): the executor and
  # the front-end go with it.
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
  agent_pid=
  rm -rf "$work"
}
trap cleanup EXIT
# kill -0 succeeds on a zombie: look at the state letter instead.
alive() { [ -e "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }
trap 'exit 130' INT TERM

tap() { # tap OK|FAIL description [diagnostic]
  n=$((n + 1))
  if [ "$1" = OK ]; then
    echo "ok $n - $2"
  else
    bad=$((bad + 1))
    echo "not ok $n - $2"
    [ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/# /'
  fi
}
finish() {
  echo "1..$n"
  [ "$bad" -eq 0 ]
  exit
}

# Offline GOPATH build: Debian installs the Go sources under /usr/share/gocode.
export GO111MODULE=off GOFLAGS= GOPATH=/usr/share/gocode
export GOCACHE="$work/gocache" HOME="$work"
if ! out=$(cd "$here" && go build -o "$work/interop-client" client.go 2>&1); then
  tap FAIL "build the Go ttrpc client" "$out"
  finish
fi
tap OK "build the Go ttrpc client"

if [ ! -x "$agent" ]; then
  tap FAIL "kata-agent is built" "missing $agent"
  finish
fi

sock="$work/agent.sock"
echo "agent.server_addr=unix://$sock agent.log=debug" >"$work/cmdline"
setsid "$agent" --cmdline "$work/cmdline" >"$work/agent.log" 2>&1 </dev/null &
agent_pid=$!
for _ in $(seq 1 100); do
  [ -S "$sock" ] && break
  alive "$agent_pid" || break
  sleep 0.1
done
if [ ! -S "$sock" ]; then
  tap FAIL "kata-agent listens on $sock" "$(tail -n 20 "$work/agent.log")"
  finish
fi
tap OK "kata-agent listens on the unix socket"

# The client prints TAP of its own; renumber it into this run's sequence.
timeout 60 "$work/interop-client" "$sock" >"$work/client.tap" 2>"$work/client.err"
rc=$?
while IFS= read -r line; do
  case "$line" in
    "ok "*) tap OK "${line#ok * - }" ;;
    "not ok "*) tap FAIL "${line#not ok * - }" ;;
    "#"*) echo "$line" ;;
  esac
done <"$work/client.tap"
if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$work/client.tap"; then
  tap FAIL "Go client exits cleanly" "exit $rc; $(tail -n 20 "$work/client.err")"
fi

stop_agent
leftover=
for p in /proc/[0-9]*; do
  # Fields after the parenthesised comm: state ppid pgrp ...
  pg=$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f3) || continue
  [ "$pg" = "$agent_pid" ] && leftover="$leftover ${p#/proc/}"
done
agent_pid=
if [ -z "$leftover" ]; then
  tap OK "no agent process left after stop"
else
  tap FAIL "no agent process left after stop" "still running:$leftover"
fi
if grep -q . "$work/agent.log" && [ "$bad" -ne 0 ]; then
  echo "# agent log tail:" && tail -n 20 "$work/agent.log" | sed 's/^/#   /'
fi
finish
