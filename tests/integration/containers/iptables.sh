#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GetIPTables / SetIPTables through the real agent (front-end, executor, the
# confined tool; agentd/executor/handlers/iptables.c), each agent in a
# network namespace of its own so this host's rules are never touched.
# Requests are shaped as the Go runtime sends them (kata_agent.go
# getIPTables: GetIPTablesRequest{IsIpv6}; setIPTables:
# SetIPTablesRequest{IsIpv6, Data}, the file `kata-runtime iptables set`
# read). Prints TAP.
#
# The second agent sees the guest's tools as iptables-legacy (a bind mount
# in its private mount namespace) and a private xtables lock, which the
# test holds: the restore then waits on it (the nft tools take no lock),
# which is where its process is looked at and where it is made to hang.
#
#   iptables.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 15
rc=0
suite_requires
need_tool iptables-save iptables-restore ip6tables-save ip6tables-restore nsenter python3

pol="$(cd "$(dirname "$0")/../../policy/agent" && pwd)"
DATA_MAX=$(((4 << 20) - 4096)) # IPC_IPTABLES_DATA_MAX (common/ipc.h)

call() { # call NAME METHOD JSON|-: $work/NAME.{out,err}, $rc
  ctl call "AgentService/$2" "$3" >"$work/$1.out" 2>"$work/$1.err" 9>&-
  rc=$?
  return $rc
}
set_rules() { # set_rules NAME V6(true|false) FILE: SetIPTables of FILE's bytes
  { printf '{"isIpv6": %s, "data": "' "$2"; base64 -w0 "$3"; printf '"}'; } >"$work/$1.json"
  call "$1" SetIPTables - <"$work/$1.json"
}
get_rules() { # get_rules NAME V6: GetIPTables; the rules in $work/NAME.rules
  call "$1" GetIPTables "{\"isIpv6\": $2}"
  jq -r '.data // empty' "$work/$1.out" 2>/dev/null | base64 -d >"$work/$1.rules"
}
failed() { # failed NAME STATUS TEXT
  [ "$rc" -ne 0 ] && grep -q "$2" "$work/$1.err" && grep -qF -- "$3" "$work/$1.err"
}
diag() { { echo "exit status: $rc"; cat "$work/$1.out" "$work/$1.err" | head -c 2000; echo "-- agent log";
  grep -i iptables "$work/agent.log" | tail -n 5; } 2>/dev/null; }
in_ns() { nsenter -t "$agent_pid" -n "$@"; }

