#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The guest half of tests/vm/run, started in the background by /init just
# before /init exec's the agent (so this is a child of the agent, PID 1).
#
#   guest-tests MODE        MODE: v1 | v2 (expected cgroup layout), extras
#                           (debug console, proxies, trace), logport
#                           (agent.log_vport), peers (agent.vsock_peer_cids
#                           left at its default: a guest process is refused),
#                           coco (initdata and guest components: guest-coco.sh),
#                           passfd, passfd-direct (fd-passthrough stdio over
#                           vsock, each mode: guest-passfd.sh)
#   guest-tests --plan MODE how many checks MODE runs (tests/vm/run asks on
#                           the host, to declare its own plan before booting)
#
# Waits for the agent to have done its init duties and to serve, checks them,
# then asks PID 1 to stop with SIGTERM. Every result goes to the console as a
# line "VMTAP <TAP line>"; the host extracts and numbers them. The plan comes
# first ("VMTAP 1..N"); every branch reports a fixed number of results (a
# check that cannot run is a failure or a skip, never absent); at the end
# any planned check that did not report is "not ok", and "VMTAP-DONE" tells
# the host the list is complete.

# The number of checks per mode, by section (keep them with the code).
# tests/vm/guest-resources.sh: 25 for container r1, 13 after it.
resources_checks=38
# CopyFile into its subtree and refused outside it, GetGuestDetails' agent_details.
guest_ops_checks=3
# tests/vm/guest-setup-fds.sh (the setup-child fd grab during ExecProcess).
setup_fds_checks=5
# tests/vm/guest-coco.sh (initdata, the guest components' launch, the CDH,
# the initdata policy enforced).
coco_checks=16
# tests/vm/guest-passfd.sh (fd-passthrough stdio over vsock): the default
# mode, then agent.passfd_direct.
passfd_checks=8
passfd_direct_checks=8
plan_of() {
  # peers: the listener check and the refusals (ttRPC, passfd), nothing else
  [ "$1" = peers ] && { echo 3; return 0; }
  # health + version 2, PID 1 and mounts 9, lo + hostname 2, front-end 2
  n=15
  case $1 in
  v1) n=$((n + 11 + 2 + 11 + resources_checks + guest_ops_checks + setup_fds_checks)) ;; # cgroup mounts, devmode, containers
  v2) n=$((n + 3 + 10 + resources_checks + guest_ops_checks + setup_fds_checks + 1)) ;; # cgroup2, containers, DestroySandbox
  extras) n=$((n + 6)) ;;                          # debug console 4, proxies 2
  logport) n=$((n + 5)) ;;
  coco) n=$((n + coco_checks)) ;;
  passfd) n=$((n + passfd_checks)) ;;
  passfd-direct) n=$((n + passfd_direct_checks)) ;;
  *) return 1 ;;
  esac
  echo "$n"
}
if [ "${1:-}" = --plan ]; then
  plan_of "${2:-}" || { echo "usage: guest-tests --plan v1|v2|extras|logport|peers|coco|passfd|passfd-direct" >&2; exit 2; }
  exit 0
fi
mode=${1:?usage: guest-tests v1|v2|extras|logport|peers|coco|passfd|passfd-direct}
addr=vsock://1:1024 # CID 1 = this guest, through vsock_loopback
ctl=/usr/bin/kata-agent-ctl
export PATH=/usr/bin:/usr/sbin:/bin:/sbin

