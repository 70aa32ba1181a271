#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Interoperability test: the reference Go ttRPC client (Debian's
# golang-github-containerd-ttrpc-dev, built offline) against the real agent
# on a unix socket. Prints TAP on stdout (tests/lib/tap.sh: the plan first),
# diagnostics on stderr.
#
#   tests/interop/run.sh BUILD_DIR
#
# Everything it starts (the agent's process group) and creates (a temp dir
# holding the Go build cache, the socket and the log) is removed on exit,
# whatever the outcome.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
# The Go client's own checks (client.go's plan), renumbered into this run's
# sequence, between 2 checks before and 2 after.
client_checks=8
plan $((2 + client_checks + 2))

build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd) || { fail_rest "no build dir ${1:-}"; exit 1; }
agent="$build/agentd/parent/kata-agent"

work=$(mktemp -d /tmp/kata-interop.XXXXXX)
agent_pid=

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
tap_cleanup=cleanup
# kill -0 succeeds on a zombie: look at the state letter instead.
alive() { [ -e "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }
trap 'exit 130' INT TERM

need_tool go setsid
[ -d /usr/share/gocode/src/github.com/containerd/ttrpc ] || {
  skip_env $((tap_plan - tap_n)) "not run" \
    "no containerd/ttrpc sources in /usr/share/gocode (golang-github-containerd-ttrpc-dev)"
  exit 0
}

# Offline GOPATH build: Debian installs the Go sources under /usr/share/gocode.
export GO111MODULE=off GOFLAGS= GOPATH=/usr/share/gocode
export GOCACHE="$work/gocache" HOME="$work"
if ! out=$(cd "$here" && go build -o "$work/interop-client" client.go 2>&1); then
  tap FAIL "build the Go ttrpc client" "$out"
  fail_rest "the Go client did not build"
  exit 1
fi
tap OK "build the Go ttrpc client"

if [ ! -x "$agent" ]; then
  fail_rest "kata-agent is not built ($agent)"
  exit 1
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
  tap FAIL "kata-agent listens on $sock" "$work/agent.log"
  fail_rest "the agent did not start"
  exit 1
fi
tap OK "kata-agent listens on the unix socket"

# The client prints TAP of its own (its plan first); renumber it into this
# run's sequence. A client that stops early leaves checks unreported: the
# plan of this script reports them not ok at the end.
timeout 60 "$work/interop-client" "$sock" >"$work/client.tap" 2>"$work/client.err"
rc=$?
seen=0
while IFS= read -r line; do
  case "$line" in
    "1.."*) [ "$line" = "1..$client_checks" ] ||
      say "the Go client plans ${line#1..} checks, this script $client_checks" ;;
    "ok "*) tap OK "${line#ok * - }"; seen=$((seen + 1)) ;;
    "not ok "*) tap FAIL "${line#not ok * - }"; seen=$((seen + 1)) ;;
    "#"*) echo "$line" ;;
  esac
  [ "$seen" -ge "$client_checks" ] && break
done <"$work/client.tap"
while [ "$seen" -lt "$client_checks" ]; do
  tap FAIL "Go client check $((seen + 1)) of $client_checks was not reported" \
    "exit $rc; $(tail -n 20 "$work/client.err")"
  seen=$((seen + 1))
done
check "the Go client exits 0 after $client_checks checks" "exit $rc; $(tail -n 20 "$work/client.err")" \
  eval '[ $rc -eq 0 ] && grep -qx "1..$client_checks" "$work/client.tap"'

stop_agent
leftover=
for p in /proc/[0-9]*; do
  # Fields after the parenthesised comm: state ppid pgrp ...
  pg=$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f3) || continue
  [ "$pg" = "$agent_pid" ] && leftover="$leftover ${p#/proc/}"
done
agent_pid=
check "no agent process left after stop" "still running:$leftover" want "$leftover" ""
if [ "$tap_bad" -ne 0 ]; then
  echo "# agent log tail:" && tail -n 20 "$work/agent.log" | sed 's/^/#   /'
fi
