# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/vm/run: the "devices" boot, a q35 machine with PCIe root
# ports (hot-plug), a virtio-scsi controller, an NVDIMM and memory slots,
# driven over QMP while the guest runs tests/vm/guest-devices.sh.
#
#   devices_boot NAME TIMEOUT CMDLINE   (run's boot() hands its arguments)
#
# What the host prepares in $work/devices/: ext4 images made here with a
# known file (mkfs.ext4 -d), a swap disk, the CreateContainer requests the
# guest sends (built with jq from the image's busybox bundle, shaped as
# kata_agent.go sends them: docs in guest-devices.sh), and a second cpio
# appended to the initramfs (the kernel unpacks both) with the disk, SCSI
# and NVDIMM modules, guest-devices and the requests. Topology (guest PCI
# paths are what the runtime would compute):
#   pcie.0 slot 2: root port rp1 -> virtio-blk "blk1" hot-plugged: 02/00
#   pcie.0 slot 3: root port rp2 -> virtio-blk "swap1" hot-plugged: 03/00
#   pcie.0 slot 4: root port rp3 (left empty)
#   pcie.0 slot 5: virtio-scsi-pci "scsi0" -> scsi-hd hot-plugged: 1:2
#   nvdimm "nv0" from boot: /dev/pmem0
# The guest asks for QMP commands by printing "VMREQ <json>" on its
# console; tests/vm/devices-qmp.py follows the console and sends them.

devices_modules=(virtio_pci virtio_blk virtio_scsi sd_mod nfit nd_pmem)

devices_prepare() { # devices_prepare DIR: images, requests, the extra cpio
  local d=$1 x=$1/extra m rel
  rm -rf "$d" && mkdir -p "$d/content" "$x/opt/vm-devices" "$x/usr/libexec/vm-tests" "$x/etc" \
    "$x/lib/modules/vm" || return 1
  local img
  for img in blk scsi pmem; do
    rm -rf "$d/content" && mkdir -p "$d/content/dir" &&
      echo "$img-known" >"$d/content/known.txt" || return 1
    truncate -s "$([ $img = pmem ] && python3 "$here/nsdax.py" size 134217728 || echo 32M)" "$d/$img.img" &&
      mkfs.ext4 -q -F -b 4096 -d "$d/content" "$d/$img.img" >/dev/null 2>&1 || return 1
  done
  # the NVDIMM in fsdax mode (DAX needs it): a pfn info block before the
  # filesystem, 128 MiB in all (a memory block: the DIMM hot-plugged later
  # lands aligned behind it, or the guest cannot add it)
  python3 "$here/nsdax.py" make 134217728 "$d/pmem.img" "$d/pmem-dax.img" && mv "$d/pmem-dax.img" "$d/pmem.img" ||
    return 1
  truncate -s 16M "$d/swap.img" || return 1
  # Modules: the base list, then ours (dependencies first), unpacked.
  cp "$stage/etc/vm-modules" "$x/etc/vm-modules" || return 1
  for m in "${devices_modules[@]}"; do
    grep -q "/$m\.ko" "$moddir/modules.builtin" 2>/dev/null && continue
    rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n) } n == m { print $1; exit }' "$moddir/modules.dep")
    [ -n "$rel" ] || return 1
    stage=$x add_module "$rel" || return 1
  done
  install -m 0755 "$here/guest-devices.sh" "$x/usr/libexec/vm-tests/guest-devices" || return 1
  devices_requests "$x/opt/vm-devices" || return 1
  (cd "$x" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$d/extra.cpio"
}

