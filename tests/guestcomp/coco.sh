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
plan 37
gc_requires
if [ -z "${TEST_CDH:-}" ] || [ -z "${MAKE_OCI_IMAGE:-}" ]; then
  skip 37 "the confidential guest" "TEST_CDH or MAKE_OCI_IMAGE not set"
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
workers() { # CDH workers (forks of the executor) still alive
  local p n=0
  for p in $(descendants "$agent_pid"); do
    [ "$(ppid_of "$p")" = "$executor_pid" ] && [ "$(comm_of "$p")" = kata-agent-exec ] &&
      [ "$p" != "$spawner_pid" ] && n=$((n + 1))
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
# own mount namespace (tmpfs, the host's entries bound in).
fake_disk() {
  truncate -s 4M "$top/disk.img"
  loopdev=$(losetup -f --show "$top/disk.img" 2>/dev/null) || return 1
  local rd
  rd=$(stat -c '%t:%T' "$loopdev") || return 1
  disk_rdev="$((16#${rd%:*})):$((16#${rd#*:}))"
  cat >"$top/ns-setup.sh" <<EOS
f=$top/fake
mkdir -p \$f/cb \$f/plat/virtio-mmio.9/virtio9/block/vdcoco \$f/hostdev
echo $disk_rdev >\$f/plat/virtio-mmio.9/virtio9/block/vdcoco/dev
ln -sfn ../../devices/platform/virtio-mmio.9/virtio9/block/vdcoco \$f/cb/vdcoco
mount --bind \$f/cb /sys/class/block && mount --bind \$f/plat /sys/devices/platform &&
mount --rbind /dev \$f/hostdev && mount -t tmpfs -o mode=0755 coco-dev /dev || exit 1
for e in \$f/hostdev/* \$f/hostdev/.[!.]*; do
  [ -e "\$e" ] || [ -L "\$e" ] || continue
  n=\${e##*/}
  if [ -L "\$e" ]; then cp -P "\$e" "/dev/\$n"
  elif [ -d "\$e" ]; then mkdir "/dev/\$n" && mount --rbind "\$e" "/dev/\$n"
  else touch "/dev/\$n" && mount --bind "\$e" "/dev/\$n"; fi
done
mknod /dev/vdcoco b ${disk_rdev%:*} ${disk_rdev#*:}
EOS
}

# 3. Encrypted block storages (SecureMount) and sealed files in volumes.
t_secure() {
  if ! fake_disk; then
    skip 9 "encrypted storage and sealed files" "no loop device (losetup)"
    return 0
  fi
  export GC_NS_SETUP=". $top/ns-setup.sh"
  if ! coco_start secure "--secure-mount-tmpfs" "agent.secure_storage_integrity=false"; then
    unset GC_NS_SETUP
    fail_rest "the agent did not serve: $(tail -n 5 "$work/agent.log")"
    return 1
  fi
  unset GC_NS_SETUP
  pids
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
  read_all sf sf 1 >"$work/sf.stdout"
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

t_pod
t_never
t_secure
t_cdh_failures
