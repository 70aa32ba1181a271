#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: network. Prints TAP.
#
#   network.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 13
suite_requires

# The guest network RPCs (agentd/executor/handlers/network.c) against an agent in a
# network namespace of its own, with a veth pair made there: this host's
# network is never touched.
t_network() {
  agent_netns=1 agent_start network || return
  local out="$work/net.out" ns=(nsenter -t "$agent_pid" -n)
  if ! "${ns[@]}" ip link add kv0 type veth peer name kv1 2>"$out" ||
    ! "${ns[@]}" ip link set kv0 address 02:42:ac:11:00:02 2>>"$out"; then
    skip_rest "cannot make a veth pair ($(cat "$out"))"
    agent_stop
    return
  fi
  local host_links
  host_links=$(ip -br link | wc -l)
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:00:02",
    "mtu": 1400, "IPAddresses": [{"address": "172.17.0.2", "mask": "16"}, {"family": "v6", "address": "fd00::2", "mask": "64"}]}}' \
    >"$out" 2>&1
  rc=$?
  check "UpdateInterface: kv0 found by MAC, renamed eth0, mtu 1400, 172.17.0.2/16, up" \
    "$(cat "$out"; "${ns[@]}" ip addr)" eval \
    '[ $rc -eq 0 ] && "${ns[@]}" ip -o link show eth0 | grep "mtu 1400" >/dev/null &&
     "${ns[@]}" ip -o addr show eth0 | grep "inet 172.17.0.2/16" >/dev/null &&
     "${ns[@]}" ip -o link show eth0 | grep "[<,]UP[,>]" >/dev/null && [ "$(jq -r .name "$out")" = eth0 ]'
  ctl call AgentService/UpdateRoutes '{"routes": {"Routes": [
      {"dest": "", "gateway": "172.17.0.1", "device": "eth0"},
      {"dest": "10.10.0.0/24", "device": "eth0", "scope": 253}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateRoutes: a link route and a default route via 172.17.0.1 (link route first)" \
    "$(cat "$out"; "${ns[@]}" ip route)" eval \
    '[ $rc -eq 0 ] && "${ns[@]}" ip route | grep "^default via 172.17.0.1 dev eth0" >/dev/null &&
     "${ns[@]}" ip route | grep "^10.10.0.0/24 dev eth0" >/dev/null'
  ctl call AgentService/ListRoutes '{}' >"$out" 2>&1
  rc=$?
  check "ListRoutes: the default route and 10.10.0.0/24 on eth0" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && jq -e ".Routes[] | select(.gateway == \"172.17.0.1\" and .device == \"eth0\")" "$out" >/dev/null &&
     jq -e ".Routes[] | select(.dest == \"10.10.0.0/24\")" "$out" >/dev/null'
  ctl call AgentService/ListInterfaces '{}' >"$out" 2>&1
  rc=$?
  check "ListInterfaces: eth0 with its MAC, mtu and address; lo" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && jq -e ".Interfaces[] | select(.name == \"eth0\" and .hwAddr == \"02:42:ac:11:00:02\" and .mtu == \"1400\") | .IPAddresses[] | select(.address == \"172.17.0.2\" and .mask == \"16\")" "$out" >/dev/null &&
     jq -e ".Interfaces[] | select(.name == \"lo\")" "$out" >/dev/null'
  ctl call AgentService/AddARPNeighbors '{"neighbors": {"ARPNeighbors": [
      {"toIPAddress": {"address": "172.17.0.9"}, "device": "eth0", "lladdr": "02:42:ac:11:00:09"}]}}' >"$out" 2>&1
  rc=$?
  check "AddARPNeighbors: a permanent entry 172.17.0.9 lladdr 02:42:ac:11:00:09" \
    "$(cat "$out"; "${ns[@]}" ip neigh)" eval \
    '[ $rc -eq 0 ] && "${ns[@]}" ip neigh show 172.17.0.9 | grep "lladdr 02:42:ac:11:00:09 PERMANENT" >/dev/null'

  # refusals: nothing changes
  local before
  before=$("${ns[@]}" ip -o addr; "${ns[@]}" ip -o link; "${ns[@]}" ip route)
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:zz:02"}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface with a bad MAC: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && grep -q hwAddr "$out"'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:00:02",
    "IPAddresses": [{"address": "172.17.0.3", "mask": "16"}, {"address": "1.2.3", "mask": "8"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface with address 1.2.3 second: INVALID_ARGUMENT, the first not added" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && ! "${ns[@]}" ip -o addr | grep 172.17.0.3 >/dev/null'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth0", "hwAddr": "02:42:ac:11:00:02",
    "IPAddresses": [{"address": "172.17.0.4", "mask": "33"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface with prefix 33: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "eth9", "hwAddr": "02:00:00:00:00:99"}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface of an unknown MAC: NOT_FOUND" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  ctl call AgentService/UpdateInterface '{"interface": {"name": "a/b", "hwAddr": "02:42:ac:11:00:02"}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface renaming to a/b: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out"'
  ctl call AgentService/UpdateRoutes '{"routes": {"Routes": [{"dest": "10.20.0.0/24", "device": "nosuch0"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateRoutes on an unknown device: NOT_FOUND" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q NOT_FOUND "$out"'
  check "the refused requests changed nothing in the agent's namespace" "" eval \
    '[ "$before" = "$("${ns[@]}" ip -o addr; "${ns[@]}" ip -o link; "${ns[@]}" ip route)" ]'
  check "the host's links are untouched" "$(ip -br link)" eval \
    '[ "$(ip -br link | wc -l)" = "$host_links" ] && ! ip link show eth0 2>/dev/null | grep 02:42:ac:11:00:02 >/dev/null'
  agent_stop
}

t_network
