#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: metrics. Prints TAP.
#
#   metrics.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 11
suite_requires

# metric_value FILE SAMPLE-PREFIX: the value of the first sample line that
# starts with SAMPLE-PREFIX followed by a space.
metric_value() { awk -v p="$2" 'index($0, p " ") == 1 { print $NF; exit }' "$1"; }

# start_time PID: the process's start, seconds since the epoch, as GetMetrics
# computes it (btime + starttime / CLK_TCK), to two decimals.
start_time() {
  local st btime hz
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)
  btime=$(awk '/^btime / {print $2}' /proc/stat)
  hz=$(getconf CLK_TCK)
  [ -n "$st" ] && awk -v b="$btime" -v s="$st" -v h="$hz" 'BEGIN { printf "%.2f\n", b + s / h }'
}

# prom_check FILE: Prometheus text 0.0.4 syntax; prints what is wrong.
prom_check() {
  python3 - "$1" <<'EOF'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
value = r'(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]Inf|NaN)'
sample = re.compile(r'^(%s)(?:\{(?:%s(?:,%s)*)?\})? %s(?: -?[0-9]+)?$' % (name, label, label, value))
text = open(sys.argv[1], encoding='utf-8').read()
bad = []
types = {}
if not text.endswith('\n'):
    bad.append('no final newline')
for line in text.split('\n')[:-1]:
    if line.startswith('# TYPE '):
        f = line.split()
        if len(f) != 4 or f[3] not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
            bad.append('bad TYPE line: ' + line)
        elif f[2] in types:
            bad.append('second TYPE line for ' + f[2])
        else:
            types[f[2]] = True
    elif line.startswith('#'):
        continue
    else:
        m = sample.match(line)
        if not m:
            bad.append('not a sample: ' + line)
        elif m.group(1) not in types:
            bad.append('sample before its TYPE line: ' + line)
for b in bad[:10]:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

t_metrics() {
  agent_start metrics || return
  local b out="$work/metrics.out" txt="$work/metrics.txt"
  b=$(bundle msleeper sh -c 'echo ready; exec sleep 1000')
  ctl run "$b" --id ms </dev/null >"$work/ms.out" 2>"$work/ms.err" &
  local run_pid=$!
  if ! wait_for_file_text "$work/ms.out" ready 200; then
    rc=-
    tap FAIL "metrics: a container starts" "$(diag ms)"
    kill "$run_pid" 2>/dev/null
    agent_stop
    return
  fi
  local mon launcher
  mon=$(child_named "$executor_pid" kata-agent-moni)
  # kata-agent-launcher once idle after the start, the executor's fork
  # before: it may exec between the two lookups (200 ms after the start,
  # about when the container says ready), so look again until one finds it.
  for _ in $(seq 1 50); do
    launcher=$(child_named "$mon" kata-agent-laun || child_named "$mon" kata-agent-exec) && break
    sleep 0.1
  done

  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  rc=$?
  jq -j .metrics "$out" >"$txt" 2>/dev/null
  check "GetMetrics answers with text" "$(head -c 1000 "$out")" \
    eval '[ $rc -eq 0 ] && [ -s "$txt" ] && [ "$(metric_value "$txt" kata_agent_scrape_count)" = 1 ]'
  local role pid p ok=1 why=
  for role in parent frontend executor monitor; do
    case $role in
      parent) pid=$agent_pid; p="process=\"parent\"" ;;
      frontend) pid=$frontend_pid; p="process=\"frontend\"" ;;
      executor) pid=$executor_pid; p="process=\"executor\"" ;;
      monitor) pid=$mon; p="process=\"monitor\",container_id=\"ms\"" ;;
    esac
    # the start time names the process: it must be the one we know by pid
    if [ -z "$pid" ] || [ "$(metric_value "$txt" "kata_agent_start_time_seconds{$p}")" != "$(start_time "$pid")" ]; then
      ok=0; why="$why $role(pid ${pid:-?}): start time $(metric_value "$txt" "kata_agent_start_time_seconds{$p}") != $(start_time "${pid:-0}");"
    fi
    for f in threads total_time total_vm total_rss open_fds max_fds; do
      [ -n "$(metric_value "$txt" "kata_agent_${f}{$p}")" ] || { ok=0; why="$why no kata_agent_${f}{$p};"; }
    done
    grep -q "^kata_agent_proc_status{$p,item=\"vmrss\"} [0-9]" "$txt" || { ok=0; why="$why no vmrss for $role;"; }
  done
  check "kata_agent_* families for parent, frontend, executor and the container's monitor (their start times match their pids)" \
    "$why" want "$ok" 1
  check "the container's launcher is there too (pid ${launcher:-none found})" "launcher pid ${launcher:-none}; monitor $mon; $(for p in $(descendants "$executor_pid"); do echo "$p<-$(ppid_of "$p"):$(comm_of "$p")"; done | tr '\n' ' ')" \
    eval '[ -n "$launcher" ] && [ "$(metric_value "$txt" "kata_agent_start_time_seconds{process=\"launcher\",container_id=\"ms\"}")" = "$(start_time "$launcher")" ]'
  check "the monitor's max_fds is its RLIMIT_NOFILE" "$(grep "^Max open files" "/proc/$mon/limits")" \
    want "$(metric_value "$txt" "kata_agent_max_fds{process=\"monitor\",container_id=\"ms\"}")" \
    "$(awk '/^Max open files/ {print $4}' "/proc/$mon/limits")"
  local fam missing=
  for fam in 'kata_guest_meminfo{item="mem_total"}' 'kata_guest_load{item="load1"}' \
    'kata_guest_tasks{item="cur"}' 'kata_guest_cpu_time{cpu="total",item="user"}' \
    'kata_guest_vm_stat{item="pgfault"}' 'kata_guest_netdev_stat{interface="lo",item="recv_bytes"}'; do
    [ -n "$(metric_value "$txt" "$fam")" ] || missing="$missing $fam"
  done
  if [ -s /proc/diskstats ]; then
    local disk
    disk=$(awk 'NR == 1 {print $3}' /proc/diskstats)
    [ -n "$(metric_value "$txt" "kata_guest_diskstat{disk=\"$disk\",item=\"reads\"}")" ] ||
      missing="$missing diskstat($disk)"
  fi
  check "kata_guest_* families: meminfo, load, tasks, cpu_time, vm_stat, netdev_stat, diskstat" \
    "missing:$missing" want "$missing" ""
  check "the mem_total is /proc/meminfo's MemTotal in bytes" "" \
    want "$(metric_value "$txt" 'kata_guest_meminfo{item="mem_total"}')" \
    "$(awk '/^MemTotal:/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo)"
  check "every line is a comment or a Prometheus sample; one TYPE line per family" \
    "$(prom_check "$txt" 2>&1)" prom_check "$txt"

  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  check "a second GetMetrics counts the scrape" "$(head -c 500 "$out")" \
    want "$(jq -r .metrics "$out" | awk '$1 == "kata_agent_scrape_count" {print $2}')" 2

  # A restarted front-end is reported under its new pid (CTL_NEW_FRONTEND
  # carries it to the executor).
  local fe_old=$frontend_pid fe_new=
  kill -KILL "$fe_old" 2>/dev/null
  for _ in $(seq 1 100); do
    fe_new=$(child_named "$agent_pid" kata-agent-fron)
    [ -n "$fe_new" ] && [ "$fe_new" != "$fe_old" ] && ctl check >/dev/null 2>&1 && break
    sleep 0.1
  done
  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  jq -j .metrics "$out" >"$txt" 2>/dev/null
  check "after a front-end restart, process=\"frontend\" is the new front-end" \
    "old $fe_old new $fe_new; $(grep 'start_time_seconds{process="frontend"' "$txt")" \
    eval '[ -n "$fe_new" ] && [ "$fe_new" != "$fe_old" ] &&
      [ "$(metric_value "$txt" "kata_agent_start_time_seconds{process=\"frontend\"}")" = "$(start_time "$fe_new")" ]'

  ctl call AgentService/RemoveContainer '{"containerId": "ms", "timeout": 20}' >/dev/null 2>&1
  kill "$run_pid" 2>/dev/null
  wait "$run_pid" 2>/dev/null
  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  rc=$?
  check "with the container gone, GetMetrics answers without its monitor" "$(head -c 500 "$out")" \
    eval '[ $rc -eq 0 ] && ! jq -r .metrics "$out" | grep "container_id=\"ms\"" >/dev/null'
  agent_stop

  # A text above 64 KiB travels in a sealed memfd, which the confined
  # front-end must map: an agent in its own network namespace with 400
  # bridges or dummy links (16 netdev samples each; whichever the kernel
  # has) answers with about 400 KiB.
  local kind=
  for k in bridge dummy; do
    unshare -n ip link add kprobe0 type $k 2>/dev/null && { kind=$k; break; }
  done
  if [ -z "$kind" ]; then
    skip 1 "a 400 KiB metrics text (memfd)" "neither bridge nor dummy links (modules) to fill a namespace with"
    return
  fi
  work="$top/metrics-big"
  mkdir -p "$work/shared"
  addr="unix://$work/agent.sock"
  cg_name="kata-test-$$-metrics-big"
  echo "agent.server_addr=$addr agent.log=${KATA_TEST_LOG:-info}" >"$work/cmdline"
  cat >"$work/netns.sh" <<EOF
#!/bin/sh
ip link set lo up || exit 1
i=0
while [ \$i -lt 400 ]; do i=\$((i + 1)); ip link add br\$i type $kind || exit 1; done
exec "$agent" --cmdline "$work/cmdline" --shared-dir "$work/shared" --cgroup-parent "/$cg_name"
EOF
  chmod +x "$work/netns.sh"
  setsid unshare -m -n --propagation private -- "$work/netns.sh" >"$work/agent.log" 2>&1 </dev/null &
  agent_pid=$!
  # 400 links take the rtnl lock 400 times: seconds on a loaded machine
  for _ in $(seq 1 600); do
    [ -S "$work/agent.sock" ] && ctl check >/dev/null 2>&1 && break
    sleep 0.1
  done
  ctl call AgentService/GetMetrics '{}' >"$out" 2>&1
  rc=$?
  jq -j .metrics "$out" >"$txt" 2>/dev/null
  check "a 400 KiB metrics text (memfd) reaches the host whole and valid" \
    "$(head -c 300 "$out"; tail -n 5 "$work/agent.log")" eval \
    '[ $rc -eq 0 ] && [ "$(stat -c %s "$txt")" -gt 262144 ] &&
     [ -n "$(metric_value "$txt" "kata_guest_netdev_stat{interface=\"br400\",item=\"sent_compressed\"}")" ] &&
     prom_check "$txt" >/dev/null'
  agent_stop
}

t_metrics
