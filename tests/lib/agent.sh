# SPDX-License-Identifier: Apache-2.0
# The harness of the container suites (tests/integration/containers/*.sh),
# sourced by each:  . "$(dirname "$0")/../../lib/agent.sh" "$@"
#
#   arguments: KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# Every suite starts its own agent (agent_start NAME) in a private mount
# namespace (unshare -m --propagation private: container mounts never reach
# the host's table), with a temp shared dir holding the bundles and a
# private cgroup parent, and tears it down on every path (the EXIT trap of
# tests/lib/tap.sh runs agent_cleanup). Needs root.
#
# KATA_TEST_LOG=debug raises the agents' log level (default info).
# The suite calls `plan N` right after sourcing this file.
set -uo pipefail

agent=${1:?usage: $0 KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE}
ctl_bin=${2:?}
mkbundle=${3:?}

. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

top=$(mktemp -d /tmp/kata-containers-test.XXXXXX)
chmod 755 "$top"
agent_pid=
agent_prep=
cg_name=
declare -a tree=()
# ---- process tree of the agent ----

# stat_ppid PID: sets ppid from /proc/PID/stat, in this shell (no fork:
# descendants reads every process's, and the suites call it in loops);
# false if the process is gone. The comm may hold ") ": cut at the last.
stat_ppid() {
  local st
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  st=${st#* }
  ppid=${st%% *}
}
ppid_of() { local ppid; stat_ppid "$1" && echo "$ppid"; }
comm_of() { cat "/proc/$1/comm" 2>/dev/null; }
descendants() { # every live descendant of $1
  local -A kids=()
  local p ppid
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    stat_ppid "$p" || continue
    [ -n "$ppid" ] && kids[$ppid]="${kids[$ppid]:-} $p"
  done
  local queue=("$1") out=()
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for c in ${kids[$p]:-}; do
      out+=("$c")
      queue+=("$c")
    done
  done
  echo "${out[@]:-}"
}
child_named() { # child_named PARENT COMM-PREFIX
  local p
  for p in $(descendants "$1"); do
    [ "$(ppid_of "$p")" = "$1" ] && [[ "$(comm_of "$p")" == "$2"* ]] && { echo "$p"; return 0; }
  done
  return 1
}
in_child_pidns() { # a container process: its NSpid has more than one entry
  local k v
  while read -r k v; do
    [ "$k" = NSpid: ] || continue
    [[ $v == *[[:space:]]* ]]
    return
  done 2>/dev/null <"/proc/$1/status"
  return 1
}
agent_procs() { # the agent's own processes (not container processes)
  local p
  echo "$agent_pid"
  for p in $(descendants "$agent_pid"); do
    in_child_pidns "$p" || echo "$p"
  done
}
rss_anon_kib() { # total RssAnon of the agent's own processes
  local sum=0 p v
  for p in $(agent_procs); do
    v=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# ---- one agent ----

agent_stop() {
  if [ -n "$agent_pid" ]; then
    tree=($(descendants "$agent_pid"))
    kill -TERM "$agent_pid" 2>/dev/null
    for _ in $(seq 1 50); do
      [ -e "/proc/$agent_pid" ] || break
      [ "$(sed 's/.*) //' "/proc/$agent_pid/stat" 2>/dev/null | cut -c1)" = Z ] && break
      sleep 0.1
    done
    kill -KILL "$agent_pid" "${tree[@]}" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
    agent_pid=
  fi
  # Also after an agent that already exited (DestroySandbox in
  # sandbox.sh): its --cgroup-parent stays behind otherwise, one per run.
  local d
  [ -n "${cg_name:-}" ] || return 0
  for d in /sys/fs/cgroup/*/"$cg_name" /sys/fs/cgroup/"$cg_name"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}
agent_cleanup() {
  agent_stop
  rm -rf "$top"
}
tap_cleanup=agent_cleanup
trap 'exit 130' INT TERM

# No `producer | grep -q` under pipefail: grep -q leaves at the first match
# and a producer that writes again dies of SIGPIPE, which fails the pipeline
# (ldd writes line by line: agent_sanitized said no on a loaded machine).
has_option() { [[ $("$agent" --help 2>&1) == *"$1"* ]]; }
# a sanitizer build (build-asan): its shadow memory and quarantine make
# absolute memory bounds meaningless, only growth can be bounded
agent_sanitized() { [[ $(ldd "$agent" 2>/dev/null) == *libasan* ]]; }

# agent_start NAME: a fresh agent; sets work, shared, addr, agent_pid, cg_name,
# executor_pid, frontend_pid, spawner_pid (the executor's unfiltered fork,
# its child for as long as it runs), policy_pid (kata-agent-policy: empty
# unless a policy is in force at start, issue 14).
agent_start() {
  work="$top/$1"
  shared="$work/shared"
  mkdir -p "$shared"
  local sock="$work/agent.sock"
  addr="unix://$sock"
  cg_name="kata-test-$$-$1"
  # debug logs two lines per ReadStdout: gigabytes for the big streams.
  echo "agent.server_addr=$addr agent.log=${KATA_TEST_LOG:-info}${agent_cmdline:+ $agent_cmdline}" >"$work/cmdline"
  local extra=(--shared-dir "$shared" --cgroup-parent "/$cg_name")
  # agent_passfd: the fd-passthrough listener's address (--passfd-addr)
  [ -n "${agent_passfd:-}" ] && extra+=(--passfd-addr "$agent_passfd")
  # agent_toml: lines for a config file (which replaces the command line:
  # the address and log level are written into it too).
  if [ -n "${agent_toml:-}" ]; then
    printf 'server_addr = "%s"\nlog_level = "%s"\n%s\n' "$addr" "${KATA_TEST_LOG:-info}" \
      "$agent_toml" >"$work/agent.toml"
    extra+=(--config "$work/agent.toml")
  fi
  # agent_args: more options for the parent, after ours (the last of a
  # repeated option wins: --shared-dir /run/kata-containers with an
  # agent_prep that mounts the shared dir there).
  extra+=(${agent_args:-})
  # agent_prep: shell commands run inside the new mount namespace before the
  # agent (which then takes the shell's pid), e.g. extra cgroup mounts;
  # agent_netns=1: the agent gets a network namespace of its own too.
  setsid unshare -m ${agent_netns:+-n} --propagation private -- sh -c "${agent_prep:-true}"' && exec "$@"' sh \
    "$agent" --cmdline "$work/cmdline" "${extra[@]}" >"$work/agent.log" 2>&1 </dev/null &
  agent_pid=$!
  for _ in $(seq 1 150); do
    if [ -S "$sock" ] && timeout 5 "$ctl_bin" --addr "$addr" check >/dev/null 2>&1; then
      executor_pid=$(child_named "$agent_pid" kata-agent-exec)
      frontend_pid=$(child_named "$agent_pid" kata-agent-fron)
      spawner_pid=$(child_named "$executor_pid" kata-agent-exec)
      policy_pid=$(child_named "$agent_pid" kata-agent-pol)
      # one /proc scan can miss a process (seen once under heavy load):
      # look again rather than go on without the executor's pid
      [ -n "$executor_pid" ] && [ -n "$frontend_pid" ] && return 0
    fi
    [ -e "/proc/$agent_pid" ] || break
    sleep 0.1
  done
  tap FAIL "$1: the agent starts" "$work/agent.log"
  return 1
}

# -k: run/exec forward SIGTERM to the container instead of dying.
ctl() { timeout -k 10 "${CTL_TIMEOUT:-120}" "$ctl_bin" --addr "$addr" "$@"; }

# bundle NAME [CMD...]: a busybox bundle in the shared dir; prints its path.
bundle() {
  local name=$1
  shift
  "$mkbundle" "$shared/$name" "$@" >/dev/null || return 1
  echo "$shared/$name"
}
# jqset BUNDLE FILTER [jq args]: edit BUNDLE/config.json in place.
jqset() {
  local b=$1 f=$2
  shift 2
  jq "$@" "$f" "$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
}
# runc_ NAME BUNDLE [ctl run options]: run it; output in $work/NAME.{out,err}, status in $rc.
run_() {
  local name=$1 b=$2
  shift 2
  ctl run "$b" "$@" </dev/null >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
}
# create_request ID BUNDLE STORAGES MOUNTS: $work/ID.json, a CreateContainerRequest
# as kata_agent.go createContainer builds it (exec_id = the container id, the
# request's own storages, extra spec mounts appended); ctl's output in $work/ID.err.
create_request() {
  ctl run "$2" --dry-run >"$work/$1.dry" 2>"$work/$1.err" || return 1
  jq --arg id "$1" --argjson st "$3" --argjson m "$4" \
    '.containerId = $id | .execId = $id | .storages = $st | .OCI.Mounts += $m' \
    "$work/$1.dry" >"$work/$1.json"
}
diag() { # diag NAME: what a failed check shows
  { echo "exit status: $rc"; echo "-- stdout"; head -c 2000 "$work/$1.out" | cat -v; echo "-- stderr";
    tail -n 10 "$work/$1.err"; echo "-- agent log"; tail -n 15 "$work/agent.log"; } 2>/dev/null
}
# run_sleeper ID: `ctl run` of a busybox container that prints "ready" and
# sleeps, in the background (its pid in run_pid, its output in
# $work/ID.out and .err); fails when it is not ready within 20 s.
run_sleeper() {
  local b
  b=$(bundle "$1" sh -c 'echo ready; exec sleep 1000') || return 1
  ctl run "$b" --id "$1" </dev/null >"$work/$1.out" 2>"$work/$1.err" &
  run_pid=$!
  wait_for_file_text "$work/$1.out" ready 200 && return 0
  kill "$run_pid" 2>/dev/null
  return 1
}
# settle WANT CMD...: CMD's output (a count a test compares with its
# baseline) once it is WANT, or its last output after 20 s. What the agent
# lets go after answering (an exiting process, an fd closed on the next
# event) goes a moment later, longer on a loaded machine: a fixed sleep
# before the count raced it.
settle() {
  local want=$1 got i
  shift
  for ((i = 0; i < 200; i++)); do
    got=$("$@")
    [ "$got" = "$want" ] && break
    sleep 0.1
  done
  printf '%s\n' "$got"
}
# sock_queued PID [FD]: bytes sent to PID's sockets (FD's alone if given)
# and not read yet (ss -x Recv-Q): a request has reached a stopped process.
sock_queued() {
  ss -xpH 2>/dev/null | awk -v k="pid=$1,fd=${2:-}" 'index($0, k) {n += $3} END {print n + 0}'
}
# wait_queued PID [FD]: until sock_queued is not 0, 30 s at most
wait_queued() {
  local i
  for ((i = 0; i < 300; i++)); do
    [ "$(sock_queued "$@")" -gt 0 ] && return 0
    sleep 0.1
  done
  return 1
}
# wait_read_by_frontend TEXT: until the running `kata-agent-ctl ... TEXT`
# has sent its request and the front-end has read it (ss -x: the ctl's
# socket's peer is the front-end's, with nothing unread; the ctl sleeps in
# a syscall, waiting for the answer), 30 s at most.
wait_read_by_frontend() {
  local i c peer
  for ((i = 0; i < 300; i++)); do
    c=$(pgrep -f "^$ctl_bin .*$1" | head -n 1)
    if [ -n "$c" ] && [ "$(cut -d' ' -f1 "/proc/$c/syscall" 2>/dev/null)" != running ]; then
      peer=$(ss -xpH 2>/dev/null | grep -F "pid=$c," | awk '{print $8}')
      [ -n "$peer" ] && ss -xpH 2>/dev/null |
        awk -v p="$peer" -v fe="pid=$frontend_pid," '$6 == p && $3 == 0 && index($0, fe) {f = 1} END {exit !f}' &&
        return 0
    fi
    sleep 0.1
  done
  return 1
}
wait_for_file_text() { # wait_for_file_text FILE TEXT [tenths]
  for _ in $(seq 1 "${3:-100}"); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# suite_requires: what every container suite needs; call right after `plan`.
suite_requires() {
  if [ "$(id -u)" != 0 ]; then
    skip_env $((tap_plan - tap_n)) "not run" "needs root (namespaces, mounts, cgroups)"
    exit 0
  fi
  local b
  for b in "$agent" "$ctl_bin" "$mkbundle"; do
    [ -x "$b" ] || { fail_rest "missing $b (not built?)"; exit 1; }
  done
  need_tool jq unshare script
}
