#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The confidential guest's executor side with the real agent stand-alone
# and the test CDH (tests/cdh/test-cdh) launched as its
# confidential-data-hub component: a pod pulled in the guest
# (image_guest_pull storages), sealed environment values (init and exec),
# a CDH that never answers, and the attacks on what the executor does with
# those requests (agentd/executor/coco/guest_pull.c, sealed_env.c, cdh_job.c).
# Requests are shaped as the Go runtime sends them: kata_agent.go
# handleImageGuestPullBlockVolume (driver "image_guest_pull", source = the
# image reference or "pause" for the sandbox, fstype "overlay", driver
# option image_guest_pull=<{"metadata": annotations}>), fs_share_linux.go
# shareRootFilesystemWithVirtualVolume / forceGuestPull (mount point and
# Root.Path /run/kata-containers/<id>/rootfs). Prints TAP.
#
#   coco.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#   (environment: tests/guestcomp/lib.sh, and MAKE_OCI_IMAGE)
. "$(dirname "$0")/lib.sh" "$@"
plan 71
gc_requires
if [ -z "${TEST_CDH:-}" ] || [ -z "${MAKE_OCI_IMAGE:-}" ]; then
  skip 70 "the confidential guest" "TEST_CDH or MAKE_OCI_IMAGE not set"
  exit 0
fi

REF=registry.test/busybox:1
EVIL=registry.test/escape:1
KR=/run/kata-containers # the runtime's guest paths; /run is $work/run in the agent's namespace

# A sealed value the test CDH unseals: "sealed." + base64("test:" + plaintext).
seal() { printf 'sealed.%s' "$(printf 'test:%s' "$1" | base64 -w0)"; }

# coco_start NAME CDH-OPTIONS [KERNEL OPTIONS]: the agent with the test CDH as
# its confidential-data-hub (a wrapper passing the options) and a pause
# bundle whose process is busybox (args[0] copied, as upstream).
coco_start() {
  gc_prepare "$1"
  mkdir -p "$work/run/kata-containers" "$work/pause/rootfs/bin"
  [ -d "$top/image" ] || "$MAKE_OCI_IMAGE" "$top/image" "$REF" >/dev/null
  if [ ! -d "$top/evil" ]; then
    mkdir -p "$top/evil-layer"
    ln -s ../../../../../.. "$top/evil-layer/escape"
    ln -s /etc "$top/evil-layer/hostetc"
    EXTRA_LAYER=$top/evil-layer "$MAKE_OCI_IMAGE" "$top/evil" "$EVIL" >/dev/null
  fi
  cp /bin/busybox "$work/pause/rootfs/bin/busybox"
  jq -n '{ociVersion: "1.0.2", process: {args: ["/bin/busybox", "sleep", "1000000"],
    env: ["PATH=/bin", "PAUSE=1"], cwd: "/", user: {uid: 0, gid: 0}}, root: {path: "rootfs"}}' \
    >"$work/pause/config.json"
  printf '#!/bin/sh\nexec %s --image %s=%s --image %s=%s --mount-log %s %s "$@"\n' "$TEST_CDH" \
    "$REF" "$top/image" "$EVIL" "$top/evil" "$work/mounts.log" "$2" >"$work/bin/confidential-data-hub"
  chmod 0755 "$work/bin/confidential-data-hub"
  gc_start "agent.guest_components_procs=confidential-data-hub ${3:-}" \
    --shared-dir "$KR" --pause-bundle "$work/pause"
}

# request ID ARGS-JSON STORAGES-JSON [ENV-JSON] [ANNOTATIONS-JSON]: $work/ID.json, a
# CreateContainerRequest as kata_agent.go createContainer builds it, Root.Path
# the runtime's guest pull path.
request() {
  local b
  b=$(bundle "$1" true) && ctl run "$b" --dry-run >"$work/$1.dry" 2>"$work/$1.err" || return 1
  jq --arg id "$1" --argjson args "$2" --argjson st "$3" --argjson env "${4:-[]}" \
    --argjson ann "${5:-{\}}" --arg root "$KR/$1/rootfs" \
    '.containerId = $id | .execId = $id | .storages = $st | .OCI.Root.Path = $root |
     .OCI.Process.Args = $args | .OCI.Process.Env += $env | .OCI.Annotations = $ann' \
    "$work/$1.dry" >"$work/$1.json"
}
# pull_storage ID SOURCE TYPE [MOUNT POINT]: the storage handleImageGuestPullBlockVolume makes.
pull_storage() {
  local md
  md=$(jq -nc --arg t "$3" --arg ref "$2" '{metadata: {"io.kubernetes.cri.container-type": $t,
    "io.kubernetes.cri.image-name": $ref, "io.kubernetes.cri.sandbox-id": "pod1"}}')
  jq -nc --arg src "$2" --arg opt "image_guest_pull=$md" --arg mp "${4:-$KR/$1/rootfs}" \
    '[{driver: "image_guest_pull", driverOptions: [$opt], source: $src, fstype: "overlay",
       mountPoint: $mp}]'
}
annotations() { jq -nc --arg t "$1" '{"io.kubernetes.cri.container-type": $t, "io.kubernetes.cri.sandbox-id": "pod1"}'; }
create() { ctl call AgentService/CreateContainer - <"$work/$1.json" >"$work/$1.out" 2>&1; }
start() { ctl call AgentService/StartContainer "{\"containerId\": \"$1\"}" >>"$work/$1.out" 2>&1; }
remove() { ctl call AgentService/RemoveContainer "{\"containerId\": \"$1\", \"timeout\": 20}" >/dev/null 2>&1; }
# read_out ID EXEC: one ReadStdout, decoded
read_out() {
  ctl call AgentService/ReadStdout "{\"containerId\": \"$1\", \"execId\": \"$2\", \"len\": 65536}" 2>&1 |
    jq -r '.data // empty' | base64 -d 2>/dev/null
}
read_all() { # read_all ID EXEC [LINES]: stdout until EOF, or until LINES lines came
  local o=
  for _ in $(seq 1 50); do
    local c
    c=$(read_out "$1" "$2") || break
    [ -z "$c" ] && break
    o="$o$c"$'\n'
    [ -n "${3:-}" ] && [ "$(printf '%s' "$o" | wc -l)" -ge "$3" ] && break
  done
  printf '%s' "$o"
}
exec_req() { # exec_req ID EXEC ARGS-JSON ENV-JSON
  jq -nc --arg id "$1" --arg e "$2" --argjson a "$3" --argjson env "$4" \
    '{containerId: $id, execId: $e, process: {Args: $a, Env: $env, Cwd: "/", User: {}}}'
}
workers_now() { # forks of the executor alive now (CDH workers, bundle removers)
  local p n=0
  for p in $(descendants "$agent_pid"); do
    [ "$(ppid_of "$p")" = "$executor_pid" ] && [ "$(comm_of "$p")" = kata-agent-exec ] &&
      [ "$p" != "$spawner_pid" ] && n=$((n + 1))
  done
  echo "$n"
}
workers() { # the forks of the executor left once they had 10 s to end
  # A removed bundle is deleted by a child of the executor after
  # RemoveContainer (or a failed create) has answered (guest_pull.c
  # remove_bundle): it may still be running when a check looks, and on
  # a loaded machine it did (CI). A worker truly left behind is still
  # there after 10 s.
  local n
  for _ in $(seq 1 100); do
    n=$(workers_now)
    [ "$n" = 0 ] && break
    sleep 0.1
  done
  echo "$n"
}
create_failing() { # create_failing ID: a create that should fail; rc set once its bundle is gone
  create "$1"
  rc=$?
  gone "$work/run/kata-containers/$1"
}
gone() { # gone PATH: wait (5 s at most) for an asynchronous removal
  for _ in $(seq 1 50); do
    [ -e "$1" ] || return 0
    sleep 0.1
  done
}
pids() {
  executor_pid=$(child_named "$agent_pid" kata-agent-exec)
  spawner_pid=$(child_named "$executor_pid" kata-agent-exec)
}

