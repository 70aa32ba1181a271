#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: guest. Prints TAP.
#
#   guest.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 38
suite_requires

# Guest-wide requests (agentd/executor/handlers/guest.c): CopyFile below the
# shared dir's shared/containers, upstream's subtree (chunks, directories, symlinks, owner and mode, refusals that
# write nothing), GetVolumeStats, ReseedRandomDev; SetGuestDateTime only
# with refused values (a valid one would set this host's clock: the VM
# suite sets it in a guest).
t_guest() {
  agent_start guest || return
  local out="$work/guest.out" cf="$shared/shared/containers/cf"
  b64() { printf '%s' "$1" | base64 -w0; }
  copy() { # copy JSON-FIELDS: CopyFile with these fields
    ctl call AgentService/CopyFile "{$1}" >"$out" 2>&1
  }
  copy "\"path\": \"$cf/a/b.txt\", \"fileSize\": 6, \"fileMode\": $((0100640)), \"dirMode\": $((0750)),
    \"uid\": 1000, \"gid\": 1001, \"data\": \"$(b64 'hello
')\""
  rc=$?
  check "CopyFile of a small file: content, mode 640, owner 1000:1001, new dirs 750" \
    "$(cat "$out"; ls -la "$cf/a" 2>&1)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$cf/a/b.txt")" = hello ] &&
     [ "$(stat -c %a:%u:%g "$cf/a/b.txt")" = 640:1000:1001 ] && [ "$(stat -c %a "$cf/a")" = 750 ]'

  # three chunks, in order: the file appears whole with the last one; a
  # chunk out of order is refused
  local f="\"path\": \"$cf/chunked\", \"fileSize\": 12, \"fileMode\": $((0100644)), \"uid\": -1, \"gid\": -1"
  copy "$f, \"offset\": 0, \"data\": \"$(b64 aaaa)\""
  rc=$?
  check "CopyFile: the first of three chunks: nothing at the path yet" "$(cat "$out"; ls -la "$cf")" eval \
    '[ $rc -eq 0 ] && [ ! -e "$cf/chunked" ]'
  copy "$f, \"offset\": 8, \"data\": \"$(b64 cccc)\""
  rc=$?
  check "CopyFile: a chunk out of order: INVALID_ARGUMENT, still nothing at the path" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$cf/chunked" ]'
  copy "$f, \"offset\": 4, \"data\": \"$(b64 bbbb)\"" && copy "$f, \"offset\": 8, \"data\": \"$(b64 cccc)\""
  rc=$?
  check "CopyFile: the second and third chunks complete it (aaaabbbbcccc), no temporary file left" \
    "$(cat "$out"; ls -la "$cf")" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$cf/chunked")" = aaaabbbbcccc ] && [ -z "$(ls "$cf" | grep kata-copy)" ]'

  copy "\"path\": \"$cf/d\", \"fileMode\": $((040700)), \"uid\": 1000, \"gid\": 1000"
  rc=$?
  check "CopyFile of a directory: mode 700, owner 1000" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ -d "$cf/d" ] && [ "$(stat -c %a:%u "$cf/d")" = 700:1000 ]'
  copy "\"path\": \"$cf/a/link\", \"fileMode\": $((0120777)), \"data\": \"$(b64 b.txt)\"" &&
    copy "\"path\": \"$cf/a/link\", \"fileMode\": $((0120777)), \"data\": \"$(b64 ..data/b.txt)\""
  rc=$?
  check "CopyFile of a symlink, then again with a new target: replaced" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(readlink "$cf/a/link")" = ..data/b.txt ]'
  copy "\"path\": \"$cf/s\", \"fileSize\": 1, \"fileMode\": $((0106755)), \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile with setuid and setgid bits: written without them (755)" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(stat -c %a "$cf/s")" = 755 ]'

  # refusals, each leaving nothing behind
  local outside="$work/outside"
  mkdir -p "$outside"
  ln -s "$outside" "$shared/shared/containers/evil"
  copy "\"path\": \"$shared/shared/containers/evil/f\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile through a symlink that leaves the shared dir: refused, nothing written outside" \
    "$(cat "$out"; ls -la "$outside")" eval '[ $rc -ne 0 ] && [ -z "$(ls -A "$outside")" ]'
  mkfifo "$cf/fifo.kata-copy"
  copy "\"path\": \"$cf/fifo\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile onto a planted fifo (its temporary name): refused at once, the executor not blocked" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && [ -p "$cf/fifo.kata-copy" ] && ctl check >/dev/null'
  rm -f "$cf/fifo.kata-copy"
  copy "\"path\": \"$shared/shared/containers/../escape\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile with a .. component: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$shared/shared/escape" ]'
  copy "\"path\": \"/etc/kata-copy-test\", \"fileSize\": 1, \"data\": \"$(b64 x)\""
  rc=$?
  check "CopyFile outside the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -e /etc/kata-copy-test ]'
  copy "\"path\": \"$cf/big\", \"fileSize\": 4, \"offset\": 2, \"data\": \"$(b64 xyz)\""
  rc=$?
  check "CopyFile with data past file_size: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$cf/big.kata-copy" ]'
  copy "\"path\": \"$cf/abs\", \"fileMode\": $((0120777)), \"data\": \"$(b64 /etc/shadow)\""
  rc=$?
  check "CopyFile of a symlink to an absolute target: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -L "$cf/abs" ]'
  copy "\"path\": \"$cf/up\", \"fileMode\": $((0120777)), \"data\": \"$(b64 ../../x)\""
  rc=$?
  check "CopyFile of a symlink with a .. target: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -L "$cf/up" ]'
  copy "\"path\": \"$cf/fifo\", \"fileMode\": $((010644))"
  rc=$?
  check "CopyFile of a fifo: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$cf/fifo" ]'

  ctl call AgentService/GetVolumeStats "{\"volumeGuestPath\": \"$cf\"}" >"$out" 2>&1
  rc=$?
  local want
  want=$(stat -f -c '%b %S' "$cf" | awk '{ printf "%.0f\n", $1 * $2 }')
  check "GetVolumeStats: bytes total as statfs says ($want), inodes, condition OK" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(jq -r ".usage[0].total" "$out")" = "$want" ] &&
     [ "$(jq -r ".usage[1].unit" "$out")" = INODES ] && [ "$(jq -r ".volumeCondition.message" "$out")" = OK ]'
  ctl call AgentService/GetVolumeStats '{"volumeGuestPath": "/etc"}' >"$out" 2>&1
  rc=$?
  check "GetVolumeStats outside the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'

  ctl call AgentService/ReseedRandomDev "{\"data\": \"$(head -c 64 /dev/urandom | base64 -w0)\"}" >"$out" 2>&1
  rc=$?
  check "ReseedRandomDev with 64 bytes: OK, the executor fed 64 bytes to the pool" \
    "$(cat "$out"; tail -3 "$work/agent.log")" eval \
    '[ $rc -eq 0 ] && grep -q "random pool reseeded with 64 bytes from the host" "$work/agent.log"'
  ctl call AgentService/ReseedRandomDev '{}' >"$out" 2>&1
  rc=$?
  check "ReseedRandomDev without data: INVALID_ARGUMENT (missing entropy data)" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  # OnlineCPUMem: nothing to online here (no CPU asked for, memory left
  # alone: this host's blocks must not change); the scan itself is
  # unit-tested on a fake sysfs (tests/unit/test_guest_online.c)
  # online_state: every CPU's and memory block's online file, to see that
  # nothing changed
  online_state() { cat /sys/devices/system/cpu/online /sys/devices/system/memory/memory*/online 2>/dev/null | md5sum; }
  local online_before
  online_before=$(online_state)
  ctl call AgentService/OnlineCPUMem '{"wait": true, "nbCpus": 0, "cpuOnly": true}' >"$out" 2>&1
  rc=$?
  check "OnlineCPUMem with nothing to online: OK, no CPU or memory block changed" "$(cat "$out")" \
    eval '[ $rc -eq 0 ] && [ "$(online_state)" = "$online_before" ]'
  ctl call AgentService/OnlineCPUMem '{"wait": true, "nbCpus": 5000, "cpuOnly": true}' >"$out" 2>&1
  rc=$?
  check "OnlineCPUMem of 5000 CPUs: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  # MemHotplugByProbe: this host's kernel has no probe file (x86 without
  # CONFIG_ARCH_MEMORY_PROBE), so the executor says so and probes nothing
  if [ ! -e /sys/devices/system/memory/probe ]; then
    ctl call AgentService/MemHotplugByProbe '{"memHotplugProbeAddr": ["4294967296"]}' >"$out" 2>&1
    rc=$?
    check "MemHotplugByProbe without a probe file: FAILED_PRECONDITION naming it" "$(cat "$out")" eval \
      '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out" && grep -q memory/probe "$out"'
  else
    # a probe would add memory to this host: only a kernel without the
    # probe file (x86 without CONFIG_ARCH_MEMORY_PROBE) can take the refusal
    skip 1 "MemHotplugByProbe without a probe file" "this kernel has /sys/devices/system/memory/probe"
  fi
  online_before=$(online_state)
  ctl call AgentService/MemHotplugByProbe '{"memHotplugProbeAddr": []}' >"$out" 2>&1
  rc=$?
  check "MemHotplugByProbe with no address: OK, no memory block changed" "$(cat "$out")" \
    eval '[ $rc -eq 0 ] && [ "$(online_state)" = "$online_before" ]'
  # CreateSandbox's DNS: written below the shared dir; stand-alone (not the
  # guest's init) this host's /etc/resolv.conf is left alone
  local resolv_before
  resolv_before=$(sha256sum /etc/resolv.conf 2>/dev/null)
  ctl call AgentService/CreateSandbox '{"hostname": "h", "dns": ["nameserver 10.0.0.53", "search example.test"]}' \
    >"$out" 2>&1
  rc=$?
  check "CreateSandbox with dns: $shared/sandbox/resolv.conf has the lines, the host's resolv.conf untouched" \
    "$(cat "$out"; cat "$shared/sandbox/resolv.conf" 2>&1)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$shared/sandbox/resolv.conf")" = "nameserver 10.0.0.53