tap_plan=$(plan_of "$mode") || { echo "VMTAP not ok - guest-tests: unknown mode $mode"; exit 2; }
tap_n=0
say() { echo "VMTAP $*"; }
say "1..$tap_plan"
pass() {
  tap_n=$((tap_n + 1))
  say "ok - $mode: $1"
}
fail() {
  tap_n=$((tap_n + 1))
  say "not ok - $mode: $1"
  shift
  for l in "$@"; do
    printf '%s\n' "$l" | while IFS= read -r x; do say "#   $x"; done
  done
}
# fail_n N DESCRIPTION: N checks of a group that cannot run (what they need
# failed just before)
fail_n() {
  k=0
  while [ $k -lt "$1" ]; do
    fail "$2"
    k=$((k + 1))
  done
}
# skip DESCRIPTION REASON: the guest kernel lacks an optional feature
skip() {
  tap_n=$((tap_n + 1))
  say "ok - $mode: $1 # SKIP kernel: $2"
}
# skip_stub N DESCRIPTION: N checks that need the agent, under VM_AGENT=stub
skip_stub() {
  k=0
  while [ $k -lt "$1" ]; do
    tap_n=$((tap_n + 1))
    say "ok - $mode: $2 # SKIP stub PID 1 (VM_AGENT=stub)"
    k=$((k + 1))
  done
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds; its output otherwise
check() {
  d=$1
  shift
  if out=$("$@" 2>&1); then pass "$d"; else fail "$d" "$out"; fi
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# bench/vm-footprint (vmtest_footprint=1 on the kernel command line): every
# mapping of each agent process, summed by file, as "# footprint WHEN ..."
# lines (bench/smaps-by-file.awk); WHEN is idle or c1 (a container runs).
footprint() {
  [ "${vmtest_footprint:-}" = 1 ] || return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    who=
    case $(readlink "/proc/$p/exe" 2>/dev/null) in
    */kata-agent) who=parent ;;
    */kata-agent-frontend) who=front-end ;;
    */kata-agent-monitor) who=monitor ;;
    */kata-agent-launcher) who=launcher ;;
    */kata-agent-policy) who=policy ;;
    */kata-agent-executor)
      # the executor is PID 1's child, a launcher its monitor's (until it
      # becomes kata-agent-launcher, idle after its start); another fork of
      # the executor holds the sandbox's pid namespace
      pp=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status")
      case $pp:$(readlink "/proc/$pp/exe" 2>/dev/null) in
      1:*) who=executor ;;
      *:*/kata-agent-monitor) who=launcher ;;
      *) who=$(cat "/proc/$p/comm") ;;
      esac
      ;;
    esac
    [ -n "$who" ] || continue
    awk -v who="$who" -f /usr/libexec/vm-tests/smaps-by-file.awk "/proc/$p/smaps" 2>/dev/null |
      while IFS= read -r l; do say "# footprint $1 $l"; done
  done
}
# finish: every planned check that did not report is a failure
finish() {
  if [ "$tap_n" -gt "$tap_plan" ]; then
    say "# $tap_n checks reported, $tap_plan planned"
  fi
  while [ "$tap_n" -lt "$tap_plan" ]; do
    fail "not run (the guest runner reached its end after $tap_n of $tap_plan checks)"
  done
  echo "VMTAP-DONE"
}
stop_agent() {
  # v2 ends as the runtime ends a sandbox (kata_agent.go stopSandbox):
  # DestroySandbox, after which the agent stops and the guest powers off by
  # itself (tests/vm/run checks that); the other boots stop PID 1 with SIGTERM.
  if [ "$mode" = v2 ] && [ -z "$stub" ]; then
    say "# DestroySandbox at uptime $(uptime_s) s"
    if out=$(timeout 60 "$ctl" --addr "$addr" call AgentService/DestroySandbox '{}' 2>&1); then
      pass "DestroySandbox answers OK (the guest powers off next)"
    else
      fail "DestroySandbox answers OK (the guest powers off next)" "$out"
      finish
      kill -TERM 1
      exit 0
    fi
    finish
    exit 0
  fi
  say "# asking PID 1 to stop (SIGTERM) at uptime $(uptime_s) s"
  finish
  kill -TERM 1
  exit 0
}

# Last entry wins, as for the kernel: a later mount hides an earlier one.
mnt_field() { awk -v m="$1" -v f="$2" '$2 == m { v = $f } END { print v }' /proc/mounts; }
expect_mount() { # PATH TYPE [OPTION]
  t=$(mnt_field "$1" 3)
  o=$(mnt_field "$1" 4)
  if [ "$t" != "$2" ]; then
    fail "$1 is $2" "found type '${t:-nothing mounted}'"
  elif [ -n "${3:-}" ] && ! echo ",$o," | grep -q ",$3,"; then
    fail "$1 is $2 with $3" "options: $o"
  else
    pass "$1 is $2${3:+ with $3}"
  fi
}

# 1. The agent mounts /proc first; until then there is nothing to look at.
i=0
while [ ! -e /proc/self/stat ]; do
  i=$((i + 1))
  [ $i -gt 600 ] && { fail "agent mounted /proc within 60 s"; finish; exit 1; }
  sleep 0.1
done

