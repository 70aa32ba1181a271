# SPDX-License-Identifier: Apache-2.0
#
# Resource checks inside the guest, sourced by guest-tests.sh in the v1 and
# v2 boots (the host runs cgroup v1 only: this is where the v2 writers are
# exercised). Uses guest-tests.sh's pass/fail/fail_n/skip/check, $ctl, $addr,
# $mode, $cbundles and container_pid. Reports exactly 38 results (25 for
# container r1, 13 after it): guest-tests.sh's resources_checks.
#
# The busy bundle (tests/vm/run) spins in sh with memory 64 MiB, pids 64,
# cpu shares 512, quota 50000 per 100000 us, set at create.

# cgfile CONTROLLER FILE: the path of FILE of container r1 in this layout
cgfile() {
  if [ "$mode" = v2 ]; then
    echo "/sys/fs/cgroup/r1/$2"
  else
    echo "/sys/fs/cgroup/$1/r1/$2"
  fi
}
cgread() { cat "$(cgfile "$1" "$2")" 2>&1; }
# cpu time of r1 in microseconds
cpu_us() {
  if [ "$mode" = v2 ]; then
    awk '$1 == "usage_usec" { print $2 }' "$(cgfile cpu cpu.stat)"
  else
    echo $(($(cat "$(cgfile cpuacct cpuacct.usage)") / 1000))
  fi
}
# expect FILE-CONTROLLER FILE WANT DESCRIPTION
expect_cg() {
  got=$(cgread "$1" "$2")
  if [ "$got" = "$3" ]; then
    pass "$4: $2 = $3"
  else
    fail "$4: $2 = $3" "found: $got"
  fi
}
# jnum KEY JSON: the first number (plain or quoted) of "KEY" in compact JSON
jnum() { echo "$2" | grep -o "\"$1\":\"*[0-9]*" | head -n 1 | grep -o '[0-9]*$'; }
call() { timeout 60 "$ctl" --addr "$addr" call "$@" 2>&1; }
thawed() { ! frozen; }
frozen() {
  if [ "$mode" = v2 ]; then
    grep -qx 'frozen 1' "$(cgfile x cgroup.events)"
  else
    [ "$(cgread freezer freezer.state)" = FROZEN ]
  fi
}

timeout 180 "$ctl" --addr "$addr" run "$cbundles/busy" --id r1 </dev/null >/tmp/c-r1.out 2>&1 &
rpid=$!
i=0
bpid=
while [ $i -lt 100 ] && kill -0 "$rpid" 2>/dev/null && ! bpid=$(container_pid sh); do
  i=$((i + 1))
  sleep 0.1
done
if [ -z "$bpid" ]; then
  fail "resources: the busy container r1 runs" "$(cat /tmp/c-r1.out)"
  fail_n 24 "resources: not run: r1 did not start"
  kill "$rpid" 2>/dev/null
else
  pass "resources: the busy container r1 runs (pid $bpid)"
  if [ "$mode" = v2 ]; then
    expect_cg memory memory.max 67108864 "create"
    expect_cg pids pids.max 64 "create"
    expect_cg cpu cpu.max "50000 100000" "create"
    # runc's shares -> weight: 1 + (512 - 2) * 9999 / 262142
    expect_cg cpu cpu.weight 20 "create (cpu shares 512)"
  else
    expect_cg memory memory.limit_in_bytes 67108864 "create"
    expect_cg pids pids.max 64 "create"
    expect_cg cpu cpu.cfs_quota_us 50000 "create"
    expect_cg cpu cpu.shares 512 "create"
  fi

  out=$(call AgentService/UpdateContainer \
    '{"containerId": "r1", "resources": {"Memory": {"Limit": 134217728}, "Pids": {"Limit": 100}, "CPU": {"Quota": 20000}}}')
  rc=$?
  check "UpdateContainer memory 128 MiB, pids 100, quota 20000 answers OK (${out%%
