#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attacks on the container's mounts through the API (issue 10, item 3 and
# the cgroup v1 mount): a hostile host request tries to give a container
# the guest's files. Each is refused or harmless, nothing of the guest is
# visible, no mount is left, the agent keeps serving. Prints TAP.
#
#   mounts.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 11
suite_requires

out=
# try ID BUNDLE MOUNTS: CreateContainer with these extra mounts; $rc, $out.
try() {
  out="$work/$1.out"
  create_request "$1" "$2" '[]' "$3" || { rc=99; return; }
  ctl call AgentService/CreateContainer - <"$work/$1.json" >"$out" 2>&1
  rc=$?
  [ $rc -eq 0 ] && ctl call AgentService/RemoveContainer "{\"containerId\": \"$1\", \"timeout\": 20}" >/dev/null 2>&1
  return 0
}
refused() { # refused STATUS: the last try failed with STATUS
  [ "$rc" -ne 0 ] && grep -q "$1" "$out"
}
guest_seen() { grep -Eqx 'passwd|hostname|shadow|os-release' "$1"; }

t_attacks() {
  agent_start secmounts || return
  local mounts_before b
  mounts_before=$(wc -l <"/proc/$executor_pid/mountinfo")

  # 1. A plain directory <rootfs>/proc/self/root (as CopyFile makes it) as
  # a bind source, placed after the container's proc mount: resolved once
  # before any container mount, it stays that plain directory.
  b=$(bundle psr sh -c 'ls -a /host')
  mkdir -p "$b/rootfs/proc/self/root" && touch "$b/rootfs/proc/self/root/marker"
  jqset "$b" '.mounts += [{"destination": "/host", "type": "bind", "source": $s, "options": ["rbind"]}]' \
    --arg s "$b/rootfs/proc/self/root"
  run_ psr "$b"
  check "bind of <rootfs>/proc/self/root after the proc mount: the plain directory, not the guest's /" \
    "$(diag psr)" eval 'grep -qx marker "$work/psr.out" && ! grep -qx etc "$work/psr.out" && ! grep -qx usr "$work/psr.out"'

  # 2. The source swapped between a directory and a symlink to /etc while
  # containers are created: each one is refused or sees the directory.
  mkdir -p "$shared/sw"
  ( cd "$shared/sw" || exit
    while :; do
      rm -rf t; mkdir t; touch t/safe; sleep 0.005; rm -rf t; ln -s /etc t; sleep 0.005
    done ) &
  local flipper=$! leaks=0 seen_safe=0 refusals=0 i
  b=$(bundle swap sh -c 'ls /mnt')
  jqset "$b" '.mounts += [{"destination": "/mnt", "type": "bind", "source": $s, "options": ["rbind"]}]' \
    --arg s "$shared/sw/t"
  for i in $(seq 1 20); do
    run_ swap "$b"
    if guest_seen "$work/swap.out"; then leaks=$((leaks + 1)); cp "$work/swap.out" "$work/leak.out"
    elif grep -qx safe "$work/swap.out"; then seen_safe=$((seen_safe + 1))
    else refusals=$((refusals + 1)); fi
  done
  kill "$flipper" 2>/dev/null
  wait "$flipper" 2>/dev/null
  check "a bind source swapped with a symlink to /etc, 20 creates: never the guest's /etc ($seen_safe saw the directory, $refusals refused)" \
    "$(cat "$work/leak.out" 2>/dev/null; tail -n 5 "$work/swap.err")" want "$leaks" 0

  b=$(bundle plain sh -c 'exit 0')
  # 3, 4. Overlays: guest paths in lowerdir/upperdir/workdir, or not.
  try ov1 "$b" '[{"destination": "/ov", "type": "overlay", "source": "overlay",
    "options": ["lowerdir=/root:/etc", "upperdir=/tmp/u", "workdir=/tmp/w"]}]'
  check "overlay with lowerdir=/root:/etc: PERMISSION_DENIED" "$(cat "$out")" refused PERMISSION_DENIED
  mkdir -p "$shared/ov/l" "$shared/ov/u" "$shared/ov/w"
  try ov2 "$b" "$(jq -nc --arg d "$shared/ov" '[{destination: "/ov", type: "overlay", source: "overlay",
    options: ["lowerdir=\($d)/l", "upperdir=\($d)/u", "workdir=\($d)/w"]}]')"
  check "overlay even with its directories in the shared dir: PERMISSION_DENIED (overlays come as storages)" \
    "$(cat "$out")" refused PERMISSION_DENIED
  # 5. The guest's root.
  try root "$b" '[{"destination": "/g", "type": "bind", "source": "/", "options": ["rbind"]}]'
  check "bind of /: PERMISSION_DENIED" "$(cat "$out")" refused PERMISSION_DENIED
  # 6. ".." out of the shared dir.
  try dots "$b" "$(jq -nc --arg s "$shared/../../../../etc" '[{destination: "/g", type: "bind", source: $s, options: ["rbind"]}]')"
  check "bind source with \"..\" components: INVALID_ARGUMENT" "$(cat "$out")" refused INVALID_ARGUMENT
  # 7. A filesystem a container has no business mounting.
  try ext4 "$b" '[{"destination": "/disk", "type": "ext4", "source": "/dev/vda", "options": ["rw"]}]'
  check "a mount of type ext4 from a guest disk: PERMISSION_DENIED" "$(cat "$out")" refused PERMISSION_DENIED
  # 8, 9. /proc magic links, and a /dev symlink that leads into /proc.
  try pid1 "$b" '[{"destination": "/g", "type": "bind", "source": "/proc/1/root", "options": ["rbind"]}]'
  check "bind of /proc/1/root: PERMISSION_DENIED" "$(cat "$out")" refused PERMISSION_DENIED
  try stdin "$b" '[{"destination": "/g", "type": "bind", "source": "/dev/stdin", "options": ["bind"]}]'
  check "bind of /dev/stdin (a symlink out of /dev into /proc): PERMISSION_DENIED" "$(cat "$out")" \
    refused PERMISSION_DENIED

  # 10. cgroup v1: only the container's own cgroups, read-only.
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || [ ! -d /sys/fs/cgroup/memory ]; then
    skip 1 "cgroup mount on v1" "this machine's cgroups are not v1 (the VM suite covers v2)"
  else
    b=$(bundle cgv1 sh -c 'ls /sys/fs/cgroup; echo procs=$(wc -l </sys/fs/cgroup/memory/cgroup.procs);
      ls /sys/fs/cgroup/memory | grep -c "^kata-test" ; echo 0 >/sys/fs/cgroup/memory/cgroup.procs || echo ro')
    jqset "$b" '.mounts += [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}]'
    run_ cgv1 "$b"
    local procs
    procs=$(sed -n 's/^procs=//p' "$work/cgv1.out")
    check "cgroup mount on v1: the container's own cgroup ($procs processes), no sibling, read-only, no cgroup2 root" \
      "$(diag cgv1)" eval '[ -n "$procs" ] && [ "$procs" -le 4 ] && grep -qx memory "$work/cgv1.out" &&
        grep -qx 0 "$work/cgv1.out" && grep -qx ro "$work/cgv1.out" && ! grep -qx unified "$work/cgv1.out"'
  fi

  # 11. Nothing left, still serving.
  agent_mounts() { wc -l <"/proc/$executor_pid/mountinfo"; }
  local mounts_after
  mounts_after=$(settle "$mounts_before" agent_mounts)
  ctl check >"$work/check.out" 2>&1
  rc=$?
  check "no mount left in the agent ($mounts_before before, $mounts_after after), the agent still serves" \
    "$(cat "$work/check.out"; grep "$shared" "/proc/$executor_pid/mountinfo")" eval \
    '[ $rc -eq 0 ] && [ "$mounts_after" = "$mounts_before" ]'
  agent_stop
}

t_attacks