# peers: the agent runs with the default agent.vsock_peer_cids (the host,
# CID 2, only). This runner is a guest process (CID 1, as a container
# reaching vsock would be): the agent must accept the connection at the
# socket level (it listens) and close it at once, unanswered.
if [ "$mode" = peers ]; then
  i=0
  # connect succeeds once the agent listens; the agent then closes it
  while ! vsock-cat -t 2 1 1024 </dev/null >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 900 ] && break
    sleep 0.1
  done
  check "the agent listens on vsock port 1024" test $i -le 900
  if out=$("$ctl" --addr "$addr" check 2>&1); then
    fail "a guest process (CID 1) gets no answer from the agent" "Health answered: $out"
  else
    pass "a guest process (CID 1) gets no answer from the agent"
    say "#   ctl: $(echo "$out" | head -n 1)"
  fi
  # agent.passfd_listener_port=1027 in this boot: the same filter applies
  # to the streams. A refused connection is closed at once (vsock-cat sees
  # the end: 0); an allowed one would wait, unread, for a request to name it
  # (vsock-cat times out: 3).
  vsock-cat -t 10 1 1027 </dev/null >/tmp/pf-peer.out 2>&1
  rc=$?
  check "a passfd stream from a guest process (CID 1) is closed at once (vsock-cat: $rc)" test "$rc" = 0
  stop_agent
fi

# 2. Health over vsock: also tells that every init duty before serving is done.
# With VM_AGENT=stub (vmtest_agent=stub) PID 1 serves nothing: wait for its
# last duty (the hostname) instead and skip what needs the agent proper.
stub=
if [ "${vmtest_agent:-}" = stub ]; then
  stub=1
  i=0
  while [ "$(hostname)" != "$(cat /etc/hostname)" ] && [ $i -lt 100 ]; do
    i=$((i + 1))
    sleep 0.1
  done
  say "# stub PID 1 done at uptime $(uptime_s) s"
fi
i=0
[ -n "$stub" ] && i=1000
while [ -z "$stub" ] && ! out=$("$ctl" --addr "$addr" check 2>&1); do
  i=$((i + 1))
  if [ $i -gt 1800 ]; then
    fail "agent serves grpc.Health/Check on $addr within 90 s" "$out"
    break
  fi
  sleep 0.05
done
if [ -n "$stub" ]; then
  skip_stub 1 "grpc.Health/Check over $addr answers SERVING"
elif [ $i -le 1800 ]; then
  if [ "$out" = SERVING ]; then
    pass "grpc.Health/Check over $addr answers SERVING"
  else
    fail "grpc.Health/Check over $addr answers SERVING" "$out"
  fi
  up=$(uptime_s)
  say "# agent serving at uptime $up s"
  # bench/vm-boot: kernel start to the first Health answer (the guest's own
  # clock), and the proportional memory of the agent's processes then.
  pss=0
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in
    */kata-agent | */kata-agent-*)
      k=$(awk '/^Pss:/ { print $2 }' "$p/smaps_rollup" 2>/dev/null)
      pss=$((pss + ${k:-0}))
      ;;
    esac
  done
  say "# bench: health_uptime_s=$up pss_kib=$pss"
  footprint idle
fi

if [ -n "$stub" ]; then
  skip_stub 1 "grpc.Health/Version answers an agent version"
elif out=$("$ctl" --addr "$addr" version 2>&1) && echo "$out" | grep -q '^agent_version: [0-9]'; then
  pass "grpc.Health/Version answers an agent version"
else
  fail "grpc.Health/Version answers an agent version" "$out"
fi

# 3. What PID 1 did before serving.
exe=$(readlink /proc/1/exe)
check "PID 1 is the agent ($exe)" test "$exe" = /usr/bin/kata-agent
expect_mount /proc proc nosuid
expect_mount /sys sysfs nosuid
expect_mount /dev devtmpfs
expect_mount /dev/shm tmpfs nodev
expect_mount /dev/pts devpts ptmxmode=666
expect_mount /run tmpfs nodev
check "/dev/ptmx links to /dev/pts/ptmx" test "$(readlink /dev/ptmx)" = /dev/pts/ptmx
check "PATH of PID 1 is set" grep -qz '^PATH=.*/usr/bin' /proc/1/environ

case $mode in
v1)
  expect_mount /sys/fs/cgroup tmpfs ro
  for c in cpu cpuacct cpuset memory devices freezer pids blkio; do
    expect_mount "/sys/fs/cgroup/$c" cgroup "$c"
  done
  check "memory.use_hierarchy is 1" \
    test "$(cat /sys/fs/cgroup/memory/memory.use_hierarchy 2>&1)" = 1
  check "new cpuset cgroups inherit cpus and mems (clone_children)" \
    test "$(cat /sys/fs/cgroup/cpuset/cgroup.clone_children 2>&1)" = 1
  ;;
