# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/vm/run: the "replay-NAME" boots, one per runtime replay
# scenario tests/runtime/NAME.json (doc/runtime-replay.md), each played in
# the guest by tests/vm/guest-replay.sh with `kata-agent-ctl replay` over
# vsock://1:1024 against the agent as PID 1.
#
# One boot per scenario: DestroySandbox stops the agent, which as init
# powers the guest off, and every scenario but the runtime-rs one ends with
# it (as the runtimes end a sandbox); a fresh guest also keeps a scenario
# from seeing what the one before left.
#
# The shared filesystem, as the Go runtime with shared_fs=virtio-9p makes it
# (virtio-fs needs virtiofsd, which qemu under TCG here does not have; 9p
# stands in for runtime-rs's virtio-fs too): a scenario whose CreateSandbox
# takes @{SANDBOX_STORAGES} gets a directory on the host, laid out before
# the boot by the scenario's host_side steps (`kata-agent-ctl replay
# --host-side`, with KATA = BUILD_DIR/vm/NAME, so the directory is
# KATA/shared/containers, which the guest mounts at
# /run/kata-containers/shared/containers: the same paths on both sides),
# exported read-write as qemu does for Kata (virtio-9p, tag kataShared,
# security_model=none, multidevs=remap). The guest passes the 9p storage
# kata_agent.go setupStorages sends. A scenario without it (nofs-pod,
# shared_fs=none) boots without a 9p device.
#
#   replay_names              the boots, one per scenario
#   replay_plan NAME          the guest's plan (kata-agent-ctl replay --plan
#                             SCENARIO IN_GUEST=1)
#   replay_host_checks NAME   how many checks the host adds to it
#   replay_stage              the scenarios and the runner into the image
#   replay_cmdline NAME       the boot's kernel command line (less common)
#   replay_prepare NAME       the host side of the share; sets replay_share
#                             to qemu's arguments for it (none: no share);
#                             starts the player of the host steps the guest
#                             asks for during the scenario
#   replay_finish             stops that player once qemu is gone
#   replay_timeout TMO        the boot's timeout
#   replay_report NAME CON    the host's checks of a boot beyond run's own

replay_dir=$top/tests/runtime
replay_ctl=${build:-$work/..}/containerd-shim-helper/ctl/kata-agent-ctl

replay_names() {
  local f
  for f in "$replay_dir"/*.json; do
    f=${f##*/}
    echo "replay-${f%.json}"
  done
}
replay_scenario() { echo "$replay_dir/${1#replay-}.json"; }
replay_uses_share() { grep -q '"@{SANDBOX_STORAGES}"' "$(replay_scenario "$1")"; }
replay_destroys() { grep -q '"call": *"DestroySandbox"' "$(replay_scenario "$1")"; }

replay_plan() { "$replay_ctl" replay --plan "$(replay_scenario "$1")" IN_GUEST=1; }

# runner completed, announce, no error, powered off, power-off logged, no
# panic (run's own); the host laid out the share; the agent logged why it
# stopped after DestroySandbox
replay_host_checks() {
  local n=6
  replay_uses_share "$1" && n=$((n + 1))
  replay_destroys "$1" && n=$((n + 1))
  echo "$n"
}

replay_stage() {
  local s=$stage/usr/share/vm-replay
  install -m 0755 "$here/guest-replay.sh" "$stage/usr/libexec/vm-tests/guest-replay" &&
    mkdir -p "$s/specs" &&
    install -m 0644 "$replay_dir"/*.json "$replay_dir/agent-tree.sh" "$s/" &&
    install -m 0644 "$replay_dir"/specs/*.json "$s/specs/" &&
    install -m 0755 "$replay_dir/leftovers.sh" "$s/"
}

# As a Kata guest image: / on a real filesystem (a tmpfs, vmtest_root), so
# containers take the pivot_root path; cgroup v1, the agent's default.
replay_cmdline() {
  local share=
  replay_uses_share "$1" && share=" vmtest_share=9p"
  echo "vmtest_root=tmpfs vmtest_mode=replay vmtest_scenario=${1#replay-}$share"
}

replay_prepare() {
  local name=$1 d=$work/$1 rc
  replay_share=()
  replay_uses_share "$name" || return 0
  rm -rf "$d" && mkdir -p "$d/shared/containers" || return 1
  "$replay_ctl" replay --host-side "$(replay_scenario "$name")" KATA="$d" \
    MKBUNDLE="$top/scripts/make-busybox-bundle" >"$work/$name.host" 2>&1
  rc=$?
  echo "# exit status $rc" >>"$work/$name.host"
  replay_share=(-fsdev "local,id=share,path=$d/shared/containers,security_model=none,multidevs=remap"
    -device virtio-9p-device,fsdev=share,mount_tag=kataShared)
  replay_host_steps "$name" &
  replay_player=$!
}

replay_finish() {
  [ -n "${replay_player:-}" ] || return 0
  kill "$replay_player" 2>/dev/null
  wait "$replay_player" 2>/dev/null
  replay_player=
}

# While the guest runs: the host steps it asks for ("VMHOST N" on the
# console), each played once (kata-agent-ctl replay --host-side --step N),
# its TAP put where the guest waits for it, in the share (written beside,
# then renamed: the guest never reads half of it).
replay_host_steps() {
  local name=$1 con=$work/$1.console done=$work/$1/shared/containers/.replay-host n
  while sleep 0.2; do
    for n in $(tr -d '\r' <"$con" 2>/dev/null | sed -n 's/^VMHOST \([0-9][0-9]*\)$/\1/p'); do
      [ -e "$done/step-$n.tap" ] && continue
      mkdir -p "$done" || continue
      "$replay_ctl" replay --host-side --step "$n" "$(replay_scenario "$name")" KATA="$work/$name" \
        MKBUNDLE="$top/scripts/make-busybox-bundle" >"$done/.step-$n" 2>&1
      mv "$done/.step-$n" "$done/step-$n.tap"
    done
  done
}

# A scenario starts several containers: under TCG that takes more than the
# other boots' two minutes on a loaded 2-CPU machine.
replay_timeout() {
  if [ "$accel" = tcg ] && [ "$1" -lt 300 ]; then echo 300; else echo "$1"; fi
}

# replay_host_side FILE: the host-side run's TAP passed and it exited 0
replay_host_side() {
  if grep -q '^ok ' "$1" && ! grep -q '^not ok ' "$1" && [ "$(tail -n 1 "$1")" = "# exit status 0" ]; then
    return 0
  fi
  cat "$1" 2>/dev/null || echo "no $1: the host side did not run"
  return 1
}

replay_report() {
  local name=$1 con=$2
  if replay_uses_share "$name"; then
    check_cmd "$name: the host laid out the shared directory before the boot, as the runtime does (the scenario's host_side steps)" \
      replay_host_side "$work/$name.host"
  fi
  if replay_destroys "$name"; then
    check_cmd "$name: DestroySandbox stopped the agent (as upstream): the parent logged why" \
      python3 "$here/console.py" has "$con" "msg=shutting down: the sandbox was destroyed (DestroySandbox)"
  fi
}
