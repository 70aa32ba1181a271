#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The guest half of the "devices" boot (tests/vm/devices-boot.sh), started
# by /init instead of guest-tests. The host hot-plugs what this script asks
# for on the console ("VMREQ <QMP json>", tests/vm/devices-qmp.py); the
# requests in /opt/vm-devices are built on the host, shaped as the runtime
# sends them (kata_agent.go handleDeviceBlockVolume, appendBlockDevice,
# appendVfioDevice, addSwap, resizeGuestVolume). The plan is declared
# first; a check that did not run is reported not ok at the end, a check
# that cannot run here is reported "ok ... # SKIP reason". Results go to
# the console as "VMTAP <TAP line>", then "VMTAP-DONE".
addr=vsock://1:1024
ctl=/usr/bin/kata-agent-ctl
reqs=/opt/vm-devices
shared=/run/kata-containers
sp=$shared/sandbox/storage
export PATH=/usr/bin:/usr/sbin:/bin:/sbin

PLAN=29
# tests/vm/run asks for the plan on the host, to declare its own first.
if [ "${1:-}" = --plan ]; then
  echo "$PLAN"
  exit 0
fi
n=0
say() { echo "VMTAP $*"; }
pass() { n=$((n + 1)); say "ok - devices: $1"; }
fail() {
  n=$((n + 1))
  say "not ok - devices: $1"
  shift
  for l in "$@"; do
    printf '%s\n' "$l" | while IFS= read -r x; do say "#   $x"; done
  done
}
# skip DESCRIPTION REASON: the guest kernel lacks an optional feature
skip() { n=$((n + 1)); say "ok - devices: $1 # SKIP kernel: $2"; }
check() { # check DESCRIPTION COMMAND...
  d=$1
  shift
  if out=$("$@" 2>&1); then pass "$d"; else fail "$d" "$out"; fi
}
finish() {
  while [ "$n" -lt "$PLAN" ]; do fail "planned check $((n + 1)) did not run ($1)"; done
  [ "$n" -gt "$PLAN" ] && say "# $n checks ran, $PLAN planned"
  say "# asking PID 1 to stop (SIGTERM) at uptime $(cut -d' ' -f1 /proc/uptime) s"
  echo "VMTAP-DONE"
  kill -TERM 1
  exit 0
}
uptime_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
qmp() { echo "VMREQ $(printf '%s' "$1" | tr '\n' ' ')"; }
call() { "$ctl" --addr "$addr" call "AgentService/$1" "${2:-{\}}"; }
create() { "$ctl" --addr "$addr" call AgentService/CreateContainer - <"$reqs/$1.json"; }
start() { call StartContainer "{\"containerId\": \"$1\"}"; }
cexec() { id=$1; shift; timeout 60 "$ctl" --addr "$addr" exec "$id" -- "$@" </dev/null; }
remove() { call RemoveContainer "{\"containerId\": \"$1\", \"timeout\": 20}" >/dev/null 2>&1; }
# up ID: create and start; the output of both in /tmp/ID.up
up() { create "$1" >"/tmp/$1.up" 2>&1 && start "$1" >>"/tmp/$1.up" 2>&1; }
wait_for() { # wait_for TENTHS COMMAND...: until COMMAND succeeds
  t=$1
  shift
  i=0
  while ! "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -ge "$t" ] && return 1
    sleep 0.1
  done
}
mounted() { grep -q " $1 " /proc/self/mountinfo; }
mounts_of() { grep -c " $1 " /proc/self/mountinfo; }
blk_disk() { ls "/sys/bus/pci/devices/$1"/virtio*/block 2>/dev/null | head -n 1; }
add_disk() { # add_disk NODE IMAGE DEVICE-JSON
  qmp "[{\"execute\": \"blockdev-add\", \"arguments\": {\"node-name\": \"$1\", \"driver\": \"raw\",
    \"file\": {\"driver\": \"file\", \"filename\": \"@DIR@/$2\"}}},
    {\"execute\": \"device_add\", \"arguments\": $3}]"
}

# q35 boots through SeaBIOS, whose "Booting from ROM.." ends without a line
# break: with a quiet kernel the plan would follow on that line, where the
# host (which takes lines starting with VMTAP) does not see it.
echo
say "1..$PLAN"
i=0
while [ ! -e /proc/self/stat ]; do sleep 0.1; done
wait_for 1800 "$ctl" --addr "$addr" check || { fail "the agent serves"; finish "no agent"; }
mkdir -p "$shared" && cp -a /opt/vm-bundles "$shared/vm-bundles" || finish "no bundles"

# 1-5. The NVDIMM is there from boot: found without waiting, mounted with
# the runtime's options (ext4, "dax"), a container reads the file.
check "nvdimm: /dev/pmem0 exists at boot" test -b /dev/pmem0
if up pmem; then
  check "nvdimm storage with dax mounted (dax in its mount options)" \
    sh -c "grep ' $sp/L2Rldi9wbWVtMA== ' /proc/self/mountinfo | grep -q dax"
elif grep -qi dax /tmp/pmem.up; then
  # The runtime's pmem images carry an fsdax info block (osbuilder's
  # nsdax); a plain ext4 image is a raw namespace, which has no DAX.
  skip "nvdimm storage with dax mounted" "this pmem image is a raw namespace (no fsdax info block): $(head -c 200 /tmp/pmem.up | tr '\n' ' ')"
  for r in pmem pmem2; do
    sed 's/"dax"//' "$reqs/$r.json" >"/tmp/$r.json" && cp "/tmp/$r.json" "$reqs/$r.json"
  done
  up pmem
else
  fail "nvdimm storage mounted" "$(cat /tmp/pmem.up)"
fi
out=$(cexec pmem cat /vol/known.txt 2>&1)
check "nvdimm storage /dev/pmem0: a container reads the known file ($out)" test "$out" = pmem-known
# the same storage for a second container: one mount, released with the last
up pmem2
check "a second container on the same nvdimm storage: still one mount" \
  test "$(mounts_of "$sp/L2Rldi9wbWVtMA==")" = 1
remove pmem
out=$(cexec pmem2 cat /vol/known.txt 2>&1)
remove pmem2
check "after the first container is removed the second reads it ($out); after both, unmounted" \
  sh -c "test '$out' = pmem-known && ! grep -q ' $sp/L2Rldi9wbWVtMA== ' /proc/self/mountinfo"

# 6-8. A virtio-blk disk hot-plugged while CreateContainer waits for it.
create blk >/tmp/blk.create 2>&1 &
cpid=$!
sleep 0.5
t0=$(uptime_ms)
add_disk blk1 blk.img '{"driver": "virtio-blk-pci", "id": "vblk1", "drive": "blk1", "bus": "rp1"}'
wait "$cpid"
rc=$?
tc=$(uptime_ms)
check "blk storage at PCI path 02/00: CreateContainer waits for the hot-plugged disk" \
  sh -c "test $rc = 0 || { cat /tmp/blk.create; exit 1; }"
start blk >/dev/null 2>&1
out=$(cexec blk cat /vol/known.txt 2>&1)
t1=$(uptime_ms)
check "blk storage: a container reads the known file ($out)" test "$out" = blk-known
# bench/vm-hotplug: from the hot-plug request on the console to the
# CreateContainer answer (the disk found, its storage mounted, the container
# made), and to the first read of the volume in the container (+ Start, exec)
say "# bench: hotplug_to_created_ms=$((tc - t0)) hotplug_to_read_ms=$((t1 - t0))"
out=$(cexec blk stat -c %g /vol/known.txt 2>&1)
check "blk storage: fsGroup 1234 given to its files (group $out)" test "$out" = 1234
vda=$(blk_disk 0000:01:00.0)

# 9-10. The same disk as a container device: the guest's numbers in the
# container, the cgroup rule rewritten from the host's 8:16.
up blkdev
want=$(cat "/sys/class/block/$vda/dev" 2>/dev/null | tr : ' ')
got=$(cexec blkdev sh -c 'ls -l /dev/xvdb' 2>&1 | awk '{ gsub(",", "", $5); print $5, $6 }')
check "blk device 02/00: /dev/xvdb in the container is the guest's $want (not 8 16): $got" \
  test -n "$want" -a "$got" = "$want"
magic=$(cexec blkdev sh -c 'dd if=/dev/xvdb bs=1024 skip=1 count=1 2>/dev/null | od -An -tx2 -j56 -N2' 2>&1 | tr -d ' ')
check "blk device: the container reads its sectors (ext4 magic $magic)" test "$magic" = ef53
remove blkdev

# 11-12. A virtio-scsi disk, hot-plugged, mounted read-only.
add_disk scsi1 scsi.img '{"driver": "scsi-hd", "id": "sd1", "drive": "scsi1", "bus": "scsi0.0", "scsi-id": 1, "lun": 2}'
up scsi
out=$(cexec scsi cat /vol/known.txt 2>&1)
check "scsi storage 1:2: a container reads the known file ($out)" test "$out" = scsi-known
cexec scsi touch /vol/new >/tmp/scsi-ro.out 2>&1
rc=$?
check "scsi storage with ro: read-only (touch: $(head -c 80 /tmp/scsi-ro.out))" \
  sh -c "test $rc != 0 && grep -q 'Read-only file system' /tmp/scsi-ro.out && ! test -e $sp/MToy/new"
remove scsi

# 13-14. A device that never comes: DEADLINE_EXCEEDED after
# agent.hotplug_timeout, naming it, while other requests are answered.
# Check 24's CreateContainer (a node no uevent announced) waits for the same
# deadline: it starts now, beside this one, rather than after it.
mknod /dev/vdq b $(cat "/sys/class/block/$vda/dev" | tr : ' ')
(create ghost >/tmp/ghost.out 2>&1) &
gpid=$!
: >/tmp/order
(create never >/tmp/never.out 2>&1; echo "never $?" >>/tmp/order) &
npid=$!
sleep 0.5
"$ctl" --addr "$addr" check >/dev/null 2>&1 && echo health >>/tmp/order
call ListInterfaces >/dev/null 2>&1 && echo interfaces >>/tmp/order
call GetGuestDetails '{"memBlockSize": true}' >/dev/null 2>&1 && echo details >>/tmp/order
wait "$npid"
check "a device that never appears: DEADLINE_EXCEEDED naming PCI path 1e/00" \
  sh -c 'grep -q DEADLINE_EXCEEDED /tmp/never.out && grep -q "PCI path 1e/00" /tmp/never.out || { cat /tmp/never.out; exit 1; }'
check "while it waited, Health, ListInterfaces and GetGuestDetails were answered ($(tr '\n' ' ' </tmp/order))" \
  test "$(tr '\n' ' ' </tmp/order)" = "health interfaces details never 1 "

# 15-17. AddSwap waits for its disk, then /proc/swaps lists it; the mounted
# blk disk is refused.
(call AddSwap '{"PCIPath": [3, 0]}' >/tmp/swap.out 2>&1; echo "rc $?" >>/tmp/swap.out) &
spid=$!
sleep 0.5
add_disk swap1 swap.img '{"driver": "virtio-blk-pci", "id": "vswap1", "drive": "swap1", "bus": "rp2"}'
wait "$spid"
check "AddSwap [3, 0]: waits for the hot-plugged disk and answers OK" grep -q "^rc 0" /tmp/swap.out
# the mounted blk disk as swap: refused before anything is written
call AddSwap '{"PCIPath": [2, 0]}' >/tmp/swap2.out 2>&1
out=$(cexec blk cat /vol/known.txt 2>&1)
check "AddSwap [2, 0] of the mounted blk disk: FAILED_PRECONDITION, its volume intact ($out)" \
  sh -c "grep -q FAILED_PRECONDITION /tmp/swap2.out && test '$out' = blk-known || { cat /tmp/swap2.out; exit 1; }"
sw=$(blk_disk 0000:02:00.0)
if [ -n "$sw" ] && grep -q "^/dev/$sw " /proc/swaps; then
  pass "/proc/swaps lists /dev/$sw"
else
  fail "/proc/swaps lists the swap disk (${sw:-not found})" "$(cat /proc/swaps)"
fi

# 18-20. ResizeVolume after the host grows the disk.
total() { call GetVolumeStats "{\"volumeGuestPath\": \"$sp/MDIvMDA=\"}" 2>&1 |
  tr -d ' \n' | sed -n 's/.*"total":"*\([0-9]*\)"*,[^}]*"unit":"BYTES".*/\1/p'; }
before=$(total)
qmp '{"execute": "block_resize", "arguments": {"node-name": "blk1", "size": 67108864}}'
wait_for 300 sh -c "test \"\$(cat /sys/class/block/$vda/size)\" = 131072"
call ResizeVolume "{\"volumeGuestPath\": \"$sp/MDIvMDA=\", \"size\": 67108864}" >/tmp/resize.out 2>&1
rc=$?
check "ResizeVolume to 64 MiB after QMP block_resize: OK" \
  sh -c "test $rc = 0 || { cat /tmp/resize.out; exit 1; }"
after=$(total)
check "GetVolumeStats shows the grown filesystem (total $before -> $after bytes)" \
  sh -c "test -n '$before' -a -n '$after' && test '$after' -gt $((before + 16 * 1048576))"
call ResizeVolume "{\"volumeGuestPath\": \"$sp/MDIvMDA=\", \"size\": 1073741824}" >/tmp/resize2.out 2>&1
check "ResizeVolume beyond the disk's size: FAILED_PRECONDITION" grep -q FAILED_PRECONDITION /tmp/resize2.out

# 21. Memory hot-plug: blocks come online from their uevents.
nblk() { ls -d /sys/devices/system/memory/memory[0-9]* 2>/dev/null | wc -l; }
offline() { cat /sys/devices/system/memory/memory[0-9]*/online | grep -c 0; }
b0=$(nblk)
qmp '[{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram", "id": "mem1", "size": 268435456}},
  {"execute": "device_add", "arguments": {"driver": "pc-dimm", "id": "dimm1", "memdev": "mem1"}}]'
