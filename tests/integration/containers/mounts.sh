#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl call/exec: storages and mounts as the
# Kata Go runtime sends them for a pod's volumes. Prints TAP.
#
#   mounts.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# The shared dir of the test agent stands for /run/kata-containers; every
# path below is the runtime's with that prefix.
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 13
suite_requires

out=
create_start() {
  ctl call AgentService/CreateContainer - <"$work/$1.json" >"$out" 2>&1 &&
    ctl call AgentService/StartContainer "{\"containerId\": \"$1\"}" >>"$out" 2>&1
}
remove() { ctl call AgentService/RemoveContainer "{\"containerId\": \"$1\", \"timeout\": 20}" >/dev/null 2>&1; }
xmounts() { cat "/proc/$executor_pid/mountinfo"; }
# The agent runs in a mount namespace of its own: its view of a path.
xpath() { echo "/proc/$executor_pid/root$1"; }

# A pod's volumes: a memory emptyDir (handleEphemeralStorage: an ephemeral
# storage at <sandbox>/ephemeral/<name>, the spec's mount turned into a bind
# of it), a disk emptyDir (handleLocalStorage: a local storage, mode=0777,
# at <shared>/containers/<sandbox id>/<rootfs suffix>/local/<name>) and a
# ConfigMap over virtio-fs (mountSharedDirMounts: a watchable-bind storage
# from the shared file's guest path to <shared>/containers/watchable/<base>),
# all in one CreateContainer; UpdateEphemeralMounts as updateResources sends
# it after every container (prepareEphemeralMounts: remount, size=<mem>M);
# RemoveStaleVirtiofsShareMounts as stopContainer sends it.
t_pod() {
  agent_start mounts || return
  out="$work/mounts.out"
  local b eph="$shared/sandbox/ephemeral/cache" loc="$shared/shared/containers/pod1/rootfs/local/data"
  local cm="$shared/shared/containers/app-5e2f1d-config" w="$shared/shared/containers/watchable/app-5e2f1d-config"
  mkdir -p "$cm/..2024_1" && echo v1 >"$cm/..2024_1/key" && ln -s ..2024_1 "$cm/..data" && ln -s ..data/key "$cm/key"
  echo GUEST-SECRET >"$work/secret" && ln -s "$work/secret" "$cm/out" && mkfifo "$cm/fifo"
  b=$(bundle app sh -c 'exec sleep 1000')
  local st m
  st=$(jq -n --arg eph "$eph" --arg loc "$loc" --arg cm "$cm" --arg w "$w" '[
    {driver: "ephemeral", source: "tmpfs", fstype: "tmpfs", mountPoint: $eph},
    {driver: "local", source: "local", fstype: "local", mountPoint: $loc, options: ["mode=0777"]},
    {driver: "watchable-bind", source: $cm, fstype: "bind", mountPoint: $w, options: ["rbind", "rprivate", "ro"]}]')
  m=$(jq -n --arg eph "$eph" --arg loc "$loc" --arg w "$w" '[
    {destination: "/cache", type: "bind", source: $eph, options: ["rbind", "rprivate", "rw"]},
    {destination: "/data", type: "bind", source: $loc, options: ["rbind", "rprivate", "rw"]},
    {destination: "/etc/config", type: "bind", source: $w, options: ["rbind", "rprivate", "ro"]}]')
  create_request app "$b" "$st" "$m" && create_start app
  rc=$?
  check "CreateContainer with an emptyDir (ephemeral), a local emptyDir and a ConfigMap (watchable-bind), bound from their mount points in the same request" \
    "$(cat "$out"; tail -n 5 "$work/agent.log")" want "$rc" 0
  ctl exec app -- sh -c 'grep -E " /(cache|data|etc/config) " /proc/mounts; echo c >/cache/f && cat /cache/f;
    echo d >/data/g && cat /data/g; stat -c %a /data' >"$work/app.out" 2>&1
  check "the container sees a tmpfs at /cache and writes to /cache and /data (mode 777)" "$(cat "$work/app.out")" eval \
    'grep -q " /cache tmpfs " "$work/app.out" && grep -qx c "$work/app.out" && grep -qx d "$work/app.out" &&
     grep -qx 777 "$work/app.out" && [ "$(cat "$loc/g")" = d ]'
  ctl exec app -- cat /etc/config/key >"$work/key.out" 2>&1
  check "the ConfigMap's key reads v1 in the container" "$(cat "$work/key.out")" want "$(cat "$work/key.out")" v1
  # The kubelet's atomic update: a new data dir, ..data renamed over.
  mkdir "$cm/..2024_2" && echo value2 >"$cm/..2024_2/key" && ln -s ..2024_2 "$cm/..tmp" && mv -T "$cm/..tmp" "$cm/..data" &&
    rm -rf "$cm/..2024_1"
  local seen=
  for _ in $(seq 1 100); do
    seen=$(ctl exec app -- cat /etc/config/key 2>&1)
    [ "$seen" = value2 ] && break
    sleep 0.2
  done
  check "a change in the ConfigMap's source shows in the container (polled every 2 s)" "last read: $seen" \
    want "$seen" value2
  ctl exec app -- sh -c 'cat /etc/config/out; ls -a /etc/config' >"$work/leak.out" 2>&1
  check "a symlink in the source pointing out of it is copied as a link, its target never read; a FIFO is not copied" \
    "$(cat "$work/leak.out"; ls -la "$(xpath "$w")")" eval \
    '! grep -q GUEST-SECRET "$work/leak.out" && [ -f "$(xpath "$w")/key" ] &&
     ! grep -rqs GUEST-SECRET "$(xpath "$w")" && [ -L "$(xpath "$w")/out" ] && ! grep -qx fifo "$work/leak.out"'
  ctl exec app -- sh -c 'echo x > /etc/config/new' >"$work/ro.out" 2>&1
  rc=$?
  check "the ConfigMap is read-only in the container" "$(cat "$work/ro.out")" eval '[ $rc -ne 0 ]'

  ctl call AgentService/UpdateEphemeralMounts "$(jq -nc --arg eph "$eph" '{storages: [{driver: "ephemeral",
    source: "tmpfs", fstype: "tmpfs", mountPoint: $eph, options: ["remount", "size=64M"]}]}')" >"$out" 2>&1
  rc=$?
  ctl exec app -- df -k /cache >"$work/df.out" 2>&1
  check "UpdateEphemeralMounts with remount,size=64M: OK, the container's /cache is 64 MiB" \
    "$(cat "$out" "$work/df.out")" eval '[ $rc -eq 0 ] && grep -q " 65536 " "$work/df.out"'

  ctl call AgentService/RemoveStaleVirtiofsShareMounts '{}' >"$out" 2>&1
  rc=$?
  check "RemoveStaleVirtiofsShareMounts: OK" "$(cat "$out")" want "$rc" 0

  ctl call AgentService/SignalProcess '{"containerId": "app", "execId": "app", "signal": 9}' >/dev/null 2>&1
  ctl call AgentService/WaitProcess '{"containerId": "app", "execId": "app"}' >/dev/null 2>&1
  remove app
  ctl call AgentService/RemoveStaleVirtiofsShareMounts '{}' >"$out" 2>&1
  check "after RemoveContainer: no storage mount left (ephemeral, watchable tmpfs), their directories gone" \
    "$(xmounts | grep "$shared"; ls -la "$shared/sandbox/ephemeral" "$shared/shared/containers/watchable" 2>&1)" eval \
    '! grep -q "$shared/s" "/proc/$executor_pid/mountinfo" && [ -d "$(xpath "$shared")" ] && [ ! -e "$(xpath "$eph")" ] &&
     [ -d "$(xpath "$shared/shared/containers")" ] && [ ! -e "$(xpath "$w")" ] && [ -d "$(xpath "$cm/..2024_2")" ]'
  t_hugepages
  t_refused
  agent_stop
}

