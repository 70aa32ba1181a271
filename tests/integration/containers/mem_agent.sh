#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The mem-agent through the real agent: agent.mem_agent_* on the command
# line, MemAgentMemcgSet / MemAgentCompactSet (front-end checks, the
# executor's check again and its mem-agent, agentd/executor/memagent/), and
# what the kernel shows of it: compactions in /proc/vmstat, and with MGLRU
# the memcg generations in debugfs lru_gen. Requests are shaped as
# kata-agent-ctl builds them (src/tools/agent-ctl/src/client.rs
# agent_cmd_mem_agent_memcg_set / agent_cmd_mem_agent_compact_set:
# utils::make_request of the JSON argument into MemAgentMemcgConfig /
# MemAgentCompactConfig, snake_case field names); the Go runtime and
# runtime-rs do not call them. Prints TAP.
#
#   mem_agent.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 18
rc=0
suite_requires
need_tool jq

pol="$(cd "$(dirname "$0")/../../policy/agent" && pwd)"

call() { # call NAME METHOD JSON: $work/NAME.{out,err}, $rc
  ctl call "AgentService/$2" "$3" >"$work/$1.out" 2>"$work/$1.err"
  rc=$?
  return $rc
}
failed() { # failed NAME STATUS TEXT
  [ "$rc" -ne 0 ] && grep -q "$2" "$work/$1.err" && grep -qF -- "$3" "$work/$1.err"
}
diag() { { echo "exit status: $rc"; cat "$work/$1.out" "$work/$1.err" | head -c 2000; echo "-- agent log";
  grep -i "mem-agent\|MEM_AGENT" "$work/agent.log" | tail -n 8; } 2>/dev/null; }
