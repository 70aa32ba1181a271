#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The guest half of a "replay-NAME" boot (tests/vm/replay-boot.sh), started
# by /init instead of guest-tests (vmtest_mode=replay): plays the runtime
# replay scenario tests/runtime/NAME.json (vmtest_scenario=NAME) with
# `kata-agent-ctl replay` over vsock://1:1024 against the agent as PID 1,
# with /run/kata-containers as in a real guest. With vmtest_share=9p the
# host shares the directory it laid out (the scenario's host_side steps,
# played on the host before the boot) over virtio-9p, tag kataShared, and
# CreateSandbox's storages carry the 9p storage the Go runtime sends.
#
#   guest-replay replay          (/init runs it; the environment says more)
#   guest-replay --plan NAME     the plan, as the host asks for it
#   guest-replay --mkbundle DIR  MKBUNDLE of the scenarios in the guest: a
#                                busybox rootfs in DIR/rootfs (the image's)
#
# Results go to the console as "VMTAP <TAP line>" (the replay's TAP,
# renumbered by the host), then "VMTAP-DONE". The plan comes first; if the
# replay stops early, every planned check that did not report is not ok.
# A host step during the scenario (the host changes the shared directory
# while containers run) is asked for on the console as "VMHOST N"; the host
# plays it and puts its TAP in the share's .replay-host/step-N.tap, which
# the replay waits for (HOST_DONE_DIR).
addr=vsock://1:1024 # CID 1 = this guest, through vsock_loopback
ctl=/usr/bin/kata-agent-ctl
scenarios=/usr/share/vm-replay
export PATH=/usr/bin:/usr/sbin:/bin:/sbin

case ${1:-} in
--plan)
  exec "$ctl" replay --plan "$scenarios/${2:?usage: guest-replay --plan NAME}.json" IN_GUEST=1
  ;;
--mkbundle)
  # as scripts/make-busybox-bundle lays out a rootfs, from the image's copy
  mkdir -p "${2:?usage: guest-replay --mkbundle DIR}" && cp -a /opt/vm-bundles/rootfs "$2/rootfs"
  exit
  ;;
esac

# DestroySandbox stops the agent: as PID 1 it powers the guest off, sending
# SIGTERM to every process and, a second later, SIGKILL. Ignored (also by
# the replay, which inherits it), SIGTERM leaves that second to report the
# last results.
trap '' TERM

name=${vmtest_scenario:-}
file=$scenarios/$name.json
say() { echo "VMTAP $*"; }
plan=$("$ctl" replay --plan "$file" IN_GUEST=1 2>&1) || {
  say "1..1"
  say "not ok - replay-$name: the scenario's plan ($plan)"
  echo "VMTAP-DONE"
  kill -TERM 1
  exit 1
}
say "1..$plan"
n=0

# The agent mounts /proc first, then serves: wait for both (the scenario's
# own Health/Check is its first check).
i=0
while [ ! -e /proc/self/stat ] && [ $i -lt 600 ]; do
  i=$((i + 1))
  sleep 0.1
done
i=0
while ! "$ctl" --addr "$addr" check >/dev/null 2>&1 && [ $i -lt 900 ]; do
  i=$((i + 1))
  sleep 0.1
done
say "# agent serving at uptime $(cut -d' ' -f1 /proc/uptime) s"

storages='[]'
if [ "${vmtest_share:-}" = 9p ]; then
  # kata_agent.go setupStorages for shared_fs=virtio-9p: sharedDir9pOptions
  # (one string holding three options, as the runtime has it) + msize=
  # (the default msize_9p, 8192), mounted at kataGuestSharedDir()
  storages='[{"driver": "9p", "source": "kataShared", "fstype": "9p",
    "mountPoint": "/run/kata-containers/shared/containers",
    "options": ["trans=virtio,version=9p2000.L,cache=mmap", "nodev", "msize=8192"]}]'
fi

# relay: the replay's TAP as VMTAP lines; at its end, the checks it did not
# report are not ok
relay() {
  while IFS= read -r line; do
    case $line in
    "1.."*)
      [ "${line#1..}" = "$plan" ] ||
        say "# the replay planned ${line#1..} checks, the host expects $plan"
      ;;
    "# host step "*)
      say "$line"
      n_=${line#\# host step }
      echo "VMHOST ${n_%%:*}"
      ;;
    "ok "* | "not ok "*)
      n=$((n + 1))
      st=${line%% *}
      [ "$st" = not ] && st="not ok"
      say "$st - replay-$name: ${line#* - }"
      ;;
    *) say "$line" ;;
    esac
  done
  if [ "$n" -lt "$plan" ] && [ -s /tmp/replay.err ]; then
    say "# replay stderr:"
    tail -n 20 /tmp/replay.err | while IFS= read -r l; do say "#   $l"; done
  fi
  while [ "$n" -lt "$plan" ]; do
    n=$((n + 1))
    say "not ok - replay-$name: planned check $n did not report (the replay stopped early)"
  done
  say "# replay ended at uptime $(cut -d' ' -f1 /proc/uptime) s"
  echo "VMTAP-DONE"
}
"$ctl" --addr "$addr" replay "$file" IN_GUEST=1 KATA=/run/kata-containers \
  MKBUNDLE="/usr/libexec/vm-tests/guest-replay --mkbundle" AGENT_PID=1 CG= \
  SANDBOX_STORAGES="$storages" HOST_DONE_DIR=/run/kata-containers/shared/containers/.replay-host \
  2>/tmp/replay.err | relay

# After a DestroySandbox the agent is already powering the guest off (this
# runner is killed meanwhile; if not, the host's check of the agent's
# shutdown line fails). A scenario without it (runtime-rs never sends it: it
# stops the VM) ends here: stop PID 1 as the VMM's end would.
grep -q '"call": *"DestroySandbox"' "$file" && sleep 10
kill -TERM 1