*})" test "$rc" = 0
  if [ "$mode" = v2 ]; then
    expect_cg memory memory.max 134217728 "update"
    expect_cg cpu cpu.max "20000 100000" "update (period kept)"
  else
    expect_cg memory memory.limit_in_bytes 134217728 "update"
    expect_cg cpu cpu.cfs_quota_us 20000 "update"
  fi
  expect_cg pids pids.max 100 "update"

  out=$(call AgentService/UpdateContainer \
    '{"containerId": "r1", "resources": {"Memory": {"Limit": 33554432}, "CPU": {"Cpus": "4095"}}}')
  check "UpdateContainer with cpus 4095: INVALID_ARGUMENT naming cpuset.cpus" \
    sh -c 'echo "$1" | grep -q INVALID_ARGUMENT && echo "$1" | grep -q cpuset.cpus || { echo "$1"; exit 1; }' _ "$out"
  if [ "$mode" = v2 ]; then
    expect_cg memory memory.max 134217728 "refused update rolled back"
  else
    expect_cg memory memory.limit_in_bytes 134217728 "refused update rolled back"
  fi

  # pause stops the busy loop: its cpu time stays still; resume restarts it
  out=$(call AgentService/PauseContainer '{"containerId": "r1"}')
  check "PauseContainer r1 answers (${out%%
*}) and the cgroup is frozen" frozen
  a=$(cpu_us)
  sleep 1
  b=$(cpu_us)
  check "paused: r1's cpu time does not grow ($a -> $b us)" test "$((b - a))" -lt 20000
  out=$(call AgentService/ResumeContainer '{"containerId": "r1"}')
  check "ResumeContainer r1 answers (${out%%
*}) and the cgroup is thawed" thawed
  a=$(cpu_us)
  sleep 1
  b=$(cpu_us)
  check "resumed: r1's cpu time grows again ($a -> $b us)" test "$((b - a))" -gt 50000

  # StatsContainer: the numbers come from this layout's files and move
  s1=$(call AgentService/StatsContainer '{"containerId": "r1"}' | tr -d ' \n')
  sleep 1
  s2=$(call AgentService/StatsContainer '{"containerId": "r1"}' | tr -d ' \n')
  u1=$(jnum totalUsage "$s1")
  u2=$(jnum totalUsage "$s2")
  check "StatsContainer: cpu totalUsage grows while r1 spins ($u1 -> $u2 ns)" test "${u2:-0}" -gt "${u1:-0}"
  # the memory limit is the second "limit" (usage, swapUsage, ... each have one)
  check "StatsContainer: memory usage > 0 and limit 128 MiB (after the update)" \
    sh -c 'echo "$1" | grep -q "\"usage\":{\"usage\":\"[1-9][0-9]*\"" &&
      echo "$1" | grep -q "\"limit\":\"134217728\"" || { echo "$1"; exit 1; }' _ "$s2"
  check "StatsContainer: pids current >= 1, limit 100" \
    sh -c 'echo "$1" | grep -q "\"pidsStats\":{\"current\":\"[1-9][0-9]*\",\"limit\":\"100\"" ||
      { echo "$1"; exit 1; }' _ "$s2"
  check "StatsContainer: the network statistics list lo" \
    sh -c 'echo "$1" | grep -q "\"name\":\"lo\"" || { echo "$1"; exit 1; }' _ "$s2"

  # block IO weight and a hugepage limit: read back where this guest has the
  # file, FAILED_PRECONDITION naming it where the controller is missing
  if [ "$mode" = v2 ]; then
    wf=io.weight want="default 200"
    [ -f "$(cgfile x io.bfq.weight)" ] && wf=io.bfq.weight want="default 200"
    [ "$wf" = io.weight ] && want="default $((1 + (200 - 10) * 9999 / 990))"
    hf=hugetlb.2MB.max hc=hugetlb
  else
    wf=blkio.weight want=200
    [ -f "$(cgfile blkio blkio.weight)" ] || wf=blkio.bfq.weight
    hf=hugetlb.2MB.limit_in_bytes hc=hugetlb
  fi
  out=$(call AgentService/UpdateContainer '{"containerId": "r1", "resources": {"BlockIO": {"Weight": 200}}}')
  rc=$?
  if [ -f "$(cgfile blkio "$wf")" ]; then
    check "UpdateContainer blockIO weight 200 answers OK (${out%%
*})" test "$rc" = 0
    got=$(cgread blkio "$wf" | head -n 1)
    check "update: $wf = $want ($got)" test "$got" = "$want"
  else
    check "UpdateContainer blockIO weight without $wf: FAILED_PRECONDITION, no weight support (${out%%
*})" sh -c 'echo "$1" | grep -q FAILED_PRECONDITION && echo "$1" | grep -q "no block IO weight support"' _ "$out"
    skip "update: the weight read back" "no block IO weight file ($wf) in this guest kernel"
  fi
  if [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ]; then
    out=$(call AgentService/UpdateContainer \
      '{"containerId": "r1", "resources": {"HugepageLimits": [{"Pagesize": "2MB", "Limit": 4194304}]}}')
    rc=$?
    if [ -f "$(cgfile "$hc" "$hf")" ]; then
      check "UpdateContainer hugepage 2MB limit 4 MiB answers OK (${out%%
