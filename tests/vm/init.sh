#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
#
# /init of the test initramfs (tests/vm/run). It only does what the agent
# cannot do for itself, loading the vsock modules (a Kata guest kernel has
# them built in), starts the guest test runner in the background, and then
# exec's the agent so the agent IS PID 1 and does every other init duty.
#
# The kernel passes command-line words it does not know to init as
# environment variables: vmtest_mode selects what this boot is for.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin

# The firmware's last console line (SeaBIOS: "Booting from ROM..") has no
# newline, and a quiet kernel may print nothing after it: end that line, so
# the runner's first line (its plan) starts one, where tests/vm/run looks
# for "VMTAP". Without this the devices boot's plan was lost on a machine
# whose kernel printed nothing ("Booting from ROM..VMTAP 1..29").
echo

if [ "${vmtest_mode:-}" = probe ]; then
  # the accelerator probe of tests/vm/run: booting this far is the answer
  echo "VMPROBE-OK"
  exec poweroff -f
fi

# vmtest_root=tmpfs: first move / from the initramfs to a tmpfs, as a rootfs
# image has a real filesystem there. Containers then take the pivot_root
# path; from the initramfs, which pivot_root refuses to move, they cannot.
if [ "${vmtest_root:-}" = tmpfs ]; then
  mkdir /newroot && mount -t tmpfs -o mode=755 tmpfs /newroot &&
    for d in /*; do [ "$d" = /newroot ] || cp -a "$d" /newroot/; done &&
    export vmtest_root=moved && exec switch_root /newroot /init
  echo "VMINIT cannot move / to a tmpfs"
fi

# vmtest_fault_around=BYTES (bench/vm-footprint): the kernel's fault-around
# (a page fault on a file maps up to that many bytes of neighbouring pages
# already in the page cache: 64 KiB by default, and in an initramfs every
# page is) set before anything runs, to see what it adds to each process.
if [ -n "${vmtest_fault_around:-}" ]; then
  mkdir -p /tmp/debugfs && mount -t debugfs debugfs /tmp/debugfs &&
    echo "$vmtest_fault_around" >/tmp/debugfs/fault_around_bytes &&
    echo "VMINIT fault_around_bytes $(cat /tmp/debugfs/fault_around_bytes)"
  umount /tmp/debugfs 2>/dev/null
fi

while read -r m; do
  [ -n "$m" ] || continue
  insmod "/lib/modules/vm/$m.ko" || echo "VMINIT insmod $m failed"
done </etc/vm-modules

# vmtest_gc=1 (the coco boot): the stand-in guest components where the
# agent launches them from, for this boot only.
if [ "${vmtest_gc:-}" = 1 ]; then
  mkdir -p /usr/local/bin && cp -a /opt/guestcomp/. /usr/local/bin/ || echo "VMINIT cannot install the guest components"
fi

if [ -n "${vmtest_mode:-}" ]; then
  # a boot with a runner of its own (guest-devices), else guest-tests
  runner=/usr/libexec/vm-tests/guest-$vmtest_mode
  [ -x "$runner" ] || runner=/usr/libexec/vm-tests/guest-tests
  "$runner" "$vmtest_mode" &
fi

exec /usr/bin/kata-agent