# 1. A pod pulled in the guest: the pause container from the guest's pause
#    bundle, the app pulled by the CDH, sealed env values unsealed.
t_pod() {
  if ! coco_start pod ""; then
    fail_rest "the agent did not serve: $(tail -n 5 "$work/agent.log")"
    return 1
  fi
  pids
  request pod1 '["/pause"]' "$(pull_storage pod1 pause sandbox)" '[]' "$(annotations sandbox)"
  create pod1 && start pod1
  rc=$?
  check "pause container (image_guest_pull, source \"pause\", sandbox metadata): created and started" \
    "$(cat "$work/pod1.out"; tail -n 5 "$work/agent.log")" want "$rc" 0
  local kb=$work/run/kata-containers/pod1
  ctl exec pod1 -- /bin/busybox sh -c 'tr "\0" "\n" </proc/1/environ; tr "\0" " " </proc/1/cmdline' >"$work/pe.out" 2>&1
  check "its bundle: the pause bundle's config.json and args[0]; its init runs the pause process" \
    "$(ls -lR "$kb" 2>&1 | head; cat "$work/pe.out")" eval \
    'cmp -s "$kb/config.json" "$work/pause/config.json" && cmp -s "$kb/rootfs/bin/busybox" /bin/busybox &&
     grep -qx PAUSE=1 "$work/pe.out" && grep -q "^/bin/busybox sleep 1000000" "$work/pe.out"'

  local secret=hunter2-$$
  request app '["sh", "-c", "echo $SECRET; cat /etc/test-cdh-upper; ls /var/lower; exec sleep 1000"]' \
    "$(pull_storage app "$REF" container)" "[\"SECRET=$(seal "$secret")\", \"PLAIN=sealed\"]" "$(annotations container)"
  create app && start app
  rc=$?
  check "app container pulled by the CDH (PullImage into $KR/app): created and started" \
    "$(cat "$work/app.out"; tail -n 5 "$work/agent.log")" want "$rc" 0
  read_all app app 3 >"$work/app.stdout"
  check "its init sees the pulled image (both layers, whiteouts applied) and the unsealed SECRET" \
    "$(cat "$work/app.stdout")" test "$(cat "$work/app.stdout" | tr '\n' ' ')" = "$secret upper c "
  check "the CDH unpacked into the container's bundle (config.json by the CDH, rootfs)" \
    "$(ls "$work/run/kata-containers/app" 2>&1)" eval \
    '[ -f "$work/run/kata-containers/app/config.json" ] && [ -x "$work/run/kata-containers/app/rootfs/bin/busybox" ]'

  local s2=exec-secret-$$
  exec_req app e1 '["sh", "-c", "echo $S2"]' "[\"S2=$(seal "$s2")\"]" |
    ctl call AgentService/ExecProcess - >"$work/e1.out" 2>&1
  rc=$?
  local got
  got=$(read_all app e1)
  check "ExecProcess: a sealed env value reaches the exec unsealed" "$(cat "$work/e1.out") out: $got" \
    eval '[ $rc -eq 0 ] && [ "$got" = "$s2" ]'
  check "no plaintext in the agent's log" "$(grep -n -e "$secret" -e "$s2" "$work/agent.log")" \
    eval '! grep -q -e "$secret" -e "$s2" "$work/agent.log"'

  exec_req app e2 '["sh", "-c", "echo started >/tmp/e2"]' '["BAD=sealed.!!not-base64"]' |
    ctl call AgentService/ExecProcess - >"$work/e2.out" 2>&1
  rc=$?
  ctl exec app -- sh -c 'ls /tmp/e2 2>&1' >"$work/e2.ls" 2>&1
  check "an exec whose sealed value cannot be unsealed fails with the CDH's reason and starts nothing" \
    "$(cat "$work/e2.out" "$work/e2.ls")" eval \
    '[ $rc -ne 0 ] && grep -q "env BAD" "$work/e2.out" && grep -q "is not \\\\\"sealed.\\\\\" + base64\|not .*base64" "$work/e2.out" &&
     grep -q "No such file" "$work/e2.ls"'

  request bad '["sh", "-c", "echo started >/dev/stderr; exec sleep 1000"]' "$(pull_storage bad "$REF" container)" '["X=sealed.!!"]'
  create_failing bad
  check "CreateContainer with a value the CDH cannot unseal fails with its reason; nothing left (no monitor, no container, no bundle)" \
    "$(cat "$work/bad.out")" eval \
    '[ $rc -ne 0 ] && grep -q "failed to handle sealed secrets" "$work/bad.out" && grep -q "env X" "$work/bad.out" &&
     ! ctl call AgentService/StartContainer "{\"containerId\": \"bad\"}" >/dev/null 2>&1 &&
     [ "$(pgrep -c -P "$executor_pid" kata-agent-moni)" = 2 ] && [ ! -e "$work/run/kata-containers/bad" ]'

  request utf '["true"]' "$(pull_storage utf "$REF" container)" "[\"U=sealed.$(printf 'test:\377\376' | base64 -w0)\"]"
  create_failing utf
  check "a hostile CDH answer (plaintext not UTF-8): refused, nothing started, its bundle removed" \
    "$(cat "$work/utf.out")" eval \
    '[ $rc -ne 0 ] && grep -q "INVALID_ARGUMENT" "$work/utf.out" && grep -q "not UTF-8" "$work/utf.out" &&
     [ ! -e "$work/run/kata-containers/utf" ]'

  t_attacks
  check "no CDH worker left behind" "$(workers) workers" test "$(workers)" = 0
  remove app
  local renamed=no
  [ -e "$work/run/kata-containers/app" ] || renamed=yes
  gone "$work/run/kata-containers/.removing-app-"*
  check "RemoveContainer: the pulled bundle is renamed at once, then removed by a child of the executor (not in its loop)" \
    "renamed $renamed: $(ls -a "$work/run/kata-containers" 2>&1; grep "bundle removed by" "$work/agent.log")" eval \
    '[ $renamed = yes ] && [ -z "$(ls -d "$work/run/kata-containers/.removing-"* 2>/dev/null)" ] &&
     grep -q "container app: bundle removed by pid" "$work/agent.log"'

  agent_stop
}

# Attacks on the guest pull (a hostile host, or a compromised front-end
# sending the same): the executor refuses before anything is made.
t_attacks() {
  local pulls_before
  pulls_before=$(grep -c 'PullImage' "$work/agent.log")
  request dots '["true"]' "$(pull_storage dots "../../../etc" container)"
  create dots
  rc=$?
  check "an image reference with .. is refused (INVALID_ARGUMENT), no bundle made" "$(cat "$work/dots.out")" eval \
    '[ $rc -ne 0 ] && grep -q "INVALID_ARGUMENT" "$work/dots.out" && grep -q "not an image reference" "$work/dots.out" &&
     [ ! -e "$work/run/kata-containers/dots" ]'
  request abs '["true"]' "$(pull_storage abs "/etc/passwd" container)"
  create abs
  rc=$?
  check "an absolute path as image reference is refused" "$(cat "$work/abs.out")" eval \
    '[ $rc -ne 0 ] && grep -q "not an image reference" "$work/abs.out" && [ ! -e "$work/run/kata-containers/abs" ]'
  request md '["true"]' "$(jq -nc --arg r "$REF" '[{driver: "image_guest_pull", source: $r, fstype: "overlay",
    driverOptions: ["image_guest_pull={\"metadata\": {\"a\": [\"../../x\"]}}"], mountPoint: "/run/kata-containers/md/rootfs"}]')"
  create md
  local r1=$?
  request md2 '["true"]' "$(jq -nc --arg r "$REF" '[{driver: "image_guest_pull", source: $r, fstype: "overlay",
    driverOptions: ["image_guest_pull=/etc/passwd"], mountPoint: "/run/kata-containers/md2/rootfs"}]')"
  create md2
  local r2=$?
  check "metadata that is not a JSON object of strings is refused" "$(cat "$work/md.out" "$work/md2.out")" eval \
    '[ $r1 -ne 0 ] && [ $r2 -ne 0 ] && grep -q "not a string" "$work/md.out" && grep -q "not JSON" "$work/md2.out"'
  request other '["true"]' "$(pull_storage other "$REF" container "$KR/pod1/rootfs")"
  create other
  rc=$?
  check "a mount point naming another container's bundle is refused; that bundle is untouched" \
    "$(cat "$work/other.out")" eval \
    '[ $rc -ne 0 ] && grep -q "must be $KR/other/rootfs" "$work/other.out" &&
     cmp -s "$work/run/kata-containers/pod1/rootfs/bin/busybox" /bin/busybox && [ ! -e "$work/run/kata-containers/other" ]'
  mkdir -p "$work/run/kata-containers/pre/rootfs" && echo keep >"$work/run/kata-containers/pre/rootfs/marker"
  request pre '["true"]' "$(pull_storage pre "$REF" container)"
  create pre
  rc=$?
  check "a bundle directory that exists already is refused (ALREADY_EXISTS) and left as it was" \
    "$(cat "$work/pre.out")" eval \
    '[ $rc -ne 0 ] && grep -q "ALREADY_EXISTS" "$work/pre.out" && grep -qx keep "$work/run/kata-containers/pre/rootfs/marker"'
  check "none of the refused requests reached the CDH" "" \
    test "$(grep -c 'PullImage' "$work/agent.log")" = "$pulls_before"
  # A pulled image whose layers hold symlinks leading out ("escape" ->
  # ../../../../../.., "hostetc" -> /etc): a spec mount through them is
  # resolved inside the rootfs, never in the agent's own root.
  local mark=coco-escape-$$
  request sym '["sh", "-c", "ls -la /escape/ /hostetc; exec sleep 1000"]' "$(pull_storage sym "$EVIL" container)"
  jq --arg d "/escape/$mark" --arg e "/hostetc/$mark" '.OCI.Mounts += [
    {destination: $d, type: "tmpfs", source: "tmpfs", options: ["nosuid"]},
    {destination: $e, type: "tmpfs", source: "tmpfs", options: ["nosuid"]}]' \
    "$work/sym.json" >"$work/sym2.json" && mv "$work/sym2.json" "$work/sym.json"
  create sym && start sym
  rc=$?
  check "an image with symlinks out of its rootfs: spec mounts through them never land outside it" \
    "rc $rc: $(cat "$work/sym.out"; ls -d "/$mark" "/etc/$mark" "/proc/$executor_pid/root/$mark" 2>&1)" eval \
    '[ -L "$work/run/kata-containers/sym/rootfs/escape" ] && [ ! -e "/$mark" ] && [ ! -e "/etc/$mark" ] &&
     [ ! -e "/proc/$executor_pid/root/$mark" ] && [ ! -e "/proc/$executor_pid/root/etc/$mark" ]'
  remove sym
}

# 2. A CDH that never answers: agent.cdh_api_timeout and
#    agent.image_pull_timeout (2 s here) bound the calls, the agent serves
#    other requests meanwhile, nothing is left.
t_never() {
  if ! coco_start never "--never-answer" "agent.cdh_api_timeout=2 agent.image_pull_timeout=2"; then
    fail_rest "the agent did not serve: $(tail -n 5 "$work/agent.log")"
    return 1
  fi
  pids
  request sl '["true"]' '[]' "[\"S=$(seal x)\"]"
  "$mkbundle" "$work/run/kata-containers/shared/sl" true >/dev/null
  jq --arg r "$KR/shared/sl/rootfs" '.OCI.Root.Path = $r' "$work/sl.json" >"$work/sl2.json" && mv "$work/sl2.json" "$work/sl.json"
  create sl &
  local cpid=$!
  sleep 0.5
  local during=
  kill -0 "$cpid" 2>/dev/null && during=waiting
  ctl check >"$work/chk.out" 2>&1 && ctl call AgentService/GetGuestDetails '{}' >>"$work/chk.out" 2>&1 && during="$during served"
  wait "$cpid"
  rc=$?
  check "an UnsealSecret without answer: CreateContainer fails DEADLINE_EXCEEDED (agent.cdh_api_timeout=2)" \
    "$(cat "$work/sl.out")" eval '[ $rc -ne 0 ] && grep -q "DEADLINE_EXCEEDED" "$work/sl.out" && grep -q "UnsealSecret" "$work/sl.out"'
  check "meanwhile the agent answered Check and GetGuestDetails" "$during $(cat "$work/chk.out")" \
    test "$during" = "waiting served"
  request pl '["true"]' "$(pull_storage pl "$REF" container)"
  create pl
  rc=$?
  check "a PullImage without answer fails DEADLINE_EXCEEDED (agent.image_pull_timeout=2); bundle removed, worker gone" \
    "$(cat "$work/pl.out"; echo "workers: $(workers)")" eval \
    '[ $rc -ne 0 ] && grep -q "DEADLINE_EXCEEDED" "$work/pl.out" && grep -q "PullImage" "$work/pl.out" &&
     [ ! -e "$work/run/kata-containers/pl" ] && [ "$(workers)" = 0 ]'
  agent_stop
}

