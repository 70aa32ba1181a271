# SPDX-License-Identifier: Apache-2.0
# What the guest-component suites share (tests/guestcomp/guestcomp.sh and
# tests/security/guestcomp.sh), on top of tests/lib/agent.sh:
#
#   arguments: KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#   environment: GC_STANDIN (tests/guestcomp/gc-standin), MAKE_INITDATA
#   (tests/guestcomp/make-initdata), TEST_CDH, CDH_CALL (tests/cdh)
#
# gc_prepare NAME    a fresh $work with bin/ (the stand-ins installed under
#                    the three components' names, root's, 0755), run/,
#                    rec/ (what the stand-ins record, GC_STANDIN_DIR)
# gc_start OPTIONS [AGENT ARGS...]
#                    the agent with these kernel command line options, in
#                    a private mount namespace where /run is $work/run and
#                    /usr/local/bin is $work/bin (the paths upstream fixes,
#                    so the agent runs unchanged; $GC_NS_SETUP, when set
#                    and exported, is eval'd there first). Returns 0 once it serves
#                    grpc.Health/Check; 1 if it exited first (its status in
#                    $rc) or did not serve within 30 s.
# gc_log_has TEXT    the agent's log has a line with TEXT
# gc_error_has TEXT  ... at ERROR level
# gc_doc FILE        a valid initdata document with aa.toml, cdh.toml and
#                    policy.rego (cdh.toml: the CDH's socket, [kbc] and
#                    [test_cdh] resources = $work/res)
. "$(dirname "${BASH_SOURCE[0]}")/../lib/agent.sh" "$@"

standin=${GC_STANDIN:-}
mkinitdata=${MAKE_INITDATA:-}
gc_names=(attestation-agent confidential-data-hub api-server-rest)

gc_requires() {
  suite_requires
  local b
  for b in "$standin" "$mkinitdata"; do
    [ -n "$b" ] && [ -x "$b" ] || { fail_rest "missing ${b:-GC_STANDIN or MAKE_INITDATA} (not built?)"; exit 1; }
  done
  need_tool python3
}

gc_prepare() {
  agent_stop
  work="$top/$1"
  shared="$work/shared"
  mkdir -p "$work/bin" "$work/run" "$work/rec" "$shared" "$work/res"
  chmod 755 "$work" "$work/bin"
  local n
  for n in "${gc_names[@]}"; do
    install -m 0755 "$standin" "$work/bin/$n"
  done
  export GC_STANDIN_DIR="$work/rec"
  unset GC_STANDIN_AA GC_STANDIN_CDH GC_STANDIN_API
}

gc_start() {
  local opts=$1
  shift
  local sock="$work/agent.sock"
  addr="unix://$sock"
  cg_name="kata-test-$$-$(basename "$work")"
  echo "agent.server_addr=$addr agent.log=debug $opts" >"$work/cmdline"
  setsid unshare -m --propagation private -- sh -c \
    'mount --bind "$0/run" /run && mount --bind "$0/bin" /usr/local/bin &&
     { [ -z "${GC_NS_SETUP:-}" ] || eval "$GC_NS_SETUP"; } && exec "$@"' \
    "$work" "$agent" --cmdline "$work/cmdline" --shared-dir "$shared" \
    --cgroup-parent "/$cg_name" "$@" >"$work/agent.log" 2>&1 </dev/null &
  agent_pid=$!
  rc=
  for _ in $(seq 1 300); do
    if [ -S "$sock" ] && timeout 5 "$ctl_bin" --addr "$addr" check >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$agent_pid" 2>/dev/null; then
      wait "$agent_pid"
      rc=$?
      agent_pid=
      return 1
    fi
    sleep 0.1
  done
  return 1
}

gc_log_has() { grep -F -- "$1" "$work/agent.log" | grep -q '"msg"'; }
gc_error_has() { grep -F -- "$1" "$work/agent.log" | grep -q '"level":"ERRO"'; }

gc_doc() {
  cat >"$1" <<EOF
algorithm = "sha384"
version = "0.1.0"

[data]
"aa.toml" = '''
[token_configs.kbs]
url = "http://kbs.example:8080"
'''
"cdh.toml" = '''
socket = 'unix:///run/confidential-containers/cdh.sock'

[kbc]
name = 'cc_kbc'
url = 'http://kbs.example:8080'

[test_cdh]
resources = '$work/res'
'''
"policy.rego" = '''
package agent_policy

default ExecProcessRequest := false
'''
EOF
}

# events of the stand-ins, one per line, without the socket paths
gc_events() { sed 's/ listening .*/ listening/' "$work/rec/events" 2>/dev/null; }
# one line of a stand-in's record: gc_rec NAME KEY -> the values, one per line
gc_rec() { sed -n "s/^$2 //p" "$work/rec/$1.record" 2>/dev/null; }