wait_for 300 sh -c "test \$(ls -d /sys/devices/system/memory/memory[0-9]* | wc -l) -gt $b0 &&
  ! cat /sys/devices/system/memory/memory[0-9]*/online | grep -q 0"
check "hot-plugged memory: $(($(nblk) - b0)) new blocks, all online ($(offline) offline)" \
  sh -c "test $(nblk) -gt $b0 && test $(offline) = 0"

# 22-23. VFIO: no IOMMU in this guest, so the error path: the function has
# no group; it is not unbound from its driver.
create vfio >/tmp/vfio.out 2>&1
check "vfio-pci on 02/00 (no IOMMU group): FAILED_PRECONDITION naming it" \
  sh -c 'grep -q FAILED_PRECONDITION /tmp/vfio.out && grep -q "0000:01:00.0 has no IOMMU group" /tmp/vfio.out || { cat /tmp/vfio.out; exit 1; }'
drv=$(basename "$(readlink /sys/bus/pci/devices/0000:01:00.0/driver)")
out=$(cexec blk cat /vol/known.txt 2>&1)
check "the function keeps its driver ($drv) and its volume ($out)" test "$drv:$out" = virtio-pci:blk-known

# 24-27. Attacks: a node the kernel never announced (the blk disk's numbers
# under an unannounced name), a blk source naming /dev/vda, a symlink and a
# node of other numbers at the kernel's name.
wait "$gpid" # started with checks 13-14
check "mmioblk naming /dev/vdq (a node no uevent announced): not used (DEADLINE_EXCEEDED)" \
  sh -c 'grep -q DEADLINE_EXCEEDED /tmp/ghost.out || { cat /tmp/ghost.out; exit 1; }'