# plain_request ID ARGS-JSON [ENV-JSON]: $work/ID.json for a busybox bundle
# below the share (not pulled), Root.Path the runtime's for a shared rootfs.
plain_request() {
  request "$1" "$2" '[]' "${3:-[]}" || return 1
  "$mkbundle" "$work/run/kata-containers/shared/$1" true >/dev/null
  jq --arg r "$KR/shared/$1/rootfs" '.OCI.Root.Path = $r' "$work/$1.json" >"$work/$1.j" && mv "$work/$1.j" "$work/$1.json"
}
# add_json ID FILTER [jq args]: edit $work/ID.json
add_json() {
  local id=$1 f=$2
  shift 2
  jq "$@" "$f" "$work/$id.json" >"$work/$id.j" && mv "$work/$id.j" "$work/$id.json"
}
# secure_storage SOURCE MOUNT-POINT [DRIVER] [OPTIONS-JSON]: a block emptyDir as
# kata_agent.go handleDeviceBlockVolume sends it with EncryptionKey
# "ephemeral" and BlockDeviceCreateFs (genpolicy's emptydir test requests:
# driver_options ["encryption_key=ephemeral", "create_filesystem"], fstype
# ext4, shared); the disk on virtio-mmio, as handleBlockVolume names it.
secure_storage() {
  jq -nc --arg src "$1" --arg mp "$2" --arg d "${3:-mmioblk}" --argjson o "${4:-[\"encryption_key=ephemeral\", \"create_filesystem\"]}" \
    '{driver: $d, driverOptions: $o, source: $src, fstype: "ext4", mountPoint: $mp, options: [], shared: true}'
}
mounts_of() { grep -c " $1 " "/proc/$executor_pid/mountinfo"; }

# A disk for the executor to find: a loop device announced in a fake
# sysfs as the virtio-mmio disk "vdcoco", its node in a /dev of the agent's
# own mount namespace (tmpfs, the host's entries bound in). More disks
# announced the same way (fake_disk_add NAME MAJOR:MINOR, before
# coco_start): the attacks' "vdroot" (the number of the agent's own root
# filesystem), "vdbusy" (a loop device mounted on the host), "vdsmall" (a
# disk too small for mkfs.ext4).
fake_disk() {
  truncate -s 4M "$top/disk.img"
  loopdev=$(losetup -f --show "$top/disk.img" 2>/dev/null) || return 1
  disk_rdev=$(rdev_of "$loopdev") || return 1
  cat >"$top/ns-setup.sh" <<EOS
f=$top/fake
rm -rf \$f && mkdir -p \$f/cb \$f/plat \$f/hostdev
mount --bind \$f/cb /sys/class/block && mount --bind \$f/plat /sys/devices/platform &&
mount --rbind /dev \$f/hostdev && mount -t tmpfs -o mode=0755 coco-dev /dev || exit 1
for e in \$f/hostdev/* \$f/hostdev/.[!.]*; do
  [ -e "\$e" ] || [ -L "\$e" ] || continue
  n=\${e##*/}
  if [ -L "\$e" ]; then cp -P "\$e" "/dev/\$n"
  elif [ -d "\$e" ]; then mkdir "/dev/\$n" && mount --rbind "\$e" "/dev/\$n"
  else touch "/dev/\$n" && mount --bind "\$e" "/dev/\$n"; fi