v2)
  expect_mount /sys/fs/cgroup cgroup2 nsdelegate
  check "no v1 hierarchy is mounted" sh -c '! grep -q " cgroup " /proc/mounts'
  sc=$(cat /sys/fs/cgroup/cgroup.subtree_control 2>&1)
  check "root cgroup delegates memory and pids ($sc)" \
    sh -c "echo ' $sc ' | grep -q ' memory ' && echo ' $sc ' | grep -q ' pids '"
  ;;
esac

flags=$(cat /sys/class/net/lo/flags 2>/dev/null || echo 0)
check "lo is up (flags $flags)" test $((flags & 1)) = 1
check "hostname comes from /etc/hostname" test "$(hostname)" = "$(cat /etc/hostname)"

# 4. Privilege separation, as seen from outside the processes.
fe=
for p in /proc/[0-9]*; do
  case $(readlink "$p/exe" 2>/dev/null) in
  */kata-agent-frontend) fe=${p#/proc/} ;;
  esac
done
if [ -n "$stub" ]; then
  skip_stub 2 "a kata-agent-frontend process runs"
elif [ -z "$fe" ]; then
  fail "a kata-agent-frontend process runs"
  fail "the front-end runs with a non-zero effective uid (no front-end)"
else
  pass "a kata-agent-frontend process runs (pid $fe)"
  uid=$(awk '/^Uid:/ { print $3 }' "/proc/$fe/status")
  check "the front-end runs with a non-zero effective uid ($uid)" test "$uid" != 0
fi

# 5. Guest-mode options.
limit_core() { awk '/^Max core file size/ { print $5 " " $6 }' /proc/"$1"/limits; }
if [ "$mode" = v1 ]; then # booted with agent.devmode
  lc=$(limit_core 1)
  check "agent.devmode: PID 1 may dump core (RLIMIT_CORE: $lc)" test "$lc" = "unlimited unlimited"
  ex=
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in */kata-agent-executor) ex=${p#/proc/} ;; esac
  done
  lc=$(limit_core "${ex:-1}")
  check "agent.devmode: the executor inherits it (RLIMIT_CORE: $lc)" test -n "$ex" -a "$lc" = "unlimited unlimited"
fi

case $mode in
extras)
  # agent.debug_console_vport=1026: a root shell on a pty per connection
  printf 'echo $((6*7))\ntest -t 0 && echo on-a-tty\nid -u\nexit\n' |
    /usr/bin/vsock-cat -t 30 1 1026 >/tmp/dc.out 2>&1
  rc=$?
  dc=$(tr -d '\r' </tmp/dc.out) # not $out: check() sets that
  if echo "$dc" | grep -qx 42; then
    pass "debug console on vsock port 1026 runs echo \$((6*7)) -> 42"
  else
    fail "debug console on vsock port 1026 runs echo \$((6*7)) -> 42" "$dc"
  fi
  check "debug console: the shell has a terminal" sh -c 'echo "$1" | grep -qx on-a-tty || { echo "$1"; exit 1; }' _ "$dc"
  check "debug console: the shell is root" sh -c 'echo "$1" | grep -qx 0 || { echo "$1"; exit 1; }' _ "$dc"
  check "debug console: the session ends with the shell (exit)" test "$rc" = 0
  # agent.https_proxy / agent.no_proxy: set in PID 1's environment before
  # it starts anything (its own /proc/1/environ shows only what the kernel
  # gave it), so in the executor's and in every process started later
  ex=
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in */kata-agent-executor) ex=${p#/proc/} ;; esac
  done
  envx=$(tr '\0' '\n' </proc/"${ex:-none}"/environ 2>&1)
  check "HTTPS_PROXY in the executor's environment" sh -c 'echo "$1" | grep -q "^HTTPS_PROXY=http://proxy.example:3128" || { echo "$1"; exit 1; }' _ "$envx"
  check "NO_PROXY in the executor's environment" sh -c 'echo "$1" | grep -qx "NO_PROXY=localhost,127.0.0.1" || { echo "$1"; exit 1; }' _ "$envx"
  ;;
logport)
  # agent.log_vport=1025: connect late; the lines logged before must wait
  sleep 1
  /usr/bin/vsock-cat -t 4 1 1025 </dev/null >/tmp/agent.log 2>/tmp/vsock-cat.err
  rc=$?
  check "log stream on vsock port 1025 stays open (vsock-cat timed out: $rc)" test "$rc" = 3
  check "a late reader still gets the announce line" grep -q '"msg":"announce"' /tmp/agent.log
  check "the front-end's lines come through the parent" grep -q '"subsystem":"frontend"' /tmp/agent.log
  check "the executor's lines come through the parent" grep -q '"subsystem":"executor"' /tmp/agent.log
  check "agent.trace: a span line for grpc.Health/Check" \
    sh -c "grep '\"msg\":\"span\"' /tmp/agent.log | grep '\"method\":\"Check\"' | grep -q '\"status-code\":0'"
  # for the host's checks on the console (announce, no error)
  while IFS= read -r l; do echo "VMLOG $l"; done </tmp/agent.log
  ;;