rm -f /dev/vdq
create bypath >/tmp/bypath.out 2>&1
check "blk storage with source /dev/vda: PERMISSION_DENIED" grep -q PERMISSION_DENIED /tmp/bypath.out
devnum=$(cat "/sys/class/block/$vda/dev" | tr : ' ')
mv "/dev/$vda" "/dev/$vda.real" && ln -s "$vda.real" "/dev/$vda"
create blkdev >/tmp/sym.out 2>&1
check "/dev/$vda replaced by a symlink to the right node: refused (FAILED_PRECONDITION)" \
  grep -q FAILED_PRECONDITION /tmp/sym.out
rm -f "/dev/$vda" && mknod "/dev/$vda" b 1 0
create blkdev >/tmp/other.out 2>&1
check "/dev/$vda replaced by another device's node (1:0): refused" \
  sh -c 'grep -q FAILED_PRECONDITION /tmp/other.out && grep -q "not the block device" /tmp/other.out'
rm -f "/dev/$vda" && mv "/dev/$vda.real" "/dev/$vda"

# 28-29. Everything removed: no storage left mounted; the agent still serves.
remove blk
check "every container removed: no storage of sandbox/storage left mounted" \
  sh -c "! grep -q ' $sp/' /proc/self/mountinfo || grep ' $sp/' /proc/self/mountinfo"
check "the agent still serves" "$ctl" --addr "$addr" check

finish "the script ended"