done
EOS
  fake_n=9
  fake_disk_add vdcoco "$disk_rdev"
}
rdev_of() { # rdev_of NODE: major:minor in decimal
  local rd
  rd=$(stat -c '%t:%T' "$1") || return 1
  echo "$((16#${rd%:*})):$((16#${rd#*:}))"
}
fake_disk_add() { # fake_disk_add NAME MAJOR:MINOR
  local d="\$f/plat/virtio-mmio.$fake_n/virtio$fake_n/block/$1"
  cat >>"$top/ns-setup.sh" <<EOS
mkdir -p $d && echo $2 >$d/dev && ln -sfn ../../devices/platform/virtio-mmio.$fake_n/virtio$fake_n/block/$1 \$f/cb/$1
mknod /dev/$1 b ${2%:*} ${2#*:}
EOS
  fake_n=$((fake_n + 1))
}
# fake_attack_disks: vdroot, vdbusy (its mount on the host at
# $top/busy-mnt, a file "marker" in it), vdsmall (16 KiB); loopbusy,
# loopsmall. Unset when losetup or mkfs is missing (return 1).
fake_attack_disks() {
  local rd
  rd=$(stat -c '%d' /) || return 1
  local maj=$((rd >> 8 & 0xfff)) min=$((rd & 0xff | (rd >> 12 & 0xfff00)))
  fake_disk_add vdroot "$maj:$min"
  # Some machines forbid opening their root disk even to root (a device
  # cgroup): the probe then refuses it before the executor's own check.
  root_opens=no
  rm -f "$top/rootnode"
  mknod "$top/rootnode" b "$maj" "$min" 2>/dev/null && head -c 512 "$top/rootnode" >/dev/null 2>&1 && root_opens=yes
  rm -f "$top/rootnode"
  truncate -s 4M "$top/busy.img" && truncate -s 16K "$top/small.img" || return 1
  mkfs.ext4 -q -F "$top/busy.img" >/dev/null 2>&1 || return 1
  loopbusy=$(losetup -f --show "$top/busy.img" 2>/dev/null) || return 1
  loopsmall=$(losetup -f --show "$top/small.img" 2>/dev/null) || return 1
  mkdir -p "$top/busy-mnt" && mount "$loopbusy" "$top/busy-mnt" && echo keep >"$top/busy-mnt/marker" || return 1
  fake_disk_add vdbusy "$(rdev_of "$loopbusy")"
  fake_disk_add vdsmall "$(rdev_of "$loopsmall")"
}
fake_disks_free() {
  [ -n "${loopbusy:-}" ] && { umount "$top/busy-mnt" 2>/dev/null; losetup -d "$loopbusy" 2>/dev/null; }
  [ -n "${loopsmall:-}" ] && losetup -d "$loopsmall" 2>/dev/null
  [ -n "${loopdev:-}" ] && losetup -d "$loopdev" 2>/dev/null
  [ -n "${loopslow:-}" ] && losetup -d "$loopslow" 2>/dev/null
  loopbusy= loopsmall= loopdev= loopslow=
}

# coco_start_disks NAME CDH-OPTIONS [KERNEL OPTIONS]: coco_start in a
# namespace where the fake disks are announced; fails the rest (and frees
# the disks) when the agent does not serve.
coco_start_disks() {
  export GC_NS_SETUP=". $top/ns-setup.sh"
  if ! coco_start "$@"; then
    unset GC_NS_SETUP
    fake_disks_free
    fail_rest "the agent did not serve: $(tail -n 5 "$work/agent.log")"
    return 1
  fi
  unset GC_NS_SETUP
}

# disk_section COUNT WHAT NAME CDH-OPTIONS [KERNEL OPTIONS]: the fake disk
# and the agent (coco_start_disks) for a section of COUNT checks, and its
# pids; 1 when the section cannot go on (its checks skipped without a loop
# device, or failed when the agent does not serve).
disk_section() {
  if ! fake_disk; then
    skip "$1" "$2" "no loop device (losetup)"
    return 1
  fi
  coco_start_disks "${@:3}" || return 1
  pids
}

# 3. Encrypted block storages (SecureMount) and sealed files in volumes.
t_secure() {
  disk_section 9 "encrypted storage and sealed files" secure "--secure-mount-tmpfs" "agent.secure_storage_integrity=false agent.hotplug_timeout=1" || return 0
  local sp=$KR/sandbox/storage mp=$KR/sandbox/storage/MDAvMDA=
  plain_request enc '["sh", "-c", "grep \" /data \" /proc/self/mountinfo; echo kept >/data/f && cat /data/f; exec sleep 1000"]'
  add_json enc '.storages = [$s] | .OCI.Mounts += [{destination: "/data", source: $mp, type: "bind", options: ["rbind", "rw"]}]' \
    --argjson s "$(secure_storage /dev/vdcoco "$mp")" --arg mp "$mp"
  create enc && start enc
  rc=$?
  read_all enc enc 2 >"$work/enc.stdout"
  check "an encrypted block emptyDir: mounted by the CDH's SecureMount, the container writes to that mount" \
    "rc $rc: $(cat "$work/enc.out" "$work/enc.stdout"; tail -n 5 "$work/agent.log")" eval \
    '[ $rc -eq 0 ] && grep -q "test-cdh-secure" "$work/enc.stdout" && grep -qx kept "$work/enc.stdout"'
  jq -nc --arg dev "$disk_rdev" --arg mp "$mp" '{volume_type: "block-device", options: {deviceId: $dev,
    sourceType: "empty", targetType: "fileSystem", filesystemType: "ext4",
    mkfsOpts: "-O ^has_journal -m 0 -i 163840 -I 128", encryptionType: "luks2", dataIntegrity: "false"},
    flags: [], mount_point: $mp}' | jq -S . >"$work/want.json"
  head -n 1 "$work/mounts.log" 2>/dev/null | jq -S . >"$work/got.json" 2>&1
  check "SecureMount's arguments as upstream's cdh_secure_mount (deviceId the announced disk's numbers, dataIntegrity from agent.secure_storage_integrity=false)" \
    "$(diff "$work/want.json" "$work/got.json")" eval \
    'cmp -s "$work/want.json" "$work/got.json" && [ "$(wc -l <"$work/mounts.log")" = 1 ]'

  # Attacks: a mount point outside the allowed root, through a symlink, or
  # a mount point already; a device path of the host's choosing; the
  # option without create_filesystem (upstream's message). None reaches the CDH.
  mkdir -p "$work/run/kata-containers/sandbox/storage" "$work/outside"
  ln -sfn "$work/outside" "$work/run/kata-containers/sandbox/storage/link"
  local n=0 bad=
  for a in "/dev/vdcoco|/etc/coco-secure|mmioblk|" "/dev/vdcoco|$sp/../../../etc/coco-secure|mmioblk|" \
    "/dev/vdcoco|$sp/link/x|mmioblk|" "/dev/vdcoco|$KR/shared|mmioblk|" "/dev/vda|$sp/MDEvMDE=|blk|" \
    "/dev/vdnone|$sp/MDIvMDI=|mmioblk|" "/dev/vdcoco|$sp/MDMvMDM=|mmioblk|[\"encryption_key=ephemeral\"]"; do
    IFS='|' read -r src m drv opts <<<"$a"
    n=$((n + 1))
    plain_request "att$n" '["true"]'
    add_json "att$n" '.storages = [$s]' --argjson s "$(secure_storage "$src" "$m" "$drv" "${opts:-}")"
    create "att$n" && bad="$bad att$n($a)"
  done
  check "attacks refused: mount point outside, via .., via a symlink, over the shared dir (not empty); a host-chosen /dev path; an absent disk (hotplug timeout); the option without create_filesystem" \
    "accepted:$bad $(cat "$work"/att*.out)" eval \
    '[ -z "$bad" ] && grep -q "outside" "$work/att1.out" && grep -q "symlink" "$work/att3.out" &&
     grep -q "not an empty directory" "$work/att4.out" &&
     grep -q "PERMISSION_DENIED" "$work/att5.out" && grep -q "waiting for mmioblk device /dev/vdnone" "$work/att6.out" &&
     grep -q "encryption_key=ephemeral requires create_filesystem for block storage" "$work/att7.out" &&
     [ ! -e /etc/coco-secure ] && [ -z "$(ls -A "$work/outside")" ]'
  check "none of them reached the CDH" "$(cat "$work/mounts.log")" test "$(wc -l <"$work/mounts.log")" = 1

  remove enc
  check "RemoveContainer: the CDH's mount detached, the mount point made for it removed" \
    "$(grep MDAvMDA "/proc/$executor_pid/mountinfo")" eval \
    '[ "$(mounts_of "$mp")" = 0 ] && [ ! -e "$work/run/kata-containers/sandbox/storage/MDAvMDA=" ]'

  # Sealed files: a secret volume as the runtime's CopyFile lays the
  # kubelet's atomic writer out below shared/containers.
  local vol=$work/run/kata-containers/shared/containers/sf-5063be11b6800f96-sealed-target
  local ts=..2024_09_30_02_55_58.2237819815 secret=file-secret-$$
  mkdir -p "$vol/$ts"
  seal "$secret" >"$vol/$ts/secret"
  echo plain >"$vol/$ts/plain"
  ln -s "$ts" "$vol/..data" && ln -s ..data/secret "$vol/secret" && ln -s ..data/plain "$vol/plain"
  seal "outside-$$" >"$work/run/kata-containers/shared/outside-secret"
  ln -s ../../outside-secret "$vol/escape"
  ln -s /run/kata-containers/shared/outside-secret "$vol/abs"
  plain_request sf '["sh", "-c", "cat /sealed/secret /sealed/plain; exec sleep 1000"]'
  add_json sf '.OCI.Mounts += [{destination: "/sealed", source: $v, type: "bind", options: ["rbind", "ro"]}]' \
    --arg v "$KR/shared/containers/${vol##*/}"
  create sf && start sf
  rc=$?
  # cat writes the two files in two writes: on a loaded machine they may
  # come in two reads; join them until the second one's text came.
  local o= c
  for _ in $(seq 1 50); do
    c=$(read_out sf sf) || break
    o="$o$c"
    case "$o" in *plain*) break ;; esac
  done
  printf '%s' "$o" >"$work/sf.stdout"
  check "sealed files in a volume (kubelet's layout): the container reads the plaintext through the same names" \
    "rc $rc: $(cat "$work/sf.out" "$work/sf.stdout"; ls -la "$vol")" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$work/sf.stdout")" = "${secret}plain" ] &&
     [ "$(readlink "$vol/secret")" = "$ts/secret.unsealed" ] && [ -f "$vol/$ts/secret.unsealed" ]'
  check "a sealed file reached through a symlink leading out of the volume is neither read nor written beside" \
    "$(ls -la "$work/run/kata-containers/shared"; grep -c "leads out of the volume" "$work/agent.log")" eval \
    '[ ! -e "$work/run/kata-containers/shared/outside-secret.unsealed" ] &&
     grep -q "^sealed\." "$work/run/kata-containers/shared/outside-secret" &&
     [ "$(grep -c "leads out of the volume" "$work/agent.log")" -ge 2 ]'
  check "no plaintext of a sealed file in the agent's log" "" eval '! grep -q "$secret" "$work/agent.log"'
  local bvol=$work/run/kata-containers/shared/containers/sfbad-1-target
  mkdir -p "$bvol" && echo "sealed.!!" >"$bvol/secret"
  plain_request sfbad '["sh", "-c", "echo started; exec sleep 1000"]'
  add_json sfbad '.OCI.Mounts += [{destination: "/sealed", source: $v, type: "bind", options: ["rbind"]}]' \
    --arg v "$KR/shared/containers/sfbad-1-target"
  create sfbad
  rc=$?
  check "a sealed file the CDH cannot unseal fails CreateContainer with its reason; nothing started" \
    "$(cat "$work/sfbad.out")" eval \
    '[ $rc -ne 0 ] && grep -q "failed to handle sealed secrets" "$work/sfbad.out" && grep -q "file .*secret" "$work/sfbad.out" &&
     ! ctl call AgentService/StartContainer "{\"containerId\": \"sfbad\"}" >/dev/null 2>&1'
  remove sf
  agent_stop
  losetup -d "$loopdev" 2>/dev/null
}

# 4. A SecureMount that fails, hostile CDH answers, no CDH at all.
t_cdh_failures() {
  if fake_disk; then
    export GC_NS_SETUP=". $top/ns-setup.sh"
    if coco_start sfail "--fail-secure-mount"; then
      pids
      local mp=$KR/sandbox/storage/MDAvMDA=
      plain_request fs '["true"]'
      add_json fs '.storages = [$s]' --argjson s "$(secure_storage /dev/vdcoco "$mp")"
      create fs
      rc=$?
      check "a failing SecureMount fails CreateContainer with the CDH's reason; no mount, no mount point, no container left" \
        "$(cat "$work/fs.out"; echo "workers $(workers)")" eval \
        '[ $rc -ne 0 ] && grep -q "refused (--fail-secure-mount)" "$work/fs.out" && [ "$(mounts_of "$mp")" = 0 ] &&
         [ ! -e "$work/run/kata-containers/sandbox/storage/MDAvMDA=" ] && [ "$(workers)" = 0 ] &&
         ! ctl call AgentService/StartContainer "{\"containerId\": \"fs\"}" >/dev/null 2>&1'
    else
      tap FAIL "a failing SecureMount fails CreateContainer" "$(tail -n 5 "$work/agent.log")"
    fi
    unset GC_NS_SETUP
    agent_stop
    losetup -d "$loopdev" 2>/dev/null
  else
    skip 1 "a failing SecureMount" "no loop device (losetup)"
  fi

  local mode
  for mode in huge malformed; do
    if ! coco_start "h$mode" "--hostile-answer $mode"; then
      tap FAIL "a hostile CDH answer ($mode)" "$(tail -n 5 "$work/agent.log")"
      continue
    fi
    pids
    request hp '["true"]' "$(pull_storage hp "$REF" container)"
    local fds
    fds=$(ls "/proc/$executor_pid/fd" | wc -l)
    create hp
    rc=$?
    check "a hostile CDH answer ($mode frame) to PullImage: refused, the create fails, no worker, bundle or fd left, the agent serves" \
      "$(cat "$work/hp.out"; echo "workers $(workers) fds $fds -> $(ls "/proc/$executor_pid/fd" | wc -l)")" eval \
      '[ $rc -ne 0 ] && grep -q "PullImage" "$work/hp.out" && [ "$(workers)" = 0 ] &&
       [ ! -e "$work/run/kata-containers/hp" ] && ctl check >/dev/null 2>&1 &&
       [ "$(ls "/proc/$executor_pid/fd" | wc -l)" = "$fds" ]'
    agent_stop
  done

  mkdir -p "$top/victim" && echo keep >"$top/victim/marker"
  if coco_start rsym "--rootfs-symlink $top/victim"; then
    pids
    request rs '["true"]' "$(pull_storage rs "$REF" container)"
    create rs
    rc=$?
    check "a CDH answer whose rootfs is a symlink out of the bundle: refused, its target untouched, the bundle removed" \
      "$(cat "$work/rs.out"; ls -la "$top/victim")" eval \
      '[ $rc -ne 0 ] && grep -q "rootfs" "$work/rs.out" && grep -qx keep "$top/victim/marker" &&
       [ ! -e "$work/run/kata-containers/rs" ] && [ "$(workers)" = 0 ]'
  else
    tap FAIL "a CDH answer whose rootfs is a symlink" "$(tail -n 5 "$work/agent.log")"
  fi
  agent_stop

  if ! gc_prepare nocdh || ! { mkdir -p "$work/run/kata-containers" && gc_start "agent.guest_components_procs=none" --shared-dir "$KR"; }; then
    fail_rest "the agent without CDH did not serve: $(tail -n 5 "$work/agent.log")"
    return 1
  fi
  pids
  request np '["true"]' "$(pull_storage np "$REF" container)"
  create np
  rc=$?
  check "an image pull with no CDH running fails UNAVAILABLE naming the CDH's socket; nothing left" \
    "$(cat "$work/np.out")" eval \
    '[ $rc -ne 0 ] && grep -q "UNAVAILABLE" "$work/np.out" && grep -q "cdh.sock" "$work/np.out" &&
     [ ! -e "$work/run/kata-containers/np" ] && [ "$(workers)" = 0 ]'
  ctl call AgentService/GetGuestDetails '{"memBlockSize": true, "memHotplugProbe": true}' >"$work/gd.out" 2>&1
  check "GetGuestDetails lists image_guest_pull among the storage handlers (as upstream's agent_details)" \
    "$(cat "$work/gd.out")" eval 'jq -e ".agentDetails.storageHandlers | index(\"image_guest_pull\")" "$work/gd.out" >/dev/null'
  agent_stop
}