coco)
  # initdata and the guest components (tests/vm/guest-coco.sh)
  . /usr/libexec/vm-tests/guest-coco.sh
  ;;
esac

# 6. CONTAINER CHECKS: busybox containers through kata-agent-ctl over vsock,
#    as a shim would drive them. The bundles come in the image under /opt
#    (/run is the agent's tmpfs) and must be in the shared dir to be used.
#    No cgroupsPath in the specs: the cgroup is the container id under the
#    hierarchy root. v1 runs them from the initramfs (AGENT_INIT=yes initrd:
#    / cannot be pivot_root'ed away), v2 with / on a tmpfs (vmtest_root, as
#    with a rootfs image).
shared=/run/kata-containers
cbundles=$shared/vm-bundles
# the host pid of a process named COMM (as in /proc/PID/stat) in a child pid
# namespace (a second NSpid entry): one awk for every /proc/PID/stat, since
# each fork costs under TCG
container_pid() {
  for p in $(awk -v c="($1)" '$2 == c { print $1 }' /proc/[0-9]*/stat 2>/dev/null); do
    [ "$(awk '/^NSpid:/ { print NF - 1 }' "/proc/$p/status" 2>/dev/null)" = 2 ] || continue
    echo "$p"
    return 0
  done
  return 1
}
no_c1_process() { ! test -e "/proc/$1" && ! container_pid sleep >/dev/null; }
case $mode in
v1 | v2)
  if [ -n "$stub" ]; then
    skip_stub $((tap_plan - tap_n)) "containers"
  elif ! { mkdir -p "$shared" && cp -a /opt/vm-bundles "$cbundles"; } >/tmp/cp.out 2>&1; then
    fail "the bundles are copied into $shared" "$(cat /tmp/cp.out)"
  else
    # run: output and exit status
    timeout 60 "$ctl" --addr "$addr" run "$cbundles/marker" </dev/null >/tmp/c-marker.out 2>&1
    rc=$?
    if [ $rc = 0 ] && grep -qx vm-container-marker /tmp/c-marker.out; then
      pass "container: run prints the marker and exits 0"
    else
      fail "container: run prints the marker and exits 0" "exit status $rc" "$(cat /tmp/c-marker.out)"
    fi
    timeout 60 "$ctl" --addr "$addr" run "$cbundles/exit3" </dev/null >/tmp/c-exit3.out 2>&1
    rc=$?
    # (3 is also ctl's own "agent not reachable": that comes with a message)
    if [ $rc = 3 ] && ! [ -s /tmp/c-exit3.out ]; then
      pass "container: sh -c 'exit 3' -> run exits 3"
    else
      fail "container: sh -c 'exit 3' -> run exits 3" "exit status $rc" "$(cat /tmp/c-exit3.out)"
    fi

    # the spec's cgroup mount: the container's own cgroup, not the guest's
    # tree (v1: binds per hierarchy; v2 without a cgroup namespace, as the
    # runtime sends it: a bind of its cgroup directory), read-only
    timeout 60 "$ctl" --addr "$addr" run "$cbundles/cgmount" </dev/null >/tmp/c-cgm.out 2>&1
    rc=$?
    procs=$(sed -n 's/^procs=//p' /tmp/c-cgm.out)
    if [ $rc = 0 ] && [ -n "$procs" ] && [ "$procs" -ge 1 ] && [ "$procs" -le 4 ] && grep -qx ro /tmp/c-cgm.out; then
      pass "container: the cgroup mount shows its own cgroup ($procs processes), read-only"
    else
      fail "container: the cgroup mount shows its own cgroup, read-only" "exit status $rc" "$(cat /tmp/c-cgm.out)"
    fi
    # a long-running container, attached to in the background
    timeout 120 "$ctl" --addr "$addr" run "$cbundles/sleeper" --id c1 </dev/null >/tmp/c-c1.out 2>&1 &
    runpid=$!
    i=0
    cpid=
    while [ $i -lt 100 ] && kill -0 "$runpid" 2>/dev/null && ! cpid=$(container_pid sleep); do
      i=$((i + 1))
      sleep 0.1
    done
    if [ -z "$cpid" ]; then
      fail "container: sleep 1000 runs as c1 (in its own pid namespace)" "$(cat /tmp/c-c1.out)"
      # exec, cgroup.procs, (v1: every hierarchy), remove, run returns,
      # no process, no cgroup
      fail_n $([ "$mode" = v1 ] && echo 7 || echo 6) "container: not run: c1 did not start"
      kill "$runpid" 2>/dev/null
    else
      pass "container: sleep 1000 runs as c1 (pid $cpid, in its own pid namespace)"
      footprint c1
      out=$(timeout 60 "$ctl" --addr "$addr" exec c1 -- echo hi </dev/null 2>&1)
      rc=$?
      check "container: exec c1 -- echo hi -> hi, status 0" test "$rc:$out" = "0:hi"
      if [ "$mode" = v1 ]; then
        cg=/sys/fs/cgroup/memory/c1
      else
        cg=/sys/fs/cgroup/c1
      fi
      check "container: pid $cpid is in $cg/cgroup.procs" grep -qx "$cpid" "$cg/cgroup.procs"
      if [ "$mode" = v1 ]; then
        # every hierarchy, not only memory
        miss=
        for h in /sys/fs/cgroup/*/; do
          grep -qx "$cpid" "${h}c1/cgroup.procs" 2>/dev/null || miss="$miss $h"
        done
        check "container: pid $cpid is in c1 of every v1 hierarchy${miss:+ (not in$miss)}" test -z "$miss"
      fi
      if out=$(timeout 60 "$ctl" --addr "$addr" call AgentService/RemoveContainer '{"containerId": "c1"}' 2>&1); then
        pass "container: RemoveContainer c1 answers"
      else
        fail "container: RemoveContainer c1 answers" "$out"
      fi
      # the attached run sees the end of its process
      i=0
      while [ $i -lt 100 ] && kill -0 "$runpid" 2>/dev/null; do
        i=$((i + 1))
        sleep 0.1
      done
      if kill -0 "$runpid" 2>/dev/null; then
        fail "container: the attached run returns after RemoveContainer" "$(cat /tmp/c-c1.out)"
        kill "$runpid"
      else
        # RemoveContainer SIGKILLs the init: WaitProcess answers 137
        wait "$runpid"
        rc=$?
        check "container: the attached run returns 137 after RemoveContainer (status $rc)" test "$rc" = 137
      fi
      check "container: no process of c1 is left" no_c1_process "$cpid"
      left=$(ls -d /sys/fs/cgroup/c1 /sys/fs/cgroup/*/c1 2>/dev/null)
      check "container: no c1 cgroup is left${left:+ ($left)}" test -z "$left"
    fi
    out=$(timeout 30 "$ctl" --addr "$addr" call AgentService/SignalProcess '{"containerId": "c1", "signal": 15}' 2>&1)
    # An unknown container is INVALID_ARGUMENT, as upstream's sandbox_err_to_ttrpc.
    check "container: c1 is unknown after removal (SignalProcess: ${out%%
*})" sh -c 'echo "$1" | grep -q INVALID_ARGUMENT' _ "$out"

    # 7. RESOURCE CHECKS: limits, update, pause/resume in this layout.
    . /usr/libexec/vm-tests/guest-resources.sh
    # 8. The setup processes under attack from a container (setup_fds).
    . /usr/libexec/vm-tests/guest-setup-fds.sh
  fi
  ;;
passfd | passfd-direct)
  # fd-passthrough stdio over vsock (tests/vm/guest-passfd.sh)
  if [ -n "$stub" ]; then
    skip_stub $((tap_plan - tap_n)) "passfd"
  else
    . /usr/libexec/vm-tests/guest-passfd.sh
  fi
  ;;
esac

stop_agent