count_log() { grep -c "$1" "$work/agent.log"; }
wait_log_count() { # wait_log_count TEXT N [tenths]: until TEXT is in the log N times
  for _ in $(seq 1 "${3:-300}"); do
    [ "$(count_log "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
vmstat_compact() { awk '$1 == "compact_migrate_scanned" || $1 == "compact_free_scanned" ||
  $1 == "compact_isolated" { n += $2 } END { print n + 0 }' /proc/vmstat; }

# Without agent.mem_agent_enable: upstream's answer, after the policy.
t_disabled() {
  agent_start disabled || return
  call m0 MemAgentMemcgSet '{"disabled": false}'
  check "MemAgentMemcgSet, mem-agent not enabled: INTERNAL mem-agent is disabled" "$(diag m0)" \
    failed m0 INTERNAL "mem-agent is disabled"
  call c0 MemAgentCompactSet '{"period_secs": 60}'
  check "MemAgentCompactSet, mem-agent not enabled: INTERNAL mem-agent is disabled" "$(diag c0)" \
    failed c0 INTERNAL "mem-agent is disabled"
  # Range checks come first (the front-end), as for every other RPC.
  call c1 MemAgentCompactSet '{"compact_order": 11}'
  check "an out-of-range field is INVALID_ARGUMENT even so" "$(diag c1)" \
    failed c1 INVALID_ARGUMENT "compact_order 11 is out of range (0 to 10)"
  # The policy is asked before the mem-agent's state, as upstream's
  # is_allowed comes first.
  call pol SetPolicy "$(jq -Rs '{policy: .}' "$pol/mem_agent.rego")"
  local p=$rc
  call pm MemAgentMemcgSet '{"disabled": true}'
  local m=$rc
  call pc MemAgentCompactSet '{"disabled": false}'
  check "policy: MemAgentMemcgSet and MemAgentCompactSet disabled=false denied (PERMISSION_DENIED before the mem-agent's state)" \
    "$(diag pol; diag pm; diag pc)" eval \
    '[ $p -eq 0 ] && rc=$m failed pm PERMISSION_DENIED "MemAgentMemcgConfig is blocked by policy" &&
     failed pc PERMISSION_DENIED "MemAgentCompactConfig is blocked by policy"'
  call pa MemAgentCompactSet '{"disabled": true}'
  check "policy: MemAgentCompactSet disabled=true allowed, then INTERNAL mem-agent is disabled" "$(diag pa)" \
    failed pa INTERNAL "mem-agent is disabled"
  agent_stop
}

t_enabled() {
  local have_compact=1
  [ -w /proc/sys/vm/compact_memory ] || have_compact=
  # Compaction every second, forced, whatever the pressure: the first at
  # start (upstream's first period is due at once).
  local before
  before=$(vmstat_compact)
  agent_cmdline="agent.mem_agent_enable=1 agent.mem_agent_compact_period_secs=1
    agent.mem_agent_compact_force_times=0 agent.mem_agent_compact_period_psi_percent_limit=100
    agent.mem_agent_compact_psi_percent_limit=100 agent.mem_agent_compact_sec_max=30
    agent.mem_agent_memcg_period_secs=5 agent.mem_agent_memcg_disable=1"
  agent_cmdline=${agent_cmdline//$'\n'/}
  agent_start enabled || return
  unset agent_cmdline
  check "the announce line carries the mem-agent's settings from the command line" \
    "$(grep -m1 announce "$work/agent.log" | head -c 2000)" eval \
    'grep -m1 announce "$work/agent.log" | jq -e ".config.mem_agent | test(\"enable=1,\") and
       test(\"compact_period_secs=1,\") and test(\"compact_force_times=0\") and
       test(\"memcg_period_secs=5,\")" >/dev/null'
  check "the executor logs which parts of the mem-agent run" "$(diag none)" \
    wait_log_count "mem-agent started: memcg reclaim" 1
  if [ -n "$have_compact" ]; then
    wait_log_count "mem-agent: compaction ended" 1
    check "a compaction at start: the child ran, the kernel's compaction counters moved" \
      "$(diag none; echo "vmstat: $before -> $(vmstat_compact)")" eval \
      '[ "$(count_log "mem-agent: compaction ended (done)")" -ge 1 ] && [ "$(vmstat_compact)" -gt "$before" ]'
    check "one each period: a second compaction a period later" "$(diag none)" \
      wait_log_count "mem-agent: compaction ended" 2
  else
    skip 2 "compaction" "kernel: no /proc/sys/vm/compact_memory (CONFIG_COMPACTION)"
  fi

  # Disabled, then on again with another period (upstream set_disabled:
  # the next period counted from the request).
  call off MemAgentCompactSet '{"disabled": true}'
  local applied n_off
  wait_log_count "mem-agent: compaction ended" "$(($(count_log "mem-agent: compaction started")))" 50
  n_off=$(count_log "mem-agent: compaction started")
  sleep 3 # three periods: a compaction would have started by now
  check "MemAgentCompactSet disabled=true: OK, and no compaction starts for three periods" \
    "$(diag off)" eval '[ $rc -eq 0 ] && [ "$(count_log "mem-agent: compaction started")" -eq "$n_off" ]'
  call on MemAgentCompactSet '{"disabled": false, "period_secs": 1, "compact_sec_max": 5}'
  applied=$rc
  if [ -n "$have_compact" ]; then
    check "disabled=false period_secs=1: OK, and compactions start again" "$(diag on)" eval \
      '[ $applied -eq 0 ] && wait_log_count "mem-agent: compaction started" $((n_off + 1))'
  else
    check "disabled=false period_secs=1: OK" "$(diag on)" eval '[ $applied -eq 0 ]'
  fi
  # (memcg reclaim stays off: stand-alone, the memcgs are this machine's)
  call mset MemAgentMemcgSet '{"disabled": true, "swap": true, "swappiness_max": 60,
    "period_secs": 30, "period_psi_percent_limit": 5, "eviction_psi_percent_limit": 5,
    "eviction_run_aging_count_min": 2}'
  check "MemAgentMemcgSet with every field, in range: OK" "$(diag mset)" eval '[ $rc -eq 0 ]'

  # Hostile values: each refused naming its field, the settings unchanged.
  local bad=
  while IFS='|' read -r name method json text; do
    call "$name" "$method" "$json"
    failed "$name" INVALID_ARGUMENT "$text" || bad+=" $name"
  done <<'EOF'
pct|MemAgentCompactSet|{"period_psi_percent_limit": 101}|period_psi_percent_limit 101 is out of range (0 to 100)
cpct|MemAgentCompactSet|{"compact_psi_percent_limit": 4294967295}|compact_psi_percent_limit 4294967295 is out of range
order|MemAgentCompactSet|{"compact_order": 11}|compact_order 11 is out of range (0 to 10)
zero|MemAgentCompactSet|{"period_secs": 0}|period_secs 0 is out of range
huge|MemAgentCompactSet|{"period_secs": "18446744073709551615"}|period_secs 18446744073709551615 is out of range
neg|MemAgentCompactSet|{"compact_sec_max": "-1"}|compact_sec_max -1 is out of range
thr|MemAgentCompactSet|{"compact_threshold": "18446744073709551615"}|compact_threshold 18446744073709551615 is out of range
swp|MemAgentMemcgSet|{"swappiness_max": 201}|swappiness_max 201 is out of range (0 to 200)
mzero|MemAgentMemcgSet|{"period_secs": 0}|period_secs 0 is out of range
epct|MemAgentMemcgSet|{"eviction_psi_percent_limit": 200}|eviction_psi_percent_limit 200 is out of range
EOF
  check "hostile values (percent > 100, order > 10, period 0 or 2^64-1, negative seconds, a wrapped -1): INVALID_ARGUMENT naming the field" \
    "$(for n in $bad; do diag "$n"; done)" eval '[ -z "$bad" ]'
  call mixed MemAgentCompactSet '{"disabled": true, "compact_order": 12}'
  local n_started
  n_started=$(count_log "mem-agent: compaction started")
  if [ -n "$have_compact" ]; then
    check "a request with one bad field changes nothing: compactions go on" "$(diag mixed)" eval \
      'failed mixed INVALID_ARGUMENT "compact_order 12" && wait_log_count "mem-agent: compaction started" $((n_started + 1))'
  else
    check "a request with one bad field: INVALID_ARGUMENT" "$(diag mixed)" \
      failed mixed INVALID_ARGUMENT "compact_order 12"
  fi

  # memcg reclaim needs MGLRU and its debugfs file, and PSI in the memory
  # cgroups: the agent says which it lacks. Where it runs, the memcgs are
  # this machine's: aging only (a new generation), never an eviction.
  if [ -e /sys/kernel/mm/lru_gen/enabled ] && [ -e /sys/kernel/debug/lru_gen ] &&
    ! grep -q "memcg reclaim unavailable" "$work/agent.log"; then
    local id gen0
    id=$(awk '$1 == "memcg" && $3 == "/" { print $2; exit }' /sys/kernel/debug/lru_gen)
    gen0=$(awk -v id="$id" '$1 == "memcg" { cur = ($2 == id) } cur && NF == 4 { m = $1 } END { print m + 0 }' /sys/kernel/debug/lru_gen)
    call fast MemAgentMemcgSet '{"disabled": false, "period_secs": 1, "period_psi_percent_limit": 100,
      "eviction_run_aging_count_min": "18446744073709551615"}'
    check "memcg reclaim: a memcg's youngest generation advances (aging)" "$(diag fast)" eval \
      'for _ in $(seq 1 900); do g=$(awk -v id="$id" "\$1 == \"memcg\" { cur = (\$2 == id) } cur && NF == 4 { m = \$1 } END { print m + 0 }" /sys/kernel/debug/lru_gen); [ "$g" -gt "$gen0" ] && break; sleep 0.1; done; [ "$g" -gt "$gen0" ]'
  else
    skip 1 "memcg reclaim: a memcg's youngest generation advances" \
      "kernel: $(grep -o '"msg":"mem-agent: memcg reclaim disabled: kernel: [^"]*' "$work/agent.log" |
        head -1 | sed 's/.*kernel: //')"
  fi
  agent_stop
}

# The mem-agent's settings from the config file: mem_agent_* keys, typed.
t_config() {
  agent_toml='mem_agent_enable = true
mem_agent_compact_disable = true
mem_agent_memcg_disable = true
mem_agent_compact_order = 8'
  agent_start config || return
  unset agent_toml
  check "config file: mem_agent_* keys reach the executor" \
    "$(grep -m1 announce "$work/agent.log" | head -c 2000)" eval \
    'grep -m1 announce "$work/agent.log" | jq -e ".config.mem_agent | test(\"compact_disable=1,\") and test(\"compact_order=8,\")" >/dev/null &&
     wait_log_count "compaction disabled\|compaction unavailable" 1'
  call set MemAgentCompactSet '{"compact_order": 10}'
  check "config file: the mem-agent runs and takes MemAgentCompactSet" "$(diag set)" eval '[ $rc -eq 0 ]'
  agent_stop
  agent_toml='mem_agent_enable = true
mem_agent_compact_period_psi_percent_limit = 101'
  printf 'server_addr = "unix:///nonexistent"\n%s\n' "$agent_toml" >"$top/bad.toml"
  "$agent" --config "$top/bad.toml" >"$top/bad.log" 2>&1
  local brc=$?
  unset agent_toml
  check "config file: a mem_agent_* value out of range stops the agent at start, naming the key" \
    "$(cat "$top/bad.log")" eval \
    '[ $brc -ne 0 ] && grep -q "mem_agent_compact_period_psi_percent_limit: out of range (0 to 100)" "$top/bad.log"'
}

t_disabled
t_enabled
t_config