# secure_req ID MOUNT-POINT ARGS-JSON [STORAGE-JSON]: a container with a
# storage (default: the encrypted block emptyDir on vdcoco) at
# MOUNT-POINT, bound at /data as the runtime binds an emptyDir.
secure_req() {
  plain_request "$1" "$3"
  add_json "$1" '.storages = [$s] | .OCI.Mounts += [{destination: "/data", source: $mp, type: "bind", options: ["rbind", "rw"]}]' \
    --argjson s "${4:-$(secure_storage /dev/vdcoco "$2")}" --arg mp "$2"
}
local_req() { # local_req ID MOUNT-POINT: a container with a local storage (an emptyDir) there
  plain_request "$1" '["true"]'
  add_json "$1" '.storages = [{driver: "local", source: "local", fstype: "local", mountPoint: $m, options: ["mode=0777"]}]' --arg m "$2"
}
# ask_again ID DEVICE-ID LOCAL-ID LOCAL-MP: while the CDH works on ID's
# SecureMount of $mp, the host asks again: ID itself ($work/ID-again.json),
# the same disk at another mount point, a local storage at LOCAL-MP. Their
# rcs in r1 r2 r3; late=yes while the CDH has not mounted yet.
ask_again() {
  cp "$work/$1-again.json" "$work/$1.json"
  create "$1"
  r1=$?
  secure_req "$2" "$sp/MDEvMDE=" '["true"]'
  create "$2"
  r2=$?
  local_req "$3" "$4"
  create "$3"
  r3=$?
  late=no
  grep -q "SecureMount of .*MDAvMDA= now" "$work/agent.log" || late=yes
}
create_again() { # create_again ID: ID created and started again from $work/ID-again.json; rc, its 2 first lines in $work/ID.stdout
  cp "$work/$1-again.json" "$work/$1.json"
  create "$1" && start "$1"
  rc=$?
  read_all "$1" "$1" 2 >"$work/$1.stdout"
}
wait_lines() { # wait_lines FILE N: until FILE has N lines (10 s at most)
  for _ in $(seq 1 100); do
    [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
until_true() { # until_true SECONDS COMMAND...: until COMMAND succeeds (rc 1 if it never did)
  local s=$1
  shift
  for _ in $(seq 1 $((s * 10))); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
wait_log() { # wait_log TEXT [SECONDS]: until the agent's log has TEXT
  for _ in $(seq 1 $((${2:-15} * 10))); do
    grep -qF -- "$1" "$work/agent.log" && return 0
    sleep 0.1
  done
  return 1
}

# 5. A SecureMount whose container goes while the CDH works (upstream's
#    CDH finishes a call whose client went): the test CDH mounts 4 s after
#    the call. The mount and its directory are undone once the CDH has
#    answered; meanwhile the mount point and the device are nobody's.
t_cancel() {
  # The CDH mounts when the test opens the gate (the file $gate), not
  # after a time a loaded machine may overrun while the checks of the
  # pending call run.
  local gate=$top/cancel.gate
  rm -f "$gate"
  disk_section 6 "a SecureMount cancelled by RemoveContainer or DestroySandbox" cancel "--secure-mount-tmpfs --slow-secure-mount 1 --secure-mount-gate $gate" || return 0
  local sp=$KR/sandbox/storage mp=$KR/sandbox/storage/MDAvMDA= dir=$work/run/kata-containers/sandbox/storage/MDAvMDA=
  local fds
  fds=$(ls "/proc/$executor_pid/fd" | wc -l)
  secure_req c1 "$mp" '["sh", "-c", "grep \" /data \" /proc/self/mountinfo; echo mine >/data/f && cat /data/f; exec sleep 1000"]'
  cp "$work/c1.json" "$work/c1-again.json"
  create c1 &
  local cpid=$!
  wait_lines "$work/mounts.log" 1
  remove c1
  local rrc=$? early=no
  grep -q "SecureMount of .*MDAvMDA= now" "$work/agent.log" || early=yes
  wait "$cpid"
  rc=$?
  check "RemoveContainer while the CDH's SecureMount runs: the create answers ABORTED; the removal is answered before the CDH mounts" \
    "create rc $rc, remove rc $rrc, answered before the mount: $early; $(cat "$work/c1.out")" eval \
    '[ $rc -ne 0 ] && grep -q ABORTED "$work/c1.out" && [ $rrc -eq 0 ] && [ $early = yes ]'

  # The host asks again while the CDH still works on the old call.
  local r1 r2 r3 late
  ask_again c1 c2 c3 "$mp/sub"
  check "meanwhile the same container id and mount point again: FAILED_PRECONDITION naming the SecureMount not ended; the CDH is not asked again" \
    "rc $r1 (CDH not done yet: $late): $(cat "$work/c1.out"; cat "$work/mounts.log")" eval \
    '[ $r1 -ne 0 ] && [ $late = yes ] && grep -q FAILED_PRECONDITION "$work/c1.out" && grep -q "has not ended yet" "$work/c1.out" &&
     [ "$(wc -l <"$work/mounts.log")" = 1 ]'
  check "meanwhile the same device at another mount point, and a local storage below the pending mount point: refused" \
    "$(cat "$work/c2.out" "$work/c3.out")" eval \
    '[ $r2 -ne 0 ] && [ $r3 -ne 0 ] && grep -q "(7:[0-9]*): a SecureMount of it on $mp" "$work/c2.out" &&
     grep -q "mount point $mp/sub: a SecureMount of $mp" "$work/c3.out" && [ ! -e "$dir/sub" ]'

  touch "$gate"
  wait_log "container c1 (removed): its SecureMount of $mp ended"
  check "once the CDH's late mount is made and answered (to the worker, still waiting): detached, its directory removed, no worker, no fd left" \
    "$(grep -a "c1 (removed)" "$work/agent.log"; grep MDAvMDA "/proc/$executor_pid/mountinfo"; ls -la "$dir" 2>&1; echo "workers $(workers) fds $fds -> $(ls "/proc/$executor_pid/fd" | wc -l)")" eval \
    'grep -q "ended (mounted): the CDH.s mount detached" "$work/agent.log" && [ "$(mounts_of "$mp")" = 0 ] &&
     grep -q "SecureMount of .*MDAvMDA= now (its client waits)" "$work/agent.log" &&
     [ ! -e "$dir" ] && [ "$(workers)" = 0 ] && [ "$(ls "/proc/$executor_pid/fd" | wc -l)" = "$fds" ]'

  create_again c1
  check "the same container created afterwards gets its own mount from the CDH and keeps it" \
    "rc $rc: $(cat "$work/c1.out" "$work/c1.stdout")" eval \
    '[ $rc -eq 0 ] && grep -q test-cdh-secure "$work/c1.stdout" && grep -qx mine "$work/c1.stdout" &&
     [ "$(mounts_of "$mp")" = 1 ] && [ "$(wc -l <"$work/mounts.log")" = 2 ]'
  remove c1

  # DestroySandbox with a SecureMount in flight: answered once it is undone.
  rm -f "$gate"
  secure_req c4 "$mp" '["true"]'
  create c4 &
  cpid=$!
  wait_lines "$work/mounts.log" 3
  ctl call AgentService/DestroySandbox '{}' >"$work/destroy.out" 2>&1 &
  local dpid=$!
  wait_log "container c4: removed during its SecureMount" 20
  touch "$gate"
  wait "$dpid"
  local drc=$?
  wait "$cpid"
  local undone destroyed
  undone=$(grep -an "container c4 (removed): its SecureMount of $mp ended (mounted): the CDH's mount detached" "$work/agent.log" | cut -d: -f1 | head -n 1)
  destroyed=$(grep -an "sandbox destroyed" "$work/agent.log" | cut -d: -f1 | head -n 1)
  check "DestroySandbox with a SecureMount in flight: answered after the CDH's late mount was detached and its directory removed" \
    "rc $drc undone line ${undone:-none} destroyed line ${destroyed:-none}: $(cat "$work/destroy.out"; ls -la "$dir" 2>&1)" eval \
    '[ $drc -eq 0 ] && [ -n "$undone" ] && [ -n "$destroyed" ] && [ "$undone" -lt "$destroyed" ] && [ ! -e "$dir" ]'
  agent_stop
  fake_disks_free
}

# 8. A SecureMount the CDH answers only after agent.cdh_api_timeout (2 s
#    here; the test CDH mounts when the test opens its gate, once the
#    create failed and the "meanwhile" steps ended: no race with a loaded
#    machine, no fixed wait): the executor gave up on the call, not on the
#    mount point. It stays reserved and what the CDH mounts there later is
#    detached.
t_late() {
  local gate=$top/late.gate
  rm -f "$gate"
  disk_section 7 "a SecureMount the CDH answers after the timeout" late "--secure-mount-tmpfs --slow-secure-mount 1 --secure-mount-gate $gate" "agent.cdh_api_timeout=2" || return 0
  local sp=$KR/sandbox/storage mp=$KR/sandbox/storage/MDAvMDA= dir=$work/run/kata-containers/sandbox/storage/MDAvMDA=
  local fds
  fds=$(ls "/proc/$executor_pid/fd" | wc -l)
  secure_req l1 "$mp" '["true"]'
  cp "$work/l1.json" "$work/l1-again.json"
  create l1
  rc=$?
  check "a SecureMount the CDH does not answer within agent.cdh_api_timeout: the create fails DEADLINE_EXCEEDED; the mount point and the device stay reserved" \
    "rc $rc: $(cat "$work/l1.out"; grep -a "stay reserved" "$work/agent.log"; ls -la "$dir" 2>&1)" eval \
    '[ $rc -ne 0 ] && grep -q DEADLINE_EXCEEDED "$work/l1.out" &&
     grep -q "l1: its SecureMount of $mp ended without the CDH.s answer .*stay reserved" "$work/agent.log" &&
     [ -d "$dir" ] && ! grep -q "SecureMount of .*MDAvMDA= now" "$work/agent.log"'

  # The host re-creates the mount point while the CDH still works.
  local r1 r2 r3 late
  ask_again l1 l2 l3 "$mp"
  check "meanwhile the host re-creating the mount point (the same container again, a local storage there) or the device elsewhere: FAILED_PRECONDITION; the CDH not asked again" \
    "rc $r1 $r2 $r3 (CDH not done yet: $late): $(cat "$work/l1.out" "$work/l2.out" "$work/l3.out" "$work/mounts.log")" eval \
    '[ $r1 -ne 0 ] && [ $r2 -ne 0 ] && [ $r3 -ne 0 ] && [ $late = yes ] &&
     grep -q "has not ended yet" "$work/l1.out" && grep -q "mount point $mp: a SecureMount of $mp" "$work/l3.out" &&
     grep -q "(7:[0-9]*): a SecureMount of it on $mp" "$work/l2.out" && [ "$(wc -l <"$work/mounts.log")" = 1 ] &&
     [ -z "$(ls -A "$dir")" ]'

  touch "$gate"
  wait_log "the SecureMount of $mp given up on: the CDH's late mount detached" 20
  check "the CDH's late mount (after the timeout and those requests): detached, its directory removed; no worker, no fd left; the agent serves" \
    "$(grep -a -e "given up on" -e "MDAvMDA= now" "$work/agent.log"; grep MDAvMDA "/proc/$executor_pid/mountinfo"; ls -la "$dir" 2>&1; echo "workers $(workers) fds $fds -> $(ls "/proc/$executor_pid/fd" | wc -l)")" eval \
    'grep -q "SecureMount of .*MDAvMDA= now" "$work/agent.log" && [ "$(mounts_of "$mp")" = 0 ] &&
     [ ! -e "$dir" ] && [ "$(workers)" = 0 ] && [ "$(ls "/proc/$executor_pid/fd" | wc -l)" = "$fds" ] &&
     ctl call grpc.Health/Check "{}" >/dev/null 2>&1'
  local_req l4 "$mp"
  create l4
  rc=$?
  remove l4
  check "the reservation ends with the late mount: a storage at that mount point is accepted again" \
    "rc $rc: $(cat "$work/l4.out")" eval '[ $rc -eq 0 ]'

  # CreateSandbox (kata_agent.go startSandbox -> setupStorages: the shm
  # ephemeral storage; neither runtime sends a block storage there) with
  # an encrypted or a create_filesystem block storage added: refused
  # before any storage is mounted, nothing asked of the CDH, nothing
  # formatted.
  head -c 65536 "$loopdev" | sha256sum >"$work/disk.sum"
  local shm=$KR/sandbox/shm o1 o2
  for st in "$(secure_storage /dev/vdcoco "$sp/MDkvMDk=")" "$(secure_storage /dev/vdcoco "$sp/MDkvMDk=" mmioblk '["create_filesystem"]')"; do
    ctl call AgentService/CreateSandbox "$(jq -nc --arg shm "$shm" --argjson st "$st" '{
        hostname: "pod-l", dns: [], sandboxId: "sb-pod-l", kernelModules: [],
        storages: [{driver: "ephemeral", source: "shm", fstype: "tmpfs",
          options: ["noexec", "nosuid", "nodev", "mode=1777", "size=67108864"], mountPoint: $shm}, $st]}')" \
      >>"$work/sandbox.out" 2>&1 && echo "CreateSandbox answered OK" >>"$work/sandbox.out"
  done
  check "CreateSandbox with an encryption_key=ephemeral or a create_filesystem block storage: INVALID_ARGUMENT naming it, no storage mounted, the CDH not asked, the disk untouched" \
    "$(cat "$work/sandbox.out"; grep -e "/shm " -e MDkvMDk "/proc/$executor_pid/mountinfo")" eval \
    '! grep -q "answered OK" "$work/sandbox.out" && [ "$(grep -c INVALID_ARGUMENT "$work/sandbox.out")" = 2 ] &&
     grep -q "storage 1: storage $sp/MDkvMDk=: encryption_key=ephemeral is not accepted in CreateSandbox" "$work/sandbox.out" &&
     grep -q "create_filesystem is not accepted in CreateSandbox" "$work/sandbox.out" &&
     [ "$(mounts_of "$shm")" = 0 ] && [ ! -e "$work/run/kata-containers/sandbox/storage/MDkvMDk=" ] &&
     [ "$(wc -l <"$work/mounts.log")" = 1 ] && head -c 65536 "$loopdev" | sha256sum | cmp -s - "$work/disk.sum"'

  # RemoveContainer during the call: the orphan's call times out, and its
  # late mount goes the same way.
  rm -f "$gate"
  secure_req l5 "$mp" '["true"]'
  create l5 &
  local cpid=$!
  wait_lines "$work/mounts.log" 2
  remove l5
  wait "$cpid"
  wait_log "container l5: its SecureMount of $mp ended without the CDH" 20
  touch "$gate"
  wait_log "container l5: the SecureMount of $mp given up on: the CDH's late mount detached" 20
  check "RemoveContainer during a SecureMount the CDH answers after the timeout: its late mount detached, its directory removed" \
    "$(grep -a "l5" "$work/agent.log" | tail -n 4; ls -la "$dir" 2>&1)" eval \
    'grep -q "container l5: its SecureMount of $mp ended without the CDH.s answer" "$work/agent.log" && [ "$(mounts_of "$mp")" = 0 ] && [ ! -e "$dir" ]'

  # DestroySandbox while one is given up on and not mounted yet (the gate
  # stays shut: the CDH mounts nothing before the agent stops).
  rm -f "$gate"
  secure_req l6 "$mp" '["true"]'
  create l6
  ctl call AgentService/DestroySandbox '{}' >"$work/destroy.out" 2>&1
  local drc=$?
  check "DestroySandbox with a SecureMount given up on, the CDH not done: answered at once, the reservation released, its directory removed" \
    "rc $drc: $(cat "$work/destroy.out"; grep -a "l6" "$work/agent.log" | tail -n 3; ls -la "$dir" 2>&1)" eval \
    '[ $drc -eq 0 ] && grep -q "container l6: the SecureMount of $mp given up on: nothing mounted (DestroySandbox)" "$work/agent.log" &&
     [ ! -e "$dir" ] && [ "$(grep -c "MDAvMDA= now" "$work/agent.log")" -lt 3 ]'
  agent_stop
  fake_disks_free
}

# 9. The same, the CDH mounting after the timed checks ended
#    (agent.cdh_api_timeout=1: a check every second, 12 of them; the CDH
#    mounts when the test opens its gate, once the agent logged its last
#    check): the mount point stays reserved, and the next RemoveContainer
#    finds the late mount.
t_recheck() {
  local gate=$top/recheck.gate
  rm -f "$gate"
  disk_section 2 "a late mount found at a RemoveContainer" recheck "--secure-mount-tmpfs --slow-secure-mount 1 --secure-mount-gate $gate" "agent.cdh_api_timeout=1" || return 0
  local sp=$KR/sandbox/storage mp=$KR/sandbox/storage/MDAvMDA= dir=$work/run/kata-containers/sandbox/storage/MDAvMDA=
  secure_req r1 "$mp" '["true"]'
  create r1
  rc=$?
  wait_log "the CDH has not mounted $mp after 12 checks: it stays reserved" 20
  touch "$gate"
  wait_log "SecureMount of $mp now" 10
  local_req r2 "$mp"
  create r2
  local r2=$?
  check "the CDH mounting after the timed checks: its mount stays reserved meanwhile (a storage there FAILED_PRECONDITION)" \
    "rc $rc $r2: $(cat "$work/r1.out" "$work/r2.out"; grep -a -e "after 12 checks" -e "MDAvMDA= now" "$work/agent.log"; grep MDAvMDA "/proc/$executor_pid/mountinfo")" eval \
    '[ $rc -ne 0 ] && grep -q DEADLINE_EXCEEDED "$work/r1.out" && [ $r2 -ne 0 ] && grep -q "has not ended yet" "$work/r2.out" &&
     grep -q "after 12 checks" "$work/agent.log" && [ "$(mounts_of "$mp")" = 1 ]'
  ctl call AgentService/RemoveContainer '{"containerId": "none", "timeout": 20}' >"$work/rm.out" 2>&1
  check "the next RemoveContainer (of a container that is not there: NOT_FOUND) finds the late mount: detached, its directory removed" \
    "$(cat "$work/rm.out"; grep -a "given up on" "$work/agent.log"; grep MDAvMDA "/proc/$executor_pid/mountinfo"; ls -la "$dir" 2>&1)" eval \
    'grep -q NOT_FOUND "$work/rm.out" &&
     grep -q "container r1: the SecureMount of $mp given up on: the CDH.s late mount detached (found at a RemoveContainer)" "$work/agent.log" &&
     [ "$(mounts_of "$mp")" = 0 ] && [ ! -e "$dir" ]'
  agent_stop
  fake_disks_free
}

# 6. create_filesystem alone (upstream ensure_ext4_filesystem): the Go
#    runtime's block emptyDir in "block-plain" mode (container.go
#    createBlockDevices: metadata createFilesystem, options ["discard"];
#    kata_agent.go handleDeviceBlockVolume: driver option
#    "create_filesystem", fstype ext4, shared).
plain_fs_storage() { # plain_fs_storage SOURCE MOUNT-POINT [DRIVER] [FSTYPE]
  jq -nc --arg src "$1" --arg mp "$2" --arg d "${3:-mmioblk}" --arg t "${4:-ext4}" \
    '{driver: $d, driverOptions: ["create_filesystem"], source: $src, fstype: $t, mountPoint: $mp, options: ["discard"], shared: true}'
}
t_mkfs() {
  if ! command -v mkfs.ext4 >/dev/null || ! command -v dumpe2fs >/dev/null; then
    skip 11 "create_filesystem" "no mkfs.ext4 or dumpe2fs (e2fsprogs)"
    return 0
  fi
  if ! fake_disk || ! fake_attack_disks; then
    fake_disks_free
    skip 11 "create_filesystem" "no loop device (losetup) or no mount of one"
    return 0
  fi
  # A fresh disk for a mkfs that is cancelled, then run again.
  if ! truncate -s 4M "$top/slow.img" || ! loopslow=$(losetup -f --show "$top/slow.img" 2>/dev/null); then
    fake_disks_free
    skip 11 "create_filesystem" "no loop device (losetup)"
    return 0
  fi
  fake_disk_add vdslow "$(rdev_of "$loopslow")"
  # mkfs.ext4 as the worker runs it: a wrapper recording its arguments,
  # namespaces and privileges, and what it can reach as a mke2fs a hostile
  # disk took over would (root's 0644 file, /dev and /run), then the real
  # mke2fs; while $top/mkfs.slow exists, a mkfs that never ends instead (a
  # process holding the disk's fd, in mkfs's place: "sleep 37"). Its
  # mounts are read-only: the record goes through a FIFO (a special file,
  # as a device node or a socket, is writable on them: hence /dev and /run
  # hidden) to a reader that holds both ends (no EOF between runs).
  cp /usr/sbin/mke2fs "$top/mke2fs.real"
  printf 'root file\n' >"$top/mkfs-root0644" && chmod 0644 "$top/mkfs-root0644"
  printf '#!/bin/sh\n{ echo "args $*"; echo "net $(readlink /proc/self/ns/net)"; echo "mnt $(readlink /proc/self/ns/mnt)"; grep -E "^(CapPrm|CapEff|NoNewPrivs):" /proc/self/status; if err=$( { : >>%s; } 2>&1); then echo "rootfile: opened"; else echo "rootfile: ${err##*: }"; fi; echo "devls:" $(ls -A /dev); echo "runls:" $(ls -A /run); } >>%s\n[ -e %s ] && exec sleep 37\nexec %s -t ext4 "$@"\n' \
    "$top/mkfs-root0644" "$top/mkfs.fifo" "$top/mkfs.slow" "$top/mke2fs.real" >"$top/mkfs-wrap"
  chmod 0755 "$top/mkfs-wrap"
  rm -f "$top/mkfs.rec" "$top/mkfs.fifo"
  mkfifo "$top/mkfs.fifo" && : >"$top/mkfs.rec"
  mkfs_runs() { grep -c "^args" "$top/mkfs.rec"; }
  echo "mount --bind $top/mkfs-wrap /usr/sbin/mke2fs" >>"$top/ns-setup.sh"
  coco_start_disks mkfs "" || return 1
  (exec 7<>"$top/mkfs.fifo" && exec cat <&7 >>"$top/mkfs.rec" 2>/dev/null) &
  local recpid=$!
  pids
  local sp=$KR/sandbox/storage mp=$KR/sandbox/storage/MDAvMDA=
  secure_req m1 "$mp" '["sh", "-c", "grep \" /data \" /proc/self/mountinfo; echo kept >/data/f && cat /data/f; exec sleep 1000"]' \
    "$(plain_fs_storage /dev/vdcoco "$mp")"
  create m1 && start m1
  rc=$?
  read_all m1 m1 2 >"$work/m1.stdout"
  check "create_filesystem alone: mkfs.ext4 on the announced disk, then mounted; the container writes to the new ext4" \
    "rc $rc: $(cat "$work/m1.out" "$work/m1.stdout"; grep -a -e ERRO -e WARN "$work/agent.log" | tail -n 5)" eval \
    '[ $rc -eq 0 ] && grep -q " /data .* ext4 " "$work/m1.stdout" && grep -qx kept "$work/m1.stdout"'
  until_true 10 grep -q "^runls:" "$top/mkfs.rec"
  check "mkfs.ext4 ran with upstream's options on the disk's fd, in its own mount and network namespaces, with no capability and no_new_privs" \
    "$(cat "$top/mkfs.rec"; echo "executor: $(readlink "/proc/$executor_pid/ns/net") $(readlink "/proc/$executor_pid/ns/mnt")")" eval \
    'grep -qx "args -F -O ^has_journal -m 0 -i 163840 -I 128 /proc/self/fd/3" "$top/mkfs.rec" &&
     ! grep -qx "net $(readlink "/proc/$executor_pid/ns/net")" "$top/mkfs.rec" &&
     ! grep -qx "mnt $(readlink "/proc/$executor_pid/ns/mnt")" "$top/mkfs.rec" &&
     grep -q "^CapPrm:.*0000000000000000" "$top/mkfs.rec" && grep -q "^CapEff:.*0000000000000000" "$top/mkfs.rec" &&
     grep -q "^NoNewPrivs:.*1" "$top/mkfs.rec"'
  check "mkfs.ext4 (parsing a disk the host controls) cannot write root's 0644 file (every mount read-only) nor reach a guest device node or socket: /dev holds null and the disk alone, /run nothing" \
    "$(cat "$top/mkfs.rec")" eval \
    'grep -qx "rootfile: Read-only file system" "$top/mkfs.rec" && [ "$(cat "$top/mkfs-root0644")" = "root file" ] &&
     grep -qx "devls: null vdcoco" "$top/mkfs.rec" && grep -qx "runls:" "$top/mkfs.rec"'
  dumpe2fs -h "$loopdev" >"$work/dumpe2fs.out" 2>&1
  check "the disk holds an ext4 as upstream's options make it (no journal, 128-byte inodes, no reserved blocks)" \
    "$(grep -E "features|Inode size|Reserved block count" "$work/dumpe2fs.out")" eval \
    '! grep "^Filesystem features" "$work/dumpe2fs.out" | grep -q has_journal && grep -Eq "^Inode size:[[:space:]]*128$" "$work/dumpe2fs.out" &&
     grep -Eq "^Reserved block count:[[:space:]]*0$" "$work/dumpe2fs.out"'
  secure_req m2 "$mp" '["sh", "-c", "cat /data/f; exec sleep 1000"]' "$(plain_fs_storage /dev/vdcoco "$mp")"
  create m2 && start m2
  rc=$?
  read_all m2 m2 1 >"$work/m2.stdout"
  check "a second container with the same emptyDir: not formatted again, it sees the first one's file" \
    "rc $rc: $(cat "$work/m2.out" "$work/m2.stdout"; mkfs_runs)" eval \
    '[ $rc -eq 0 ] && grep -qx kept "$work/m2.stdout" && [ "$(mkfs_runs)" = 1 ]'

  secure_req m3 "$sp/MDEvMDE=" '["true"]' "$(plain_fs_storage /dev/vdsmall "$sp/MDEvMDE=")"
  local fds
  fds=$(ls "/proc/$executor_pid/fd" | wc -l)
  create m3
  rc=$?
  until_true 10 eval '[ "$(mkfs_runs)" = 2 ]'
  check "a failing mkfs (a 16 KiB disk): CreateContainer fails with upstream's message (status, stdout, stderr); no mount point, worker or container left" \
    "rc $rc: $(cat "$work/m3.out"; echo "workers $(workers) fds $fds -> $(ls "/proc/$executor_pid/fd" | wc -l)")" eval \
    '[ $rc -ne 0 ] && grep -q "mkfs.ext4 failed for /dev/vdsmall: status=exit status: 1, stdout=" "$work/m3.out" &&
     grep -q ", stderr=mke2fs" "$work/m3.out" && grep -q "/proc/self/fd/3: Not enough space" "$work/m3.out" &&
     [ ! -e "$work/run/kata-containers/sandbox/storage/MDEvMDE=" ] && [ "$(workers)" = 0 ] &&
     [ "$(ls "/proc/$executor_pid/fd" | wc -l)" = "$fds" ] &&
     ! ctl call AgentService/StartContainer "{\"containerId\": \"m3\"}" >/dev/null 2>&1'
  secure_req m4 "$sp/MDIvMDI=" '["true"]' "$(plain_fs_storage /dev/vdsmall "$sp/MDIvMDI=" mmioblk xfs)"
  create m4
  rc=$?
  check "fstype xfs with create_filesystem: INVALID_ARGUMENT with upstream's message" "$(cat "$work/m4.out")" eval \
    '[ $rc -ne 0 ] && grep -q "INVALID_ARGUMENT" "$work/m4.out" && grep -q "creating filesystem xfs for block storage is unsupported" "$work/m4.out"'

  # Attacks: the option where no device of the kernel's is formatted.
  head -c 4096 "$loopsmall" | sha256sum >"$work/small.sum"
  local n=0 bad=
  for a in "local|$sp/l1|local|local" "$KR/shared|$sp/b1|bind|bind" "/dev/vdsmall|$sp/b2|blk|ext4" \
    "/dev/vdbusy|$sp/b4|mmioblk|ext4" "/dev/vdroot|$sp/b3|mmioblk|ext4"; do
    IFS='|' read -r src m drv t <<<"$a"
    n=$((n + 1))
    secure_req "ma$n" "$m" '["true"]' "$(plain_fs_storage "$src" "$m" "$drv" "$t")"
    create "ma$n" && bad="$bad ma$n($a)"
  done
  check "attacks refused, nothing formatted: create_filesystem on local and bind storages, a blk source naming a /dev path, a mounted disk announced as a virtio-mmio disk" \
    "accepted:$bad $(cat "$work"/ma*.out; mkfs_runs)" eval \
    '[ -z "$bad" ] && grep -q "create_filesystem applies to blk, mmioblk and scsi storages only, not \\\"local\\\"" "$work/ma1.out" &&
     grep -q "not \\\"bind\\\"" "$work/ma2.out" && grep -q PERMISSION_DENIED "$work/ma3.out" &&
     grep -q "is in use (mounted" "$work/ma4.out" && [ "$(mkfs_runs)" = 2 ] &&
     grep -qx keep "$top/busy-mnt/marker" && head -c 4096 "$loopsmall" | sha256sum | cmp -s - "$work/small.sum"'
  if [ "$root_opens" = yes ]; then
    check "the guest's root filesystem's disk announced as a virtio-mmio disk with create_filesystem: refused, not formatted" \
      "$(cat "$work/ma5.out")" eval 'grep -q "holds the guest.s root filesystem" "$work/ma5.out" && [ "$(mkfs_runs)" = 2 ]'
  else
    skip 1 "the root filesystem's disk with create_filesystem" "this machine forbids opening its root disk (the probe refuses it first: $(grep -o "open /dev/vdroot: .*" "$work/ma5.out"))"
  fi

  # RemoveContainer while mkfs.ext4 runs.
  local slowmp=$sp/MDMvMDM= slowdir=$work/run/kata-containers/sandbox/storage/MDMvMDM= cpid rrc
  touch "$top/mkfs.slow"
  secure_req m5 "$slowmp" '["sh", "-c", "grep \" /data \" /proc/self/mountinfo; echo fresh >/data/f && cat /data/f; exec sleep 1000"]' \
    "$(plain_fs_storage /dev/vdslow "$slowmp")"
  cp "$work/m5.json" "$work/m5-again.json"
  fds=$(ls "/proc/$executor_pid/fd" | wc -l)
  create m5 &
  cpid=$!
  until_true 10 pgrep -fx "sleep 37" >/dev/null
  local running=$?
  remove m5
  rrc=$?
  wait "$cpid"
  rc=$?
  until_true 5 eval '! pgrep -fx "sleep 37" >/dev/null && [ "$(workers)" = 0 ] && [ "$(ls "/proc/$executor_pid/fd" | wc -l)" = "$fds" ]'
  check "RemoveContainer while mkfs.ext4 runs: the create answers ABORTED; the worker and mkfs killed; no mount, directory, worker or fd left" \
    "mkfs running: $running, create rc $rc, remove rc $rrc: $(cat "$work/m5.out"; pgrep -fa "sleep 37"; grep MDMvMDM "/proc/$executor_pid/mountinfo"; ls -la "$slowdir" 2>&1; echo "workers $(workers) fds $fds -> $(ls "/proc/$executor_pid/fd" | wc -l)")" eval \
    '[ $running -eq 0 ] && [ $rc -ne 0 ] && grep -q ABORTED "$work/m5.out" && [ $rrc -eq 0 ] &&
     ! pgrep -fx "sleep 37" >/dev/null && [ "$(workers)" = 0 ] && [ "$(ls "/proc/$executor_pid/fd" | wc -l)" = "$fds" ] &&
     [ "$(mounts_of "$slowmp")" = 0 ] && [ ! -e "$slowdir" ]'
  rm -f "$top/mkfs.slow"
  create_again m5
  check "the disk is the next request's: the same container again gets it formatted and mounted, and writes to it" \
    "rc $rc: $(cat "$work/m5.out" "$work/m5.stdout")" eval \
    '[ $rc -eq 0 ] && grep -q " /data .* ext4 " "$work/m5.stdout" && grep -qx fresh "$work/m5.stdout"'
  remove m5
  agent_stop
  kill "$recpid" 2>/dev/null
  wait "$recpid" 2>/dev/null
  fake_disks_free
}

# 7. The trusted image storage (upstream cdh_handler_trusted_storage): a
#    raw block volume at /dev/trusted_store (the how-to's volumeDevices;
#    kata_agent.go appendBlockDevice: an "mmioblk" device with id and
#    vm_path the guest's node; the spec's linux.devices with the host's
#    numbers, rewritten by the agent).
trusted_req() { # trusted_req ID VM-PATH [SPEC-MAJOR SPEC-MINOR] [no-device]
  plain_request "$1" '["sh", "-c", "ls -l /dev/trusted_store; exec sleep 1000"]'
  add_json "$1" '.OCI.Linux.Devices = [{Path: "/dev/trusted_store", Type: "b", Major: $ma, Minor: $mi, FileMode: 432, UID: 0, GID: 0}] |
    .devices = (if $nodev == "no-device" then [] else [{id: $vm, type: "mmioblk", vmPath: $vm, containerPath: "/dev/trusted_store"}] end)' \
    --arg vm "$2" --argjson ma "${3:-8}" --argjson mi "${4:-16}" --arg nodev "${5:-}"
}
t_trusted() {
  if ! fake_disk || ! fake_attack_disks; then
    fake_disks_free
    skip 8 "the trusted image storage" "no loop device (losetup) or no mount of one"
    return 0
  fi
  coco_start_disks trusted "--secure-mount-tmpfs" || return 1
  pids
  local rootrd img=$work/run/kata-containers/image
  rootrd=$(stat -c '%d' /)
  trusted_req t0 /dev/vdcoco "$((rootrd >> 8 & 0xfff))" "$((rootrd & 0xff))" no-device
  create t0
  rc=$?
  check "the spec's /dev/trusted_store with the host's numbers (the root disk's) and no device entry: PERMISSION_DENIED, no SecureMount" \
    "$(cat "$work/t0.out"; cat "$work/mounts.log" 2>/dev/null)" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$work/t0.out" && grep -q "failed to handle trusted storage" "$work/t0.out" &&
     [ ! -s "$work/mounts.log" ]'
  trusted_req t2 /dev/vdbusy
  create t2
  rc=$?
  check "/dev/trusted_store naming a mounted disk: refused, no SecureMount, nothing made" \
    "$(cat "$work/t2.out"; ls -la "$img" 2>&1)" eval \
    '[ $rc -ne 0 ] && grep -q "is in use (mounted" "$work/t2.out" && [ ! -s "$work/mounts.log" ] && [ ! -e "$img" ] &&
     grep -qx keep "$top/busy-mnt/marker"'
  trusted_req t1 /dev/vdroot
  create t1
  rc=$?
  if [ "$root_opens" = yes ]; then
    check "/dev/trusted_store naming the guest's root filesystem's disk: refused, no SecureMount" \
      "$(cat "$work/t1.out")" eval '[ $rc -ne 0 ] && grep -q "holds the guest.s root filesystem" "$work/t1.out" && [ ! -s "$work/mounts.log" ]'
  else
    skip 1 "/dev/trusted_store naming the root filesystem's disk" "this machine forbids opening its root disk (the probe refuses it first: $(grep -o "open /dev/vdroot: .*" "$work/t1.out"))"
  fi

  trusted_req t3 /dev/vdcoco
  create t3 && start t3
  rc=$?
  jq -nc --arg dev "$disk_rdev" --arg mp "$KR/image/" '{volume_type: "block-device", options: {deviceId: $dev,
    sourceType: "empty", targetType: "fileSystem", filesystemType: "ext4",
    mkfsOpts: "-E lazy_journal_init", encryptionType: "luks2", dataIntegrity: "true"},
    flags: [], mount_point: $mp}' | jq -S . >"$work/want.json"
  head -n 1 "$work/mounts.log" 2>/dev/null | jq -S . >"$work/got.json" 2>&1
  check "/dev/trusted_store: SecureMount before the storages with upstream's arguments (the announced disk's numbers, luks2, -E lazy_journal_init, the image work dir)" \
    "rc $rc: $(cat "$work/t3.out"; diff "$work/want.json" "$work/got.json")" eval \
    '[ $rc -eq 0 ] && cmp -s "$work/want.json" "$work/got.json"'
  read_all t3 t3 1 >"$work/t3.stdout"
  check "the container runs with the device; the image work dir holds the CDH's mount" \
    "$(cat "$work/t3.stdout"; grep " $KR/image " "/proc/$executor_pid/mountinfo")" eval \
    'grep -q "^b.* /dev/trusted_store" "$work/t3.stdout" && [ "$(mounts_of "$KR/image")" = 1 ]'
  trusted_req t4 /dev/vdcoco
  create t4 && start t4
  rc=$?
  check "a second container with /dev/trusted_store: not mounted again (one SecureMount in all)" \
    "rc $rc: $(cat "$work/t4.out" "$work/mounts.log")" eval \
    '[ $rc -eq 0 ] && [ "$(wc -l <"$work/mounts.log")" = 1 ] && [ "$(mounts_of "$KR/image")" = 1 ]'
  trusted_req t5 /dev/vdsmall
  create t5
  rc=$?
  check "a container naming another disk as /dev/trusted_store: FAILED_PRECONDITION, the sandbox's stays" \
    "$(cat "$work/t5.out")" eval \
    '[ $rc -ne 0 ] && grep -q "the trusted image storage is 7:[0-9]* already" "$work/t5.out" &&
     [ "$(wc -l <"$work/mounts.log")" = 1 ] && [ "$(mounts_of "$KR/image")" = 1 ]'
  ctl call AgentService/DestroySandbox '{}' >"$work/destroy.out" 2>&1
  rc=$?
  check "DestroySandbox: the trusted storage's mount is detached with the sandbox, its directory removed" \
    "rc $rc: $(cat "$work/destroy.out"; ls -la "$img" 2>&1)" eval '[ $rc -eq 0 ] && [ ! -e "$img" ]'
  agent_stop
  fake_disks_free
}

# COCO_SECTIONS="t_mkfs ..." runs only those (the others' checks SKIP).
for t in t_pod t_never t_secure t_cdh_failures t_cancel t_late t_recheck t_mkfs t_trusted; do
  if [ -z "${COCO_SECTIONS:-}" ] || [[ " $COCO_SECTIONS " == *" $t "* ]]; then
    $t
  fi
done
