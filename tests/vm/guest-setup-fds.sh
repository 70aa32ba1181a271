# SPDX-License-Identifier: Apache-2.0
# Sourced by guest-tests.sh (v1 and v2 boots): tests/security/setup_fds.sh
# in the guest. grab (tests/security/grab.c, built static into the bundles'
# rootfs) runs as the init of the vgrab container, root with Docker's
# default capabilities, while the host side runs a burst of ExecProcess:
# it must get nothing of the setup processes, in particular (cgroup v2) no
# cgroup directory fd to walk ".." from to the guest's / (the runc
# CVE-2024-21626 class). Uses call/check/pass/fail/skip of guest-tests.sh.
grab_out=$cbundles/rootfs/tmp/grab.out
if [ ! -x "$cbundles/rootfs/bin/grab" ]; then
  skip "setup fds: the attack" "no grab in the image (gcc -static failed on the host)"
else
  rm -f "$grab_out" "$cbundles/rootfs/tmp/stop"
  timeout 600 "$ctl" --addr "$addr" run "$cbundles/grab" --id vgrab </dev/null >/tmp/vgrab.out 2>&1 &
  gpid=$!
  i=0
  while [ $i -lt 300 ] && ! grep -q '^CONTROL' "$grab_out" 2>/dev/null; do
    i=$((i + 1))
    sleep 0.1
  done
  n=0
  i=0
  while [ $i -lt "${VM_SETUP_FDS_EXECS:-30}" ]; do
    timeout 60 "$ctl" --addr "$addr" exec vgrab -- true </dev/null >/dev/null 2>&1 && n=$((n + 1))
    i=$((i + 1))
  done
  touch "$cbundles/rootfs/tmp/stop"
  i=0
  while [ $i -lt 300 ] && ! grep -q '^SCANS' "$grab_out" 2>/dev/null; do
    i=$((i + 1))
    sleep 0.1
  done
  check "setup fds ($mode): $n ExecProcess ran while the attacker scanned" \
    sh -c 'test "$1" -ge 1 && grep -q "^SCANS [1-9]" "$2"' _ "$n" "$grab_out"
  check "setup fds ($mode): control, the attacker takes its sleep's fd 7" \
    grep -q "^CONTROL getfd pid=[0-9]* comm=sleep fd=7 kind=reg where=in /tmp/bait" "$grab_out"
  bad=$(grep -v '^SEEN' "$grab_out" | grep 'comm=kata-agent' | head -5)
  check "setup fds ($mode): nothing of a setup process is reachable" test -z "$bad"
  bad=$(grep -v '^CONTROL' "$grab_out" | grep -v '^SEEN' |
    grep -E 'kind=(sock|pidfd|anon|blk|\?)|where=out|socket:|anon_inode:' | head -5)
  check "setup fds ($mode): no socket, pidfd, guest file or directory obtained${bad:+: $bad}" test -z "$bad"
  check "setup fds ($mode): no directory fd led out of the container (no ESCAPE)" \
    sh -c '! grep -q ESCAPE "$1"' _ "$grab_out"
  call AgentService/RemoveContainer '{"containerId": "vgrab"}' >/dev/null
  wait "$gpid" 2>/dev/null
fi
