#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attacks on the device half of the agent through the API (issue 12): a
# hostile host names guest nodes of its choosing, PCI paths that try to
# leave /sys/devices, overlay layers outside the shared dir, devices that
# never come; each is refused, nothing is mounted, and the agent keeps
# serving other requests while a device is waited for. The requests are
# shaped as kata_agent.go sends them (handleDeviceBlockVolume,
# appendBlockDevice, shareRootFilesystemWithErofs, addSwap,
# resizeGuestVolume). On this host there is no hot-pluggable disk: finding
# real ones is the VM suite's (tests/vm/guest-devices.sh). Prints TAP.
#
#   devices.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 18
suite_requires

out=
# try ID DEVICES STORAGES: CreateContainer of a plain bundle with these; $rc, $out.
try() {
  out="$work/$1.out"
  create_request "$1" "$plain" "$3" '[]' || { rc=99; return; }
  jq --argjson d "$2" '.devices = $d' "$work/$1.json" >"$work/$1.j2" && mv "$work/$1.j2" "$work/$1.json"
  ctl call AgentService/CreateContainer - <"$work/$1.json" >"$out" 2>&1
  rc=$?
  [ $rc -eq 0 ] && ctl call AgentService/RemoveContainer "{\"containerId\": \"$1\", \"timeout\": 20}" >/dev/null 2>&1
  return 0
}
refused() { # refused STATUS [TEXT]: the last try failed with STATUS (and says TEXT)
  [ "$rc" -ne 0 ] && grep -q "$1" "$out" && { [ -z "${2:-}" ] || grep -qF -- "$2" "$out"; }
}
mounts_now() { wc -l <"/proc/$executor_pid/mountinfo"; }
# waits_logged N: until the executor logged its Nth wait for the device
# that never comes (the create is then registered and waiting), 30 s at most
waits_logged() {
  local i
  for ((i = 0; i < 300; i++)); do
    [ "$(grep -c 'waiting up to .* for blk device at PCI path 1f/1f' "$work/agent.log")" -ge "$1" ] &&
      return 0
    sleep 0.1
  done
  return 1
}

