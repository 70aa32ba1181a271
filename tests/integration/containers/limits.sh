#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: limits. Prints TAP.
#
#   limits.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 19
suite_requires

# The rest of linux.resources (block IO, hugetlb, network, cpu realtime) on
# this v1 host. net_cls and net_prio are mounted by the test, in the agent's
# private mount namespace only, over the controller-less name=systemd mount
# (no directory is made in the host's /sys/fs/cgroup).
limits_netcg_clean() { # rmdir what is left in the private net_cls,net_prio hierarchy
  [ -n "$agent_pid" ] && [ -e "/proc/$agent_pid" ] || return 0
  nsenter -t "$agent_pid" -m -- sh -c \
    'd=/sys/fs/cgroup/systemd/$1; [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + ; true' \
    sh "$cg_name" 2>/dev/null
}

t_limits() {
  local blk=/sys/fs/cgroup/blkio
  if [ ! -d "$blk" ] || [ ! -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    skip_rest "needs the cgroup v1 blkio and memory controllers"
    return
  fi
  # The device of a real disk (one with a device/ link), else any block device.
  local dev= s
  for s in /sys/block/*; do
    [ -e "$s/device" ] && [ -f "$s/dev" ] && { dev=$(cat "$s/dev"); break; }
  done
  [ -n "$dev" ] || for s in /sys/block/*; do [ -f "$s/dev" ] && { dev=$(cat "$s/dev"); break; }; done
  if [ -z "$dev" ]; then
    skip_rest "no block device in /sys/block"
    return
  fi
  local maj=${dev%%:*} min=${dev##*:}
  # The file a block IO weight goes to (the agent probes the same way): CFQ's
  # blkio.weight, BFQ's blkio.bfq.weight, or none on a kernel with neither
  # scheduler, where every weight request must fail FAILED_PRECONDITION.
  local wf= f
  for f in blkio.weight blkio.bfq.weight; do
    [ -f "$blk/$f" ] && { wf=$f; break; }
  done
  local net=no rt=no netwhy= rtwhy=
  grep -qw net_cls /proc/cgroups && grep -qw net_prio /proc/cgroups && [ -d /sys/fs/cgroup/systemd ] &&
    ! [ -d /sys/fs/cgroup/net_cls ] && net=yes
  [ -f /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] && rt=yes
  if [ $net = yes ]; then
    agent_prep='mount -t cgroup -o net_cls,net_prio cgroup /sys/fs/cgroup/systemd'
  else
    netwhy="net_cls/net_prio not available to mount"
  fi
  [ $rt = yes ] || rtwhy="no cpu.rt_runtime_us (CONFIG_RT_GROUP_SCHED off)"
  agent_start limits
  local started=$?
  agent_prep=
  [ $started -eq 0 ] || return
  if [ $rt = yes ]; then
    # A child's realtime budget comes out of its parent's, which is 0 in a
    # new cgroup: give the private parent 5%.
    mkdir -p "/sys/fs/cgroup/cpu/$cg_name" && echo 50000 >"/sys/fs/cgroup/cpu/$cg_name/cpu.rt_runtime_us" ||
      { rt=no; rtwhy="cannot give the parent a realtime budget"; }
  fi
  local b out="$work/limits.out"
  b=$(bundle lm sh -c 'echo ready; exec sleep 1000')
  local res
  res=$(jq -n --argjson maj "$maj" --argjson min "$min" --arg net $net --arg rt $rt --arg wf "$wf" '
    {memory: {limit: 67108864},
     blockIO: ({throttleReadBpsDevice: [{major: $maj, minor: $min, rate: 1048576}],
               throttleWriteIOPSDevice: [{major: $maj, minor: $min, rate: 100}]}
               + (if $wf != "" then {weight: 200} else {} end))}
    + (if $net == "yes" then {network: {classID: 1048577, priorities: [{name: "lo", priority: 5}]}} else {} end)
    + (if $rt == "yes" then {cpu: {realtimePeriod: 100000, realtimeRuntime: 4000}} else {} end)')
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = $r' --argjson r "$res"
  ctl run "$b" --id lm </dev/null >"$work/lm.out" 2>"$work/lm.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/lm.out" ready 200; then
    rc=-
    tap FAIL "limits: a container with block IO, network and realtime limits starts" "$(diag lm)"
    fail_rest "the limits container did not start"
    kill "$run_pid" 2>/dev/null
    limits_netcg_clean
    agent_stop
    return
  fi
  local bd="$blk/$cg_name/lm" md="/sys/fs/cgroup/memory/$cg_name/lm"
  local nd="/proc/$agent_pid/root/sys/fs/cgroup/systemd/$cg_name/lm" cd="/sys/fs/cgroup/cpu/$cg_name/lm"
  # line FILE KEY: the value on KEY's line of a list file ("" if none)
  line() { awk -v k="$2" '$1 == k {print $2}' "$1" 2>/dev/null; }
  # weight_kept: the weight is still what the last accepted request set
  weight_kept() { [ -z "$wf" ] || [ "$(cat "$bd/$wf")" = "$1" ]; }
  local nows="the kernel has no block IO weight support"
  if [ -n "$wf" ]; then
    check "create: blockIO weight 200 is in $wf" "$(diag lm)" want "$(cat "$bd/$wf" 2>&1)" 200
  else
    say "limits: this kernel has neither blkio.weight (CFQ) nor blkio.bfq.weight (BFQ)"
    b=$(bundle lnow true)
    jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {blockIO: {weight: 200}}'
    run_ lnow "$b"
    check "create with blockIO weight 200 and no weight file: FAILED_PRECONDITION ($nows), no cgroup left" \
      "$(diag lnow)" eval \
      '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$work/lnow.err" && grep -q "$nows" "$work/lnow.err" &&
       [ ! -d "$blk/$cg_name/lnow" ]'
  fi
  check "create: throttleReadBpsDevice $dev 1048576 is in blkio.throttle.read_bps_device" "$(diag lm)" \
    want "$(line "$bd/blkio.throttle.read_bps_device" "$dev")" 1048576
  check "create: throttleWriteIOPSDevice $dev 100 is in blkio.throttle.write_iops_device" "$(diag lm)" \
    want "$(line "$bd/blkio.throttle.write_iops_device" "$dev")" 100
  if [ $net = yes ]; then
    check "create: network classID 1048577 is in net_cls.classid" "$(diag lm)" \
      want "$(cat "$nd/net_cls.classid" 2>&1)" 1048577
    check "create: network priority lo 5 is in net_prio.ifpriomap" "$(diag lm)" \
      want "$(line "$nd/net_prio.ifpriomap" lo)" 5
  else
    skip 2 "create: network classID and priorities" "$netwhy"
  fi
  if [ $rt = yes ]; then
    check "create: cpu realtime period 100000 / runtime 4000 in cpu.rt_period_us / cpu.rt_runtime_us" \
      "$(diag lm)" want "$(cat "$cd/cpu.rt_period_us" "$cd/cpu.rt_runtime_us" 2>&1 | tr '\n' ' ')" "100000 4000 "
  else
    skip 1 "create: cpu realtime period and runtime" "$rtwhy"
  fi

  local upd
  upd=$(jq -n -c --argjson maj "$maj" --argjson min "$min" --arg net $net --arg rt $rt '
    {BlockIO: {Weight: 300, ThrottleReadBpsDevice: [{Major: $maj, Minor: $min, Rate: 2097152}]}}
    + (if $net == "yes" then {Network: {ClassID: 1048578, Priorities: [{Name: "lo", Priority: 7}]}} else {} end)
    + (if $rt == "yes" then {CPU: {RealtimeRuntime: 5000}} else {} end)')
  ctl call AgentService/UpdateContainer "{\"containerId\": \"lm\", \"resources\": $upd}" >"$out" 2>&1
  rc=$?
  if [ -n "$wf" ]; then
    check "UpdateContainer: weight 300 and read bps 2097152 written, write iops untouched" \
      "$(cat "$out"; diag lm)" eval \
      '[ $rc -eq 0 ] && [ "$(cat "$bd/$wf")" = 300 ] &&
       [ "$(line "$bd/blkio.throttle.read_bps_device" "$dev")" = 2097152 ] &&
       [ "$(line "$bd/blkio.throttle.write_iops_device" "$dev")" = 100 ]'
  else
    # the same request refused whole; without its weight it is written
    local rbps_before refused
    rbps_before=$(line "$bd/blkio.throttle.read_bps_device" "$dev")
    refused=$(cat "$out"; echo "rc=$rc")
    upd=$(echo "$upd" | jq -c 'del(.BlockIO.Weight)')
    ctl call AgentService/UpdateContainer "{\"containerId\": \"lm\", \"resources\": $upd}" >"$out" 2>&1
    rc=$?
    check "UpdateContainer with weight 300: FAILED_PRECONDITION ($nows), nothing written; without it read bps 2097152 written, write iops untouched" \
      "$refused; $(cat "$out"; diag lm)" eval \
      '[[ $refused == *FAILED_PRECONDITION*"$nows"* ]] && [[ $refused != *rc=0 ]] && [ "$rbps_before" = 1048576 ] &&
       [ $rc -eq 0 ] && [ "$(line "$bd/blkio.throttle.read_bps_device" "$dev")" = 2097152 ] &&
       [ "$(line "$bd/blkio.throttle.write_iops_device" "$dev")" = 100 ]'
  fi
  if [ $net = yes ]; then
    check "UpdateContainer: classID 1048578 and lo priority 7 written" "$(cat "$out"; diag lm)" eval \
      '[ "$(cat "$nd/net_cls.classid")" = 1048578 ] && [ "$(line "$nd/net_prio.ifpriomap" lo)" = 7 ]'
  else
    skip 1 "UpdateContainer: classID and priority" "$netwhy"
  fi
  if [ $rt = yes ]; then
    check "UpdateContainer: rt runtime 5000, rt period untouched" "$(cat "$out"; diag lm)" eval \
      '[ "$(cat "$cd/cpu.rt_runtime_us")" = 5000 ] && [ "$(cat "$cd/cpu.rt_period_us")" = 100000 ]'
  else
    skip 1 "UpdateContainer: rt runtime" "$rtwhy"
  fi

  # Refused before anything is written: the memory limit of the same
  # request stays as it was.
  ctl call AgentService/UpdateContainer \
    '{"containerId": "lm", "resources": {"Memory": {"Limit": 33554432}, "BlockIO": {"Weight": 5}}}' >"$out" 2>&1
  rc=$?
  check "UpdateContainer blockIO weight 5: INVALID_ARGUMENT naming weight; memory limit kept" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "weight 5" "$out" &&
     [ "$(cat "$md/memory.limit_in_bytes")" = 67108864 ] && weight_kept 300'
  # a valid change beside each refused one, that must not be written either
  local valid='"BlockIO": {"Weight": 400}' kept='weight_kept 300' keptwhat=weight
  [ -n "$wf" ] || { valid='"Memory": {"Limit": 50331648}' kept='[ "$(cat "$md/memory.limit_in_bytes")" = 67108864 ]' keptwhat="memory limit"; }
  ctl call AgentService/UpdateContainer \
    "{\"containerId\": \"lm\", \"resources\": {$valid, \"HugepageLimits\": [{\"Pagesize\": \"3MB\", \"Limit\": 0}]}}" \
    >"$out" 2>&1
  rc=$?
  check "UpdateContainer hugepage size 3MB: INVALID_ARGUMENT naming it; $keptwhat kept" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "3MB" "$out" && eval "$kept"'
  ctl call AgentService/UpdateContainer \
    "{\"containerId\": \"lm\", \"resources\": {$valid, \"Network\": {\"ClassID\": 7, \"Priorities\": [{\"Name\": \"a/b\", \"Priority\": 1}]}}}" \
    >"$out" 2>&1
  rc=$?
  check "UpdateContainer interface name a/b: INVALID_ARGUMENT naming it; $keptwhat kept" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q "a/b" "$out" && eval "$kept"'
  if [ $net = yes ]; then
    check "... and classID kept" "$(diag lm)" want "$(cat "$nd/net_cls.classid" 2>&1)" 1048578
  else
    skip 1 "... and classID kept" "$netwhy"
  fi

  # Refused by the kernel half way (no device 4095:1048575): the weight, the
  # read bps line and the new write bps line written before it are undone.
  upd=$(jq -n -c --argjson maj "$maj" --argjson min "$min" --arg wf "$wf" '
    {BlockIO: ({ThrottleReadBpsDevice: [{Major: $maj, Minor: $min, Rate: 4194304}],
      ThrottleWriteBpsDevice: [{Major: $maj, Minor: $min, Rate: 1000000}],
      ThrottleWriteIOPSDevice: [{Major: 4095, Minor: 1048575, Rate: 1}]}
      + (if $wf != "" then {Weight: 400} else {} end))}')
  ctl call AgentService/UpdateContainer "{\"containerId\": \"lm\", \"resources\": $upd}" >"$out" 2>&1
  rc=$?
  check "UpdateContainer with a throttle on a missing device: INVALID_ARGUMENT naming the file" \
    "$(cat "$out"; diag lm)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q blkio.throttle.write_iops_device "$out"'
  check "... ${wf:+weight, }read bps restored, the new write bps rule removed" "$(cat "$out"; diag lm)" eval \
    'weight_kept 300 && [ "$(line "$bd/blkio.throttle.read_bps_device" "$dev")" = 2097152 ] &&
     [ -z "$(line "$bd/blkio.throttle.write_bps_device" "$dev")" ]'

  # hugetlb: on this hybrid host it is bound to the cgroup2, which the agent
  # does not use; with a v1 hugetlb hierarchy the limit is read back.
  local hp=
  for s in /sys/kernel/mm/hugepages/hugepages-2048kB /sys/kernel/mm/hugepages/hugepages-*; do
    [ -d "$s" ] && { hp=$s; break; }
  done
  if [ -z "$hp" ]; then
    skip 1 "UpdateContainer hugepage limit" "the kernel has no huge page sizes"
  else
    local kb=${hp##*hugepages-} name
    kb=${kb%kB}
    if [ "$kb" -ge 1048576 ]; then name=$((kb / 1048576))GB
    elif [ "$kb" -ge 1024 ]; then name=$((kb / 1024))MB; else name=${kb}KB; fi
    ctl call AgentService/UpdateContainer \
      "{\"containerId\": \"lm\", \"resources\": {\"HugepageLimits\": [{\"Pagesize\": \"$name\", \"Limit\": 4194304}]}}" \
      >"$out" 2>&1
    rc=$?
    if [ -d /sys/fs/cgroup/hugetlb ]; then
      check "UpdateContainer hugepage $name limit 4 MiB is in hugetlb.$name.limit_in_bytes" \
        "$(cat "$out"; diag lm)" eval \
        '[ $rc -eq 0 ] && [ "$(cat "/sys/fs/cgroup/hugetlb/$cg_name/lm/hugetlb.$name.limit_in_bytes")" = 4194304 ]'
    else
      say "limits: hugetlb read-back skipped: no v1 hugetlb hierarchy (it is on the cgroup2 here)"
      check "UpdateContainer hugepage $name without a v1 hugetlb hierarchy: FAILED_PRECONDITION naming hugetlb" \
        "$(cat "$out"; diag lm)" eval \
        '[ $rc -ne 0 ] && grep -q FAILED_PRECONDITION "$out" && grep -q hugetlb "$out"'
    fi
  fi

  ctl call AgentService/RemoveContainer '{"containerId": "lm", "timeout": 20}' >"$out" 2>&1
  rc=$?
  check "RemoveContainer: OK, blkio cgroup gone" "$(cat "$out"; diag lm)" eval \
    '[ $rc -eq 0 ] && [ ! -d "$bd" ]'
  if [ $net = yes ]; then
    check "... and the net_cls,net_prio one" "$(diag lm)" eval '[ ! -d "$nd" ]'
  else
    skip 1 "... and the net_cls,net_prio one" "$netwhy"
  fi
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null

  # A refused value at create: nothing is left behind.
  b=$(bundle lbad true)
  jqset "$b" 'del(.linux.cgroupsPath) | .linux.resources = {blockIO: {weight: 5}}'
  run_ lbad "$b"
  check "create with blockIO weight 5: INVALID_ARGUMENT, no cgroup left" "$(diag lbad)" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$work/lbad.err" && [ ! -d "$blk/$cg_name/lbad" ]'
  limits_netcg_clean
  agent_stop
}

t_limits