# A hugepages emptyDir as handleHugepages sends it: an ephemeral storage of
# fstype hugetlbfs, source "nodev", one option "pagesize=<bytes>,size=<limit
# bytes>", bound into the container. Stand-alone this changes the host's
# pool: the test puts nr_hugepages back.
t_hugepages() {
  local pool=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
  if ! grep -qw hugetlbfs /proc/filesystems || [ ! -w "$pool" ]; then
    skip 2 "hugetlbfs ephemeral storage" "no hugetlbfs or no 2 MiB huge pages in this kernel"
    return
  fi
  local before hp="$shared/sandbox/ephemeral/hp" b st m
  before=$(cat "$pool")
  b=$(bundle hp sh -c 'exec sleep 1000')
  st=$(jq -n --arg hp "$hp" '[{driver: "ephemeral", source: "nodev", fstype: "hugetlbfs", mountPoint: $hp,
    options: ["pagesize=2097152,size=4194304"]}]')
  m=$(jq -n --arg hp "$hp" '[{destination: "/hugepages", type: "bind", source: $hp, options: ["rbind"]}]')
  create_request hp "$b" "$st" "$m" && create_start hp
  rc=$?
  if [ $rc -ne 0 ] && grep -q RESOURCE_EXHAUSTED "$out"; then
    skip 2 "hugetlbfs ephemeral storage" "this machine could not allocate 2 huge pages of 2 MiB"
    echo "$before" >"$pool"
    return
  fi
  ctl exec hp -- grep " /hugepages " /proc/mounts >"$work/hp.out" 2>&1
  check "hugetlbfs ephemeral storage: the container sees a hugetlbfs of 2 MiB pages at /hugepages, the pool holds 2 pages or more" \
    "$(cat "$out" "$work/hp.out"; cat "$pool")" eval \
    '[ $rc -eq 0 ] && grep -q "hugetlbfs.*pagesize=2M" "$work/hp.out" && [ "$(cat "$pool")" -ge 2 ]'
  ctl call AgentService/SignalProcess '{"containerId": "hp", "execId": "hp", "signal": 9}' >/dev/null 2>&1
  remove hp
  echo "$before" >"$pool"
  check "hugetlbfs storage removed with its container" "$(xmounts | grep "$hp")" eval '! grep -q "$hp" "/proc/$executor_pid/mountinfo"'
}

# What the runtime never sends as a bind source, refused with
# PERMISSION_DENIED before anything is created; the agent keeps serving.
t_refused() {
  local b m
  b=$(bundle bad sh -c 'exit 0')
  m='[{"destination": "/guest", "type": "bind", "source": "/etc", "options": ["rbind"]}]'
  create_request bad "$b" '[]' "$m" && create_start bad
  rc=$?
  check "a bind of a guest path outside the shared dir, /dev and /sys: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out"'
  m='[{"destination": "/null2", "type": "bind", "source": "/dev/null", "options": ["bind"]},
      {"destination": "/kern", "type": "bind", "source": "/sys/kernel", "options": ["rbind", "rw"]}]'
  b=$(bundle devsys sh -c 'echo hi >/null2 && echo null-ok; echo x >/kern/uevent_helper || echo sys-ro')
  jqset "$b" '.mounts += $m' --argjson m "$m"
  run_ devsys "$b"
  check "a bind of /dev/null works (devices the runtime leaves), /sys/kernel is read-only even with rw" "$(diag devsys)" eval \
    'grep -qx null-ok "$work/devsys.out" && grep -qx sys-ro "$work/devsys.out"'
}

t_pod