t_attacks() {
  agent_start secdevices || return
  plain=$(bundle plain sh -c 'exit 0')
  local mounts_before sp="$shared/sandbox/storage"
  mounts_before=$(mounts_now)

  # 1-3. Block storages naming guest nodes the host chose.
  try s1 '[]' "$(jq -nc --arg m "$sp/a" '[{driver: "blk", source: "/dev/sda", fstype: "ext4", mountPoint: $m}]')"
  check "blk storage with source /dev/sda (a node, not a PCI path): PERMISSION_DENIED" "$(cat "$out")" \
    refused PERMISSION_DENIED "never by a /dev path"
  try s2 '[]' "$(jq -nc --arg m "$sp/b" '[{driver: "mmioblk", source: "/dev/../etc/shadow", fstype: "ext4", mountPoint: $m}]')"
  check "mmioblk storage with source /dev/../etc/shadow: INVALID_ARGUMENT" "$(cat "$out")" refused INVALID_ARGUMENT
  try s3 '[]' "$(jq -nc --arg m "$sp/c" '[{driver: "nvdimm", source: "/dev/sda", fstype: "ext4", options: ["dax"], mountPoint: $m}]')"
  check "nvdimm storage naming /dev/sda: INVALID_ARGUMENT (pmemN only)" "$(cat "$out")" refused INVALID_ARGUMENT

  # 4. A node that exists but is no virtio disk (a loop device, on this host):
  # not used, whatever its name. Without one here it is simply never found.
  if [ -e /sys/class/block/loop0 ]; then
    try s4 '[]' "$(jq -nc --arg m "$sp/d" '[{driver: "mmioblk", source: "/dev/loop0", fstype: "ext4", mountPoint: $m}]')"
    check "mmioblk storage naming /dev/loop0 (not a virtio disk): FAILED_PRECONDITION" "$(cat "$out")" \
      refused FAILED_PRECONDITION "is not a virtio disk"
  else
    skip 1 "mmioblk storage naming /dev/loop0" "no loop0 in /sys/class/block here"
  fi

  # 5, 6. PCI paths trying to walk out of /sys/devices, an unknown type.
  try d1 '[{"id": "../../../../etc", "type": "blk", "vmPath": "/dev/vda", "containerPath": "/dev/xda"}]' '[]'
  check "blk device at PCI path ../../../../etc: INVALID_ARGUMENT" "$(cat "$out")" refused INVALID_ARGUMENT "PCI path"
  try d2 '[{"id": "0", "type": "gpu", "vmPath": "/dev/dri/card0", "containerPath": "/dev/dri/card0"}]' '[]'
  check "device of unknown type gpu: INVALID_ARGUMENT naming it" "$(cat "$out")" refused INVALID_ARGUMENT '"gpu"'

  # 7, 8. Overlay layers outside the shared dir, directly or by a symlink.
  try o1 '[]' "$(jq -nc --arg m "$shared/c1/rootfs" --arg u "$shared/c1/fs" --arg w "$shared/c1/work" \
    '[{driver: "overlayfs", source: "overlay", fstype: "overlay", mountPoint: $m,
       options: ["lowerdir=/etc:/root", "upperdir=\($u)", "workdir=\($w)"]}]')"
  check "overlayfs storage with lowerdir=/etc:/root: INVALID_ARGUMENT" "$(cat "$out")" refused INVALID_ARGUMENT "outside"
  mkdir -p "$shared/vv" && ln -s /etc "$shared/vv/l1"
  try o2 '[]' "$(jq -nc --arg m "$shared/c2/rootfs" --arg l "$shared/vv/l1" \
    '[{driver: "overlayfs", source: "overlay", fstype: "overlay", mountPoint: $m, options: ["lowerdir=\($l)"]}]')"
  check "overlayfs storage with a lowerdir symlink to /etc: INVALID_ARGUMENT" "$(cat "$out")" \
    refused INVALID_ARGUMENT "outside its allowed root"
  check "no refused storage left a mount" "$(mounts_now) lines, $mounts_before before" \
    want "$(mounts_now)" "$mounts_before"

  # 9-12. A device that never appears: DEADLINE_EXCEEDED after
  # agent.hotplug_timeout (3 s by default), naming it; while it waits the
  # agent answers other requests, a container whose devices are all there is
  # created and runs, and the waiting one's id is taken.
  local order="$work/order"
  : >"$order"
  create_request slow "$plain" '[]' '[]'
  jq '.devices = [{id: "1f/1f", type: "blk", vmPath: "/dev/vdz", containerPath: "/dev/xvdz"}]
      | .OCI.Linux.Devices = [{Path: "/dev/xvdz", Type: "b", Major: 8, Minor: 0, FileMode: 432}]' \
    "$work/slow.json" >"$work/slow.j2"
  ( ctl call AgentService/CreateContainer - <"$work/slow.j2" >"$work/slow.out" 2>&1
    echo "slow-create $?" >>"$order" ) &
  local slow=$!
  waits_logged 1
  ( ctl check >/dev/null 2>&1 && echo "health" >>"$order"
    ctl call AgentService/ListInterfaces '{}' >/dev/null 2>&1 && echo "list-interfaces" >>"$order"
    ctl call AgentService/StartContainer '{"containerId": "slow"}' >"$work/start.out" 2>&1
    grep -q FAILED_PRECONDITION "$work/start.out" && echo "start-refused" >>"$order"
    b=$(bundle quick sh -c 'echo quick-ran')
    ctl run "$b" </dev/null >"$work/quick.out" 2>&1 && grep -qx quick-ran "$work/quick.out" &&
      echo "other-container" >>"$order" )
  wait "$slow"
  check "a device that never appears: DEADLINE_EXCEEDED naming PCI path 1f/1f" "$(cat "$work/slow.out")" \
    eval 'grep -q DEADLINE_EXCEEDED "$work/slow.out" && grep -q "PCI path 1f/1f" "$work/slow.out" && grep -q hotplug_timeout "$work/slow.out"'
  check "meanwhile Health and ListInterfaces were answered first" "$(cat "$order")" \
    eval 'head -n 2 "$order" | tr "\n" " " | grep -qx "health list-interfaces "'
  check "meanwhile StartContainer on the waiting container was refused, and another container ran" \
    "$(cat "$order"; cat "$work/start.out" "$work/quick.out")" \
    eval 'sed -n 3,4p "$order" | tr "\n" " " | grep -qx "start-refused other-container "'
  check "the waiting create was answered last" "$(cat "$order")" \
    eval 'tail -n 1 "$order" | grep -q "^slow-create 1$"'

  # 13. RemoveContainer while its devices are looked for: the create is
  # answered ABORTED at once, the removal OK.
  ( ctl call AgentService/CreateContainer - <"$work/slow.j2" >"$work/slow2.out" 2>&1 ) &
  slow=$!
  waits_logged 2
  ctl call AgentService/RemoveContainer '{"containerId": "slow", "timeout": 10}' >"$work/rm.out" 2>&1
  local rmrc=$?
  wait "$slow"
  check "RemoveContainer while its device is waited for: removed, the create ABORTED" \
    "$(cat "$work/rm.out" "$work/slow2.out")" eval '[ $rmrc = 0 ] && grep -q ABORTED "$work/slow2.out"'

  # 14, 15. AddSwap: a PCI path the runtime cannot send, one that never comes.
  ctl call AgentService/AddSwap '{"PCIPath": [2, 32]}' >"$work/sw1.out" 2>&1
  check "AddSwap with a slot above 31: INVALID_ARGUMENT" "$(cat "$work/sw1.out")" grep -q INVALID_ARGUMENT "$work/sw1.out"
  ctl call AgentService/AddSwap '{"PCIPath": [31, 31]}' >"$work/sw2.out" 2>&1
  check "AddSwap of a disk that never comes: DEADLINE_EXCEEDED naming it" "$(cat "$work/sw2.out")" \
    eval 'grep -q DEADLINE_EXCEEDED "$work/sw2.out" && grep -q "PCI path 1f/1f" "$work/sw2.out"'

  # 16, 17. ResizeVolume of what is not a block volume this agent mounted.
  mkdir -p "$shared/notavolume"
  ctl call AgentService/ResizeVolume "$(jq -nc --arg p "$shared/notavolume" '{volumeGuestPath: $p, size: 1048576}')" \
    >"$work/rs1.out" 2>&1
  check "ResizeVolume of a plain directory: NOT_FOUND" "$(cat "$work/rs1.out")" grep -q NOT_FOUND "$work/rs1.out"
  ctl call AgentService/ResizeVolume '{"volumeGuestPath": "/", "size": 1048576}' >"$work/rs2.out" 2>&1
  check "ResizeVolume of / : refused" "$(cat "$work/rs2.out")" \
    eval 'grep -q -e INVALID_ARGUMENT -e NOT_FOUND "$work/rs2.out"'
  agent_stop
}

t_attacks
