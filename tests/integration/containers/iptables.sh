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
# The lock is made 0600, as iptables makes it: the tool (uid 65533, group
# root) can take it only because the child made it group-readable.
#
# The third agent's tool is a stand-in shell script (bind-mounted over the
# guest's multi-call binary), the attack: what a hostile rule set that
# exploits iptables-restore could do as the tool (doc/security.md "The
# iptables tool").
#
#   iptables.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 21
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
  skip_rest "kernel: iptables does not work in a new network namespace: $probe"
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
    skip 7 "iptables-legacy: the tool waiting on the xtables lock" "kernel: no legacy iptables tables"
    return
  fi
  mkdir -p "$top/legacy"
  install -m 0600 /dev/null "$top/legacy/xtables.lock" # as iptables makes it
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
  check "the tool: uid 65533, gid 0, no groups, CapEff/CapPrm/CapInh/CapAmb/CapBnd exactly NET_ADMIN|NET_RAW, no_new_privs, the executor's filter, only its stdio pipes (and the lock file), the agent's network namespace, a mount namespace of its own" \
    "$(echo "$st" | grep -E 'Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp:'; echo "fds: ${fds[*]}")" eval \
    '[ -n "$tpid" ] && echo "$st" | grep -q "^Uid:[[:space:]]*65533[[:space:]]65533[[:space:]]65533[[:space:]]65533$" &&
     echo "$st" | grep -q "^Gid:[[:space:]]*0[[:space:]]0[[:space:]]0[[:space:]]0$" &&
     echo "$st" | grep -q "^Groups:[[:space:]]*$" && [ "$(echo "$st" | grep -c "^Cap...:[[:space:]]*0000000000003000$")" -eq 5 ] &&
     echo "$st" | grep -q "^NoNewPrivs:[[:space:]]*1" && echo "$st" | grep -q "^Seccomp:[[:space:]]*2" &&
     [ -z "$bad" ] && [ ${#fds[@]} -ge 3 ] &&
     [ "$(readlink /proc/$tpid/ns/net)" = "$(readlink /proc/$executor_pid/ns/net)" ] &&
     [ "$(readlink /proc/$tpid/ns/mnt)" != "$(readlink /proc/$executor_pid/ns/mnt)" ]'
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
  # The lock free: the legacy tools apply and read rules, the restore on
  # the guest's own lock (0600 as iptables makes it: the child made it
  # readable by group root, the tool's group).
  printf '*filter\n-A INPUT -s 10.7.7.7/32 -j DROP\nCOMMIT\n' >"$work/l4.rules"
  set_rules lset false "$work/l4.rules"
  local ls=$rc
  get_rules lget false
  check "iptables-legacy confined: SetIPTables applies on the guest's lock (0600, now 0640 root:root), GetIPTables reads it back" \
    "$(diag lset; diag lget; stat -c '%a %U:%G' "$top/legacy/xtables.lock")" eval \
    '[ $ls -eq 0 ] && [ $rc -eq 0 ] && grep -q "^-A INPUT -s 10.7.7.7/32 -j DROP" "$work/lget.rules" &&
     in_ns iptables-legacy-save | grep -q 10.7.7.7 &&
     [ "$(stat -c "%a %u:%g" "$top/legacy/xtables.lock")" = "640 0:0" ]'
  # No tool in the guest: the multi-call binary hidden (ip6tables-save was
  # never looked for, so never kept).
  nsenter -t "$agent_pid" -m mount --bind /dev/null "$nft_real"
  call none GetIPTables '{"isIpv6": true}'
  check "no ip6tables-save in the guest: FAILED_PRECONDITION naming the paths looked at" "$(diag none)" \
    failed none FAILED_PRECONDITION "(looked at /usr/sbin/ip6tables-save, /sbin/ip6tables-save)"
  agent_stop
}

# The third agent: a stand-in for the tool (bind-mounted over the guest's
# multi-call binary in the agent's mount namespace), run as the tool is, as
# a parser bug in iptables-restore exploited by a hostile rule set would
# run: it tries to write root's files, to create files under /run and
# /tmp, to reach the guest's root through /proc, and reports its own ids
# and capabilities on stdout, which comes back as the answer's data.
t_attack() {
  local nft_real a="$top/attack" name="kata-ipt-attack-$$" env_bin agent_bin
  nft_real=$(readlink -f "$(command -v iptables-restore)") env_bin=$(command -v env)
  agent_bin=$(readlink -f "$agent")
  mkdir -p "$a"
  printf 'root file\n' >"$a/root0644" && chmod 0644 "$a/root0644"
  printf 'world file\n' >"$a/world0666" && chmod 0666 "$a/world0666"
  cat >"$a/standin" <<EOF
#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
try() { # try WHAT PATH: open PATH to append (nothing is written)
  if err=\$( { : >>"\$2"; } 2>&1); then echo "\$1: opened"; else echo "\$1: \${err##*: }"; fi
}
look() { # look WHAT DIR: list DIR
  if err=\$(ls "\$2" 2>&1 >/dev/null); then echo "\$1: opened"; else echo "\$1: \${err##*: }"; fi
}
echo "run as: \$0 \$*"
try root0644 "$a/root0644"
try world0666 "$a/world0666"
try agent "$agent_bin"
try usrbin "$env_bin"
try run "/run/$name"
try tmp "/tmp/$name"
look proc1root /proc/1/root/
look executorroot "/proc/\$PPID/root/"
while read -r k v; do
  case \$k in Uid: | Gid: | Groups: | Cap* | NoNewPrivs: | Seccomp:) echo "\$k" \$v ;; esac
done </proc/self/status
echo "mntns: \$(readlink /proc/self/ns/mnt)"
echo "devls:" \$(ls -A /dev)
echo "runls:" \$(ls -A /run)
while read -r _ _ _ _ mp opts _; do [ "\$mp" = / ] && echo "rootmount: \$opts"; done </proc/self/mountinfo
exit 0
EOF
  chmod 0755 "$a/standin"
  agent_netns=1 agent_prep="mount --bind $a/standin $nft_real" agent_start attack || return
  local want="Uid: 65533 65533 65533 65533
Gid: 0 0 0 0
Groups:
CapInh: 0000000000003000
CapPrm: 0000000000003000
CapEff: 0000000000003000
CapBnd: 0000000000003000
CapAmb: 0000000000003000
NoNewPrivs: 1
Seccomp: 2"
  get_rules asave false
  local gs=$rc
  printf '*filter\nCOMMIT\n' >"$work/any.rules"
  set_rules arest false "$work/any.rules"
  local rs=$rc
  jq -r '.data // empty' "$work/arest.out" 2>/dev/null | base64 -d >"$work/arest.rules"
  local f ids=ok writes=ok procs=ok
  for f in asave arest; do
    [ "$(grep -E '^(Uid|Gid|Groups|Cap...|NoNewPrivs|Seccomp):' "$work/$f.rules")" = "$want" ] || ids=
    grep -qE '^root0644: (Permission denied|Read-only file system)$' "$work/$f.rules" &&
      grep -qE '^agent: (Permission denied|Read-only file system)$' "$work/$f.rules" &&
      grep -qE '^usrbin: (Permission denied|Read-only file system)$' "$work/$f.rules" &&
      grep -q '^world0666: Read-only file system$' "$work/$f.rules" &&
      grep -q '^run: Read-only file system$' "$work/$f.rules" &&
      grep -q '^tmp: Read-only file system$' "$work/$f.rules" || writes=
    grep -q '^proc1root: Permission denied$' "$work/$f.rules" &&
      grep -q '^executorroot: Permission denied$' "$work/$f.rules" &&
      grep -q '^rootmount: ro' "$work/$f.rules" && ! grep -q '^rootmount: rw' "$work/$f.rules" &&
      ! grep -qF "mntns: $(readlink /proc/"$executor_pid"/ns/mnt)" "$work/$f.rules" || procs=
  done
  check "stand-in tool (as iptables-save and iptables-restore): uid 65533, gid 0, no groups, CapInh/CapPrm/CapEff/CapBnd/CapAmb exactly NET_ADMIN|NET_RAW, no_new_privs, the executor's filter" \
    "$(diag asave; diag arest)" eval '[ $gs -eq 0 ] && [ $rs -eq 0 ] && [ -n "$ids" ]'
  local made=
  for f in "/run/$name" "/tmp/$name"; do
    [ -e "$f" ] && made+=" $f" && rm -f "$f"
  done
  check "its writes fail: root's 0644 file, the agent's binary and $env_bin (EACCES or EROFS), a world-writable file, new files under /run and /tmp (EROFS); nothing changed or made" \
    "$(cat "$work/asave.rules" "$work/arest.rules"; echo "made:$made")" eval \
    '[ -n "$writes" ] && [ -z "$made" ] && [ "$(cat "$a/root0644")" = "root file" ] &&
     [ "$(cat "$a/world0666")" = "world file" ]'
  check "it cannot reach the guest's root through /proc/1/root or the executor's; its mount namespace is its own, / read-only there and read-write still for the executor" \
    "$(cat "$work/asave.rules"; grep ' / / ' /proc/"$executor_pid"/mountinfo)" eval \
    '[ -n "$procs" ] && awk '"'"'$5 == "/" { o = $6 } END { exit o !~ /^rw/ }'"'"' /proc/"$executor_pid"/mountinfo'
  check "the guest's /dev and /run are hidden from it (device nodes, unix sockets): /dev holds null alone, /run nothing for a save and the xtables lock alone for a restore" \
    "$(grep -E '^(devls|runls):' "$work/asave.rules" "$work/arest.rules")" eval \
    '[ "$(grep -E "^(devls|runls):" "$work/asave.rules")" = "$(printf "devls: null\nrunls:")" ] &&
     [ "$(grep -E "^(devls|runls):" "$work/arest.rules")" = "$(printf "devls: null\nrunls: xtables.lock")" ]'
  # The stand-in gone: the real tool, from the same paths, still works.
  nsenter -t "$agent_pid" -m umount "$nft_real"
  printf '*filter\n-A INPUT -s 10.5.5.5/32 -j DROP\nCOMMIT\n' >"$work/r4.rules"
  set_rules rset false "$work/r4.rules"
  local s=$rc
  get_rules rget false
  check "afterwards the real tool applies and reads rules: SetIPTables, then GetIPTables has the rule" \
    "$(diag rset; diag rget)" eval \
    '[ $s -eq 0 ] && [ $rc -eq 0 ] && grep -q "^-A INPUT -s 10.5.5.5/32 -j DROP" "$work/rget.rules" &&
     in_ns iptables-save | grep -q 10.5.5.5'
  agent_stop
}

t_plain
t_legacy
t_attack