# The requests, from the image's busybox bundle: a long-running container
# (the checks exec into it) with the storage, mount and devices given.
devices_requests() {
  local out=$1 sp=/run/kata-containers/sandbox/storage base
  base=$("$build/containerd-shim-helper/ctl/kata-agent-ctl" run "$stage/opt/vm-bundles/sleeper" --dry-run) ||
    return 1
  # req NAME STORAGES MOUNTS DEVICES LINUX_DEVICES RULES
  req() {
    jq --arg id "$1" --argjson st "$2" --argjson m "$3" --argjson dv "$4" --argjson ld "$5" \
      --argjson rules "$6" \
      '.containerId = $id | .execId = $id | .storages = $st | .devices = $dv
       | .OCI.Root.Path = "/run/kata-containers/vm-bundles/rootfs"
       | .OCI.Mounts += $m | .OCI.Linux.Devices = $ld
       | .OCI.Linux.Resources = {Devices: $rules}' <<<"$base" >"$out/$1.json"
  }
  local vol='[{"destination": "/vol", "type": "bind", "source": $s, "options": ["rbind", "rprivate", "rw"]}]'
  mnt() { jq -nc --arg s "$1" "$vol"; }
  # kata_agent.go handleDeviceBlockVolume: driver by the hypervisor's block
  # driver, source its address, the mount's type and options, the mount
  # point sandbox/storage/<base64url(source)>; the spec's mount source
  # replaced by that (handleBlkOCIMounts).
  local p_pmem="$sp/L2Rldi9wbWVtMA==" p_blk="$sp/MDIvMDA=" p_scsi="$sp/MToy"
  req pmem "$(jq -nc --arg m "$p_pmem" '[{driver: "nvdimm", source: "/dev/pmem0", fstype: "ext4", options: ["dax"], mountPoint: $m}]')" \
    "$(mnt "$p_pmem")" '[]' '[]' '[]' || return 1
  req pmem2 "$(jq -nc --arg m "$p_pmem" '[{driver: "nvdimm", source: "/dev/pmem0", fstype: "ext4", options: ["dax"], mountPoint: $m}]')" \
    "$(mnt "$p_pmem")" '[]' '[]' '[]' || return 1
  req blk "$(jq -nc --arg m "$p_blk" '[{driver: "blk", source: "02/00", fstype: "ext4", options: ["rw"], mountPoint: $m, fsGroup: {groupId: 1234}}]')" \
    "$(mnt "$p_blk")" '[]' '[]' '[]' || return 1
  req scsi "$(jq -nc --arg m "$p_scsi" '[{driver: "scsi", source: "1:2", fstype: "ext4", options: ["ro"], mountPoint: $m}]')" \
    "$(mnt "$p_scsi")" '[]' '[]' '[]' || return 1
  # appendBlockDevice, VirtioBlock: id = the PCI path, vm_path the host's
  # guess; the spec's entry and rules carry the host's 8:16.
  req blkdev '[]' '[]' '[{"id": "02/00", "type": "blk", "vmPath": "/dev/vdq", "containerPath": "/dev/xvdb"}]' \
    '[{"Path": "/dev/xvdb", "Type": "b", "Major": 8, "Minor": 16, "FileMode": 432}]' \
    '[{"Allow": false, "Access": "rwm"}, {"Allow": true, "Type": "b", "Major": 8, "Minor": 16, "Access": "rw"}]' || return 1
  # a device that never comes (no bridge at slot 0x1e)
  req never '[]' '[]' '[{"id": "1e/00", "type": "blk", "vmPath": "/dev/vdz", "containerPath": "/dev/xvdz"}]' \
    '[{"Path": "/dev/xvdz", "Type": "b", "Major": 8, "Minor": 32, "FileMode": 432}]' '[]' || return 1
  # VFIO on a device that has no IOMMU group (the virtio disk at 02/00)
  req vfio '[]' '[]' '[{"id": "45", "type": "vfio-pci", "options": ["0000:3b:00.0=02/00"], "containerPath": "/dev/vfio/45"}]' \
    '[{"Path": "/dev/vfio/45", "Type": "c", "Major": 244, "Minor": 0, "FileMode": 432}]' '[]' || return 1
  # attacks: a node the kernel never announced, the blk disk by /dev path
  req ghost "$(jq -nc --arg m "$sp/ghost" '[{driver: "mmioblk", source: "/dev/vdq", fstype: "ext4", mountPoint: $m}]')" \
    '[]' '[]' '[]' '[]' || return 1
  req bypath "$(jq -nc --arg m "$sp/bypath" '[{driver: "blk", source: "/dev/vda", fstype: "ext4", mountPoint: $m}]')" \
    '[]' '[]' '[]' '[]' || return 1
}

devices_boot() { # devices_boot NAME TIMEOUT CMDLINE
  local name=$1 tmo=$2 cmdline=$3 d=$work/devices cpu=max t0 t1 rc qpid hpid
  [ "$accel" = kvm ] && cpu=host
  # q35 with ACPI boots slower than microvm, and the guest waits for
  # hot-plugs: at least 6 minutes under TCG
  [ "$accel" = tcg ] && [ "$tmo" -lt 360 ] && tmo=360
  if ! devices_prepare "$d" >"$work/$name.prep" 2>&1; then
    echo "VMTAP not ok - devices: the host prepares images and requests" >"$work/$name.console"
    echo "VMTAP-DONE" >>"$work/$name.console"
    echo "125 0" >"$work/$name.result"
    return
  fi
  cat "$initrd" "$d/extra.cpio" >"$d/initrd.img"
  # (the microvm boots' kernel line turns PCI off: not this machine's)
  rm -f "$d/qmp.sock" "$work/$name.console"
  : >"$work/$name.console"
  t0=$(date +%s.%N)
  local kernel=(-kernel "$vmlinux")
  [ -s "$vmlinux" ] || kernel=(-kernel "$vmlinuz")
  timeout -k 5 "$tmo" qemu-system-x86_64 -M q35,nvdimm=on "${kernel[@]}" -accel "$accel" -cpu "$cpu" \
    -m 512M,slots=4,maxmem=2G -smp 1 -nodefaults -no-user-config -nographic -no-reboot \
    -initrd "$d/initrd.img" -append "${kargs_base//pci=off/} $cmdline" \
    -device pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1 \
    -device pcie-root-port,id=rp2,bus=pcie.0,addr=0x3,chassis=2 \
    -device pcie-root-port,id=rp3,bus=pcie.0,addr=0x4,chassis=3 \
    -device virtio-scsi-pci,id=scsi0,bus=pcie.0,addr=0x5 \
    -object "memory-backend-file,id=nvmem,share=on,mem-path=$d/pmem.img,size=128M" \
    -device nvdimm,id=nv0,memdev=nvmem \
    -qmp "unix:$d/qmp.sock,server=on,wait=off" \
    -serial "file:$work/$name.console" </dev/null >"$work/$name.qemu" 2>&1 &
  qpid=$!
  python3 "$here/devices-qmp.py" "$d/qmp.sock" "$work/$name.console" "$d" >"$work/$name.qmp" 2>&1 &
  hpid=$!
  wait "$qpid"
  rc=$?
  kill "$hpid" 2>/dev/null
  wait "$hpid" 2>/dev/null
  t1=$(date +%s.%N)
  echo "$rc $(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')" >"$work/$name.result"
}