# The kernel must let the tools work in a fresh network namespace.
probe=$(unshare -n sh -c 'iptables-save && ip6tables-save &&
  printf "*filter\n-A INPUT -s 10.0.0.1/32 -j DROP\nCOMMIT\n" | iptables-restore' 2>&1)
if [ $? -ne 0 ]; then
  skip 15 "iptables" "kernel: iptables does not work in a new network namespace: $probe"
  exit 0
fi

t_plain() {
  agent_netns=1 agent_start plain || return
  local host_before
  host_before=$(iptables-save 2>/dev/null | grep -c 10.1.2.3)
  printf '*filter\n-A INPUT -s 10.1.2.3/32 -j DROP\n-A OUTPUT -d 10.1.2.4/32 -p tcp --dport 80 -j REJECT\nCOMMIT\n' \
    >"$work/v4.rules"
  set_rules set4 false "$work/v4.rules"
  check "SetIPTables (IPv4): applied in the agent's network namespace, not the host's" "$(diag set4)" eval \
    '[ $rc -eq 0 ] && in_ns iptables-save | grep -q "^-A INPUT -s 10.1.2.3/32 -j DROP" &&
     [ "$(iptables-save 2>/dev/null | grep -c 10.1.2.3)" = "$host_before" ]'
  get_rules get4 false
  check "GetIPTables (IPv4): the rule set applied comes back" "$(diag get4)" eval \
    '[ $rc -eq 0 ] && grep -q "^-A INPUT -s 10.1.2.3/32 -j DROP" "$work/get4.rules" &&
     grep -q "^-A OUTPUT -d 10.1.2.4/32 -p tcp -m tcp --dport 80 -j REJECT" "$work/get4.rules"'
  printf '*filter\n-A INPUT -s fd00::1/128 -j DROP\nCOMMIT\n' >"$work/v6.rules"
  set_rules set6 true "$work/v6.rules"
  local s6=$rc
  get_rules get6 true
  check "SetIPTables then GetIPTables (IPv6): the rule comes back, IPv4's untouched" "$(diag get6)" eval \
    '[ $s6 -eq 0 ] && [ $rc -eq 0 ] && grep -q "^-A INPUT -s fd00::1/128 -j DROP" "$work/get6.rules" &&
     in_ns iptables-save | grep -q 10.1.2.3'

  # A rule set the tool rejects: its message, and nothing of it applied.
  printf '*filter\n-A INPUT -s 10.9.9.9/32 -j DROP\n-A NOSUCHCHAIN -j DROP\nCOMMIT\n' >"$work/bad.rules"
  set_rules bad false "$work/bad.rules"
  check "SetIPTables of a rule set iptables-restore rejects: INTERNAL with its message, nothing applied" \
    "$(diag bad)" eval \
    'failed bad INTERNAL "iptables-restore failed" && grep -q "line" "$work/bad.err" &&
     ! in_ns iptables-save | grep -q 10.9.9.9 && in_ns iptables-save | grep -q 10.1.2.3'

  # Data of the maximum size: rules up to the bound, a comment to fill it.
  python3 - "$work/max.rules" "$DATA_MAX" <<'EOF'
import sys
path, size = sys.argv[1], int(sys.argv[2])
head, tail = "*filter\n", "COMMIT\n"
lines, used, i = [], len(head) + len(tail), 0
while True:
    l = "-A INPUT -s 10.%d.%d.%d/32 -j DROP\n" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
    if used + len(l) + 3 > size:
        break
    lines.append(l); used += len(l); i += 1
pad = "#" + "x" * (size - used - 2) + "\n"
open(path, "w").write(head + "".join(lines) + pad + tail)

EOF
  local n_rules
  n_rules=$(grep -c '^-A' "$work/max.rules")
  set_rules max false "$work/max.rules"
  check "SetIPTables with $DATA_MAX bytes of data (the bound): all $n_rules rules applied" "$(diag max)" eval \
    '[ $(stat -c %s "$work/max.rules") -eq $DATA_MAX ] && [ $rc -eq 0 ] &&
     [ "$(in_ns iptables-save | grep -c "^-A INPUT -s 10\.")" -eq "$n_rules" ]'
  get_rules get6b true
  local r6=$rc
  call getmax GetIPTables '{"isIpv6": false}'
  check "GetIPTables of more than an answer carries: RESOURCE_EXHAUSTED, not truncated; the agent serves on" \
    "$(diag getmax)" eval \
    'failed getmax RESOURCE_EXHAUSTED "larger than an answer carries" && [ $r6 -eq 0 ]'
  head -c $((DATA_MAX + 1)) /dev/zero | tr '\0' '#' >"$work/over.rules"
  set_rules over false "$work/over.rules"
  check "SetIPTables with one byte more: INVALID_ARGUMENT" "$(diag over)" \
    failed over INVALID_ARGUMENT "at most $DATA_MAX"

  # A policy: GetIPTables denied, SetIPTables for IPv4 only, judged on the
  # request's fields; a rule set too big to show a policy is refused.
  call pol SetPolicy "$(jq -Rs '{policy: .}' "$pol/iptables.rego")"
  local p=$rc
  get_rules pget false
  local g=$rc
  set_rules pset6 true "$work/v6.rules"
  local s6d=$rc
  set_rules pset4 false "$work/v4.rules"
  check "policy: GetIPTables and IPv6 SetIPTables denied, IPv4 SetIPTables allowed" \
    "$(diag pget; diag pset6; diag pset4)" eval \
    '[ $p -eq 0 ] && rc=$g failed pget PERMISSION_DENIED "GetIPTablesRequest is blocked by policy" &&
     rc=$s6d failed pset6 PERMISSION_DENIED "SetIPTablesRequest is blocked by policy" && [ $rc -eq 0 ]'
  head -c $((256 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$work/polbig.rules"
  set_rules polbig false "$work/polbig.rules"
  check "policy: SetIPTables with more data than a policy input holds: RESOURCE_EXHAUSTED" \
    "$(diag polbig)" failed polbig RESOURCE_EXHAUSTED "more bytes than a policy is shown"
  agent_stop
}

# The second agent: iptables-legacy and a private lock.
t_legacy() {
  local legacy nft_real
  legacy=$(command -v xtables-legacy-multi) nft_real=$(readlink -f "$(command -v iptables-restore)")
  if [ -z "$legacy" ] || ! unshare -n iptables-legacy-save >/dev/null 2>&1; then
    skip 6 "iptables-legacy: the tool waiting on the xtables lock" "kernel: no legacy iptables tables"
    return
  fi
  mkdir -p "$top/legacy"
  : >"$top/legacy/xtables.lock"
  [ -e /run/xtables.lock ] || : >/run/xtables.lock
  agent_netns=1 agent_prep="mount --bind $legacy $nft_real && mount --bind $top/legacy/xtables.lock /run/xtables.lock" \
    agent_start legacy || return
  # This shell holds the lock (fd 9; every ctl call closes it).
  exec 9>"$top/legacy/xtables.lock"
  flock -x 9
  local tpid= fds_before
  fds_before=$(ls /proc/"$executor_pid"/fd | wc -l)
  printf '*filter\n-A INPUT -s 10.1.2.3/32 -j DROP\nCOMMIT\n' >"$work/v4.rules"
  set_rules hang false "$work/v4.rules" &
  local set_pid=$!
  for _ in $(seq 1 400); do # up to 20 s: ends as soon as the tool runs
    tpid=$(child_named "$executor_pid" iptables-restor) && [ -n "$tpid" ] && break
    sleep 0.05
  done
  # Stopped, it hangs past its --wait: only the executor's deadline ends it.
  [ -n "$tpid" ] && kill -STOP "$tpid"
  local st fds=() f bad=
  st=$(cat "/proc/$tpid/status" 2>/dev/null)
  for f in /proc/"$tpid"/fd/*; do
    fds+=("${f##*/}=$(readlink "$f")")
    case ${f##*/} in
    0 | 1 | 2) [[ $(readlink "$f") == pipe:* ]] || bad+=" ${f##*/}" ;;
    *) [[ $(readlink "$f") == */xtables.lock ]] || bad+=" ${f##*/}" ;;
    esac
  done
  check "the tool: uid 0, CapEff/CapPrm/CapBnd exactly NET_ADMIN|NET_RAW, no ambient, no_new_privs, the executor's filter, only its stdio pipes (and its own lock file), the agent's network namespace" \
    "$(echo "$st" | grep -E 'Uid|Cap|NoNewPrivs|Seccomp:'; echo "fds: ${fds[*]}")" eval \
    '[ -n "$tpid" ] && echo "$st" | grep -q "^Uid:[[:space:]]*0[[:space:]]0[[:space:]]0[[:space:]]0" &&
     echo "$st" | grep -q "^CapEff:[[:space:]]*0000000000003000" &&
     echo "$st" | grep -q "^CapPrm:[[:space:]]*0000000000003000" &&
     echo "$st" | grep -q "^CapBnd:[[:space:]]*0000000000003000" &&
     echo "$st" | grep -q "^CapInh:[[:space:]]*0000000000000000" &&
     echo "$st" | grep -q "^CapAmb:[[:space:]]*0000000000000000" &&
     echo "$st" | grep -q "^NoNewPrivs:[[:space:]]*1" && echo "$st" | grep -q "^Seccomp:[[:space:]]*2" &&
     [ -z "$bad" ] && [ ${#fds[@]} -ge 3 ] &&
     [ "$(readlink /proc/$tpid/ns/net)" = "$(readlink /proc/$executor_pid/ns/net)" ]'
  get_rules during false
  local g=$rc
  call routes ListRoutes '{}'
  check "meanwhile the executor serves: GetIPTables and ListRoutes answered" "$(diag during; diag routes)" \
    eval '[ $g -eq 0 ] && [ $rc -eq 0 ]'
  wait "$set_pid"
  rc=$?
  check "the hung restore: DEADLINE_EXCEEDED, the tool killed" "$(diag hang)" eval \
    'failed hang DEADLINE_EXCEEDED "killed" && ! grep -q "^State:[[:space:]]*T" /proc/$tpid/status 2>/dev/null'
  # Four restores waiting on the lock: a fifth is refused; each of the
  # four gives up after its --wait.
  local i pids=() n=0 bad4=
  for i in 1 2 3 4; do
    set_rules "waits$i" false "$work/v4.rules" &
    pids+=($!)
  done
  for _ in $(seq 1 100); do
    n=0
    for c in $(descendants "$executor_pid"); do
      [ "$(ppid_of "$c")" = "$executor_pid" ] && [[ $(comm_of "$c") == iptables-restor* ]] && n=$((n + 1))
    done
    [ "$n" -ge 4 ] && break
    sleep 0.05
  done
  set_rules fifth false "$work/v4.rules"
  local r5=$rc
  for i in 1 2 3 4; do
    wait "${pids[$((i - 1))]}"
    rc=$?
    failed "waits$i" INTERNAL "xtables lock" || bad4+=" $i"
  done
  rc=$r5
  check "four restores waiting on the lock: a fifth RESOURCE_EXHAUSTED; each of the four INTERNAL with the tool's message after its --wait" \
    "$(diag fifth; [ -z "$bad4" ] || diag "waits${bad4# }")" eval \
    '[ "$n" -ge 4 ] && failed fifth RESOURCE_EXHAUSTED "iptables runs already going" && [ -z "$bad4" ]'
  local left=
  for c in $(descendants "$executor_pid"); do
    [[ $(comm_of "$c") == ip*tables* ]] && left+=" $c"
  done
  check "afterwards: no tool left, the executor holds as many fds as before" \
    "left:$left; fds: $fds_before -> $(ls /proc/"$executor_pid"/fd | wc -l)" eval \
    '[ -z "$left" ] && [ "$(ls /proc/"$executor_pid"/fd | wc -l)" -eq "$fds_before" ]'
  exec 9>&-
  # No tool in the guest: the multi-call binary hidden (ip6tables-save was
  # never looked for, so never kept).
  nsenter -t "$agent_pid" -m mount --bind /dev/null "$nft_real"
  call none GetIPTables '{"isIpv6": true}'
  check "no ip6tables-save in the guest: FAILED_PRECONDITION naming the paths looked at" "$(diag none)" \
    failed none FAILED_PRECONDITION "(looked at /usr/sbin/ip6tables-save, /sbin/ip6tables-save)"
  agent_stop
}

t_plain
t_legacy
