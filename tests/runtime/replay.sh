#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run one runtime replay scenario (tests/runtime/*.json) against a fresh
# agent stand-alone: start the agent (tests/lib/agent.sh agent_start, its
# own mount namespace, shared dir and cgroup parent), then
# `kata-agent-ctl replay SCENARIO` on one connection; its TAP (plan first)
# is this suite's TAP.
#
#   replay.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE SCENARIO.json
#
# Variables the scenarios use: KATA (the shared dir, standing in for the
# guest's /run/kata-containers), MKBUNDLE, AGENT_PID (the agent's parent,
# for leftover checks), CG (the agent's cgroup parent name),
# SANDBOX_STORAGES (the shared-filesystem storage of CreateSandbox: none
# stand-alone, where the shared dir is a plain directory; the VM suite
# passes the 9p one), PAUSE_OOM_SCORE_ADJ (see below).
. "$(dirname "$0")/../lib/agent.sh" "$@"
trap agent_cleanup EXIT
scenario=${4:?usage: $0 KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE SCENARIO.json}
name=$(basename "$scenario" .json)

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
  echo "1..1"
  if [ "${CI:-}" = true ]; then echo "not ok 1 - $name: needs root and unshare"; exit 1; fi
  echo "ok 1 - $name # SKIP needs root and unshare"
  exit 0
fi
if ! agent_start "$name" >"$top/start.tap" 2>&1; then
  echo "1..1"
  echo "not ok 1 - $name: the agent starts"
  sed 's/^/# /' "$top/start.tap"
  exit 1
fi
# kubelet gives the pause container oom_score_adj -998; a root without
# CAP_SYS_RESOURCE (some CI sandboxes) may not lower it: play 0 there.
oom=()
if ! sh -c 'echo -998 >/proc/self/oom_score_adj' 2>/dev/null; then
  echo "# this host's root cannot lower oom_score_adj (no CAP_SYS_RESOURCE): the pause container gets 0, not -998"
  oom=(PAUSE_OOM_SCORE_ADJ=0)
fi
"$ctl_bin" --addr "$addr" replay "$scenario" KATA="$shared" MKBUNDLE="$mkbundle" \
  AGENT_PID="$agent_pid" CG="$cg_name" SANDBOX_STORAGES='[]' "${oom[@]}" 2>"$work/replay.err"
rc=$?
if [ $rc -ne 0 ]; then
  echo "# replay stderr:"; tail -n 20 "$work/replay.err" | sed 's/^/# /'
  echo "# agent log:"; tail -n 30 "$work/agent.log" | sed 's/^/# /'
fi
exit $rc