search example.test" ] && [ "$(sha256sum /etc/resolv.conf 2>/dev/null)" = "$resolv_before" ]'
  ctl call AgentService/CreateSandbox '{"hostname": "h", "dns": ["nameserver 10.0.0.53\nnameserver 6.6.6.6"]}' \
    >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a dns line holding a newline: INVALID_ARGUMENT, file unchanged" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && ! grep -q 6.6.6.6 "$shared/sandbox/resolv.conf"'
  # shared filesystem storages (virtio-fs, 9p): this host has no such
  # device, so the mount fails cleanly and leaves no mount point behind
  ctl call AgentService/CreateSandbox "{\"storages\": [{\"driver\": \"9p\", \"source\": \"nosuchtag\",
    \"fstype\": \"9p\", \"options\": [\"trans=virtio\"], \"mountPoint\": \"$shared/s9p\"}]}" >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a 9p storage of an unknown tag: refused, no mount point left" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && [ ! -e "$shared/s9p" ] && ! grep -q " $shared/s9p " /proc/$agent_pid/mounts'
  ctl call AgentService/CreateSandbox "{\"storages\": [{\"driver\": \"virtio-fs\", \"source\": \"a,b\",
    \"fstype\": \"virtiofs\", \"mountPoint\": \"$shared/svfs\"}]}" >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a virtio-fs tag a,b: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ ! -e "$shared/svfs" ]'
  # kernel modules: only refusals here (a real module would change this
  # host; the VM suite loads one)
  ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "../evil"}]}' >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a module named ../evil: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "dummy", "parameters": ["-r"]}]}' >"$out" 2>&1
  rc=$?
  check "CreateSandbox with a module parameter -r (a modprobe option): INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  if command -v modprobe >/dev/null; then
    ctl call AgentService/CreateSandbox '{"kernelModules": [{"name": "kata_no_such_module"}]}' >"$out" 2>&1
    rc=$?
    check "CreateSandbox with a module that does not exist: an error carrying modprobe's words" "$(cat "$out")" eval \
      '[ $rc -ne 0 ] && grep -q "modprobe exited" "$out" && grep -qi "not found" "$out"'
  else
    skip_env 1 "CreateSandbox with a module that does not exist" "modprobe is missing (kmod)"
  fi
  # AddSwapPath: only refusals here (a valid one would add swap to this
  # host; the VM suite swaps on a file)
  ctl call AgentService/AddSwapPath '{"path": "/etc/passwd"}' >"$out" 2>&1
  rc=$?
  check "AddSwapPath outside the shared dir: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'
  head -c 8192 /dev/zero >"$shared/tiny-swap"
  ctl call AgentService/AddSwapPath "{\"path\": \"$shared/tiny-swap\"}" >"$out" 2>&1
  rc=$?
  check "AddSwapPath on an 8 KiB file: INVALID_ARGUMENT (too small), the file untouched" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && [ -z "$(tr -d "\\0" <"$shared/tiny-swap")" ]'
  ctl call AgentService/AddSwapPath "{\"path\": \"$cf\"}" >"$out" 2>&1
  rc=$?
  check "AddSwapPath on a directory: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  # UpdateEphemeralMounts: a tmpfs storage of 1 MiB grows to 2 MiB (seen
  # from the agent's mount namespace)
  local eph="$shared/eph" tmpfs_bytes
  tmpfs_bytes() { nsenter -t "$agent_pid" -m stat -f -c '%b %S' "$eph" 2>/dev/null | awk '{ printf "%.0f\n", $1 * $2 }'; }
  ctl call AgentService/CreateSandbox "{\"storages\": [{\"driver\": \"ephemeral\", \"source\": \"tmpfs\",
    \"fstype\": \"tmpfs\", \"options\": [\"size=1m\"], \"mountPoint\": \"$eph\"}]}" >"$out" 2>&1
  rc=$?
  check "an ephemeral storage of 1 MiB" "$(cat "$out"; tmpfs_bytes)" eval '[ $rc -eq 0 ] && [ "$(tmpfs_bytes)" = 1048576 ]'
  ctl call AgentService/UpdateEphemeralMounts "{\"storages\": [{\"driver\": \"ephemeral\", \"source\": \"tmpfs\",
    \"fstype\": \"tmpfs\", \"options\": [\"size=2m\", \"fsgid=5\"], \"mountPoint\": \"$eph\"}]}" >"$out" 2>&1
  rc=$?
  check "UpdateEphemeralMounts size=2m: the tmpfs is 2 MiB now" "$(cat "$out"; tmpfs_bytes)" eval \
    '[ $rc -eq 0 ] && [ "$(tmpfs_bytes)" = 2097152 ]'
  ctl call AgentService/UpdateEphemeralMounts "{\"storages\": [{\"driver\": \"ephemeral\",
    \"options\": [\"size=3m\"], \"mountPoint\": \"$cf\"}]}" >"$out" 2>&1
  rc=$?
  check "UpdateEphemeralMounts of a directory that is no ephemeral storage: NOT_FOUND" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  ctl call AgentService/UpdateEphemeralMounts "{\"storages\": [{\"driver\": \"local\", \"mountPoint\": \"$eph\"}]}" \
    >"$out" 2>&1
  rc=$?
  check "UpdateEphemeralMounts of a local storage: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/SetGuestDateTime '{"Sec": 1700000000, "Usec": 2000000}' >"$out" 2>&1
  rc=$?
  check "SetGuestDateTime with 2000000 us: INVALID_ARGUMENT (the clock is not touched)" "$(cat "$out")" \
    eval '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  agent_stop
}

t_guest