*})" test "$rc" = 0
      expect_cg "$hc" "$hf" 4194304 "update"
    else
      check "UpdateContainer hugepage 2MB without $hf: FAILED_PRECONDITION naming hugetlb (${out%%
*})" sh -c 'echo "$1" | grep -q FAILED_PRECONDITION && echo "$1" | grep -q hugetlb' _ "$out"
      skip "update: the hugepage limit read back" "no $hf in this guest"
    fi
  else
    skip "UpdateContainer hugepage 2MB" "no 2 MiB huge pages in this guest kernel"
    skip "update: the hugepage limit read back" "no 2 MiB huge pages in this guest kernel"
  fi

  out=$(call AgentService/RemoveContainer '{"containerId": "r1", "timeout": 30}')
  rc=$?
  check "RemoveContainer r1 answers OK (${out%%
*})" test "$rc" = 0
  i=0
  while [ $i -lt 100 ] && kill -0 "$rpid" 2>/dev/null; do
    i=$((i + 1))
    sleep 0.1
  done
  kill "$rpid" 2>/dev/null
  left=$(ls -d /sys/fs/cgroup/r1 /sys/fs/cgroup/*/r1 2>/dev/null)
  check "resources: no r1 cgroup is left${left:+ ($left)}" test -z "$left"
fi

# device rules: the spec denies c 1:5 and allows c 1:3 (v1 devices.list,
# v2 the BPF device program)
out=$(timeout 60 "$ctl" --addr "$addr" run "$cbundles/devs" </dev/null 2>&1)
check "devices: /dev/null writable, /dev/zero denied in the container ($(echo $out))" \
  sh -c 'echo "$1" | grep -qx null:ok && echo "$1" | grep -qx zero:no' _ "$out"

# GetMetrics: the agent's processes and the guest, in Prometheus text (the
# JSON string escapes the label quotes: process=\"parent\")
metrics_have() { # metrics_have TEXT WORD...: every WORD is in TEXT
  t=$1
  shift
  for w in "$@"; do
    case $t in *"$w"*) ;; *) echo "missing $w"; return 1 ;; esac
  done
}
# (not $out: check() sets that)
mtext=$(call AgentService/GetMetrics '{}')
check "GetMetrics: kata_agent_* for parent, frontend and executor" metrics_have "$mtext" \
  'process=\"parent\"' 'process=\"frontend\"' 'process=\"executor\"' kata_agent_
check "GetMetrics: kata_guest_meminfo and kata_guest_load" metrics_have "$mtext" kata_guest_meminfo kata_guest_load

# GetOOMEvent: a container that exceeds its memory limit is OOM-killed; one
# event with its id is queued (v1 memory.oom_control eventfd, v2
# memory.events), and only one
timeout 120 "$ctl" --addr "$addr" run "$cbundles/hog" --id hog </dev/null >/tmp/c-hog.out 2>&1
rc=$?
check "OOM: tail /dev/zero in 32 MiB is killed (run exits 137: $rc)" test "$rc" = 137
out=$(timeout 60 "$ctl" --addr "$addr" --timeout 30 call AgentService/GetOOMEvent '{}' 2>&1)
check "GetOOMEvent returns the container id hog ($(echo $out))" metrics_have "$out" '"hog"'
out=$(timeout 60 "$ctl" --addr "$addr" --timeout 2 call AgentService/GetOOMEvent '{}' 2>&1)
check "a second GetOOMEvent has nothing: DEADLINE_EXCEEDED ($(echo $out))" metrics_have "$out" DEADLINE_EXCEEDED

# Guest-wide requests that only a guest may take: SetGuestDateTime moves
# this guest's clock (2030-01-01T00:00:00Z); CopyFile writes below the
# shared dir
out=$(call AgentService/SetGuestDateTime '{"Sec": 1893456000, "Usec": 0}')
check "SetGuestDateTime 1893456000: OK and the guest's year is 2030 ($(date -u +%FT%T))" \
  test "$(date -u +%Y)" = 2030
# (kata_agent.go copyFile: file_mode = st.Mode, dir_mode = 0750|os.ModeDir)
out=$(call AgentService/CopyFile "{\"path\": \"/run/kata-containers/shared/containers/vmcopy/f\", \"fileSize\": 3, \"fileMode\": 33188, \"dirMode\": 2147484136, \"data\": \"$(printf 'vm\n' | base64)\"}")
check "CopyFile over vsock writes /run/kata-containers/shared/containers/vmcopy/f, its new directory 750 ($out)" \
  sh -c 'test "$(cat /run/kata-containers/shared/containers/vmcopy/f 2>&1)" = vm &&
    test "$(stat -c %a /run/kata-containers/shared/containers/vmcopy)" = 750'
out=$(call AgentService/CopyFile "{\"path\": \"/run/kata-containers/foo\", \"fileSize\": 1, \"fileMode\": 33188, \"data\": \"eA==\"}")
check "CopyFile to /run/kata-containers/foo: PERMISSION_DENIED (upstream's subtree only) ($(echo $out))" \
  sh -c 'echo "$1" | grep -q PERMISSION_DENIED && test ! -e /run/kata-containers/foo' _ "$out"
# getGuestDetails: the runtime refuses CreateContainer with guest seccomp on
# unless supports_seccomp (sandbox.go)
out=$(call AgentService/GetGuestDetails '{}')
check "GetGuestDetails: initDaemon and supportsSeccomp true in the guest ($(echo $out))" \
  sh -c 'echo "$1" | grep -q "\"initDaemon\": true" && echo "$1" | grep -q "\"supportsSeccomp\": true"' _ "$out"
out=$(call AgentService/OnlineCPUMem '{"wait": true, "nbCpus": 0}')
rc=$?
check "OnlineCPUMem (memory blocks, no CPU to add) answers OK ($out)" test "$rc" = 0

# CreateSandbox's DNS: as the guest's init the agent binds its file over
# /etc/resolv.conf (the image has one, empty)
out=$(call AgentService/CreateSandbox '{"hostname": "kata-vm-test", "dns": ["nameserver 10.0.2.3"]}')
check "CreateSandbox with dns: /etc/resolv.conf now says nameserver 10.0.2.3 ($out)" \
  grep -qx "nameserver 10.0.2.3" /etc/resolv.conf

# A shared filesystem storage (9p, tag kataShared, from tests/vm/run's
# qemu): CreateSandbox mounts it below the shared dir
out=$(call AgentService/CreateSandbox '{"storages": [{"driver": "9p", "source": "kataShared", "fstype": "9p",
  "options": ["trans=virtio", "version=9p2000.L", "nodev"], "mountPoint": "/run/kata-containers/shared/containers"}]}')
check "CreateSandbox with a 9p storage: the host's marker file is at the mount point ($(echo $out))" \
  test "$(cat /run/kata-containers/shared/containers/marker 2>&1)" = shared-from-host

# CreateSandbox's kernel_modules: modprobe -v dummy numdummies=2
if [ -f "/lib/modules/$(uname -r)/kernel/drivers/net/dummy.ko" ]; then
  out=$(call AgentService/CreateSandbox '{"kernelModules": [{"name": "dummy", "parameters": ["numdummies=2"]}]}')
  check "CreateSandbox loads the dummy module with numdummies=2 ($(echo $out))" \
    sh -c 'test -d /sys/module/dummy && test -e /sys/class/net/dummy1'
else
  skip "CreateSandbox kernel_modules" "no dummy module in this kernel"
fi

# AddSwapPath: a 16 MiB file on an ext2 filesystem in a loop device below
# the shared dir (tmpfs and ramfs refuse swapon); the agent writes the swap
# header and swaps on it
swdir=/run/kata-containers/swapfs
mkdir -p "$swdir"
if dd if=/dev/zero of=/tmp/swapfs.img bs=1M count=24 2>/dev/null && lodev=$(losetup -f) &&
  losetup "$lodev" /tmp/swapfs.img && mke2fs -q -b 4096 "$lodev" >/tmp/mke2fs.out 2>&1 &&
  mount -t ext4 "$lodev" "$swdir" && dd if=/dev/zero of="$swdir/swapfile" bs=1M count=16 2>/dev/null; then
  out=$(call AgentService/AddSwapPath "{\"path\": \"$swdir/swapfile\"}")
  check "AddSwapPath $swdir/swapfile: /proc/swaps lists it ($(echo $out))" \
    grep -q "^$swdir/swapfile " /proc/swaps
  swapoff "$swdir/swapfile" 2>/dev/null
  umount "$swdir" 2>/dev/null
  losetup -d "$lodev" 2>/dev/null
else
  fail "AddSwapPath: an ext2 loop filesystem in $swdir" "$(cat /tmp/mke2fs.out 2>/dev/null)"
fi
