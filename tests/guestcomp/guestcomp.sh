#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# initdata at start and the guest components, with the real agent
# stand-alone (agentd/parent/initdata_boot.c, guest_components.c): stand-in
# components (tests/guestcomp/gc-standin.c) record their argv, environment,
# credentials and fds and create their sockets (or never do, or exit), the
# test CDH stands in for the CDH with the initdata's cdh.toml, and the
# kernel command line options are those the runtime passes
# (agent.guest_components_procs, agent.guest_components_rest_api,
# agent.launch_process_timeout: kata_agent.go, runtime-rs kata-types).
# Prints TAP.
#
#   guestcomp.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#   (environment: see tests/guestcomp/lib.sh)
. "$(dirname "$0")/lib.sh" "$@"
plan 32
gc_requires

AA_SOCK=/run/confidential-containers/attestation-agent/attestation-agent.sock
IDIR=/run/confidential-containers/initdata

# 1. initdata given, every component, the attestation agent slow to listen:
#    each socket is awaited before the next starts, the front-end last.
t_full() {
  gc_prepare full
  gc_doc "$work/doc.toml"
  "$mkinitdata" "$work/initdata.img" "$work/doc.toml" || { fail_rest "make-initdata failed"; return; }
  export GC_STANDIN_AA=delay:1000
  if ! gc_start "agent.guest_components_procs=api-server-rest agent.guest_components_rest_api=all \
      agent.launch_process_timeout=4" --initdata "$work/initdata.img"; then
    fail_rest "the agent did not serve (status ${rc:-none}): $(tail -n 5 "$work/agent.log")"
    return
  fi
  tap OK "initdata and three components: the agent serves"
  local r=$work/run/confidential-containers/initdata
  check "initdata.toml is the document, byte for byte" "$(ls -l "$r" 2>&1)" cmp -s "$r/initdata.toml" "$work/doc.toml"
  check "aa.toml and cdh.toml are the data's values" "$(cat "$r/aa.toml" 2>&1)" \
    sh -c "grep -q 'url = \"http://kbs.example:8080\"' '$r/aa.toml' && grep -qx \"name = 'cc_kbc'\" '$r/cdh.toml'"
  check "files 0644, the directories 0755, no policy.rego file" "$(stat -c '%a %n' "$r" "$r"/* 2>&1)" \
    sh -c "[ \"\$(stat -c %a '$r/initdata.toml' '$r/aa.toml' '$r/cdh.toml' '$r' '$work/run/confidential-containers' | sort -u | tr '\n' ' ')\" = '644 755 ' ] && ! [ -e '$r/policy.rego' ]"
  # the policy: a sealed memfd held by the parent (initdata_policy_memfd)
  local pfd
  pfd=$(ls -l "/proc/$agent_pid/fd" 2>/dev/null | awk '/memfd:initdata-policy.rego/ { print $9 }')
  check "the parent holds policy.rego in a memfd with the data's text" "$(ls -l "/proc/$agent_pid/fd" 2>&1)" \
    sh -c "[ -n '$pfd' ] && grep -qx 'default ExecProcessRequest := false' '/proc/$agent_pid/fd/$pfd'"
  local want
  want=$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha384(open(sys.argv[1], "rb").read()).digest()).decode())' "$work/doc.toml")
  check "the initdata line logs the sha384 digest (base64, as upstream)" "$(grep initdata-device "$work/agent.log")" \
    sh -c "grep initdata-device '$work/agent.log' | grep -qF '\"digest\":\"$want\"'"
  check "launch order: each socket before the next start (the AA listens after 1 s)" "$(gc_events)" \
    test "$(gc_events | head -n 5 | tr '\n' ,)" = "attestation-agent start,attestation-agent listening,confidential-data-hub start,confidential-data-hub listening,api-server-rest start,"
  check "attestation-agent argv: --attestation_sock, --initdata-toml, -c aa.toml (upstream builtin_coco_plan)" \
    "$(gc_rec attestation-agent argv)" test "$(gc_rec attestation-agent argv | tr '\n' ' ')" = \
    "/usr/local/bin/attestation-agent --attestation_sock unix://$AA_SOCK --initdata-toml $IDIR/initdata.toml -c $IDIR/aa.toml "
  check "confidential-data-hub argv: -c cdh.toml; OCICRYPT_KEYPROVIDER_CONFIG added" \
    "$(gc_rec confidential-data-hub argv; gc_rec confidential-data-hub env)" sh -c \
    "[ \"\$(echo \$(sed -n 's/^argv //p' '$work/rec/confidential-data-hub.record'))\" = '/usr/local/bin/confidential-data-hub -c $IDIR/cdh.toml' ] &&
     grep -qx 'env OCICRYPT_KEYPROVIDER_CONFIG=/etc/ocicrypt_config.json' '$work/rec/confidential-data-hub.record' &&
     ! grep -q '^env OCICRYPT' '$work/rec/attestation-agent.record'"
  check "api-server-rest argv: --features all" "$(gc_rec api-server-rest argv)" \
    test "$(gc_rec api-server-rest argv | tr '\n' ' ')" = "/usr/local/bin/api-server-rest --features all "
  local n bad=
  for n in "${gc_names[@]}"; do
    [ "$(gc_rec "$n" uid)" = "0 0 0" ] || bad="$bad $n:uid"
    [ "$(gc_rec "$n" ppid)" = "$agent_pid" ] || bad="$bad $n:ppid=$(gc_rec "$n" ppid)"
    [ "$(gc_rec "$n" fd | awk '{ print $1 }' | tr '\n' ,)" = "0,1,2," ] || bad="$bad $n:fds=$(gc_rec "$n" fd | tr '\n' ' ')"
    [ "$(gc_rec "$n" capeff)" = "$(awk '/^CapEff:/ { print $2 }' "/proc/$agent_pid/status")" ] || bad="$bad $n:caps"
    gc_rec "$n" env | grep -q '^GC_STANDIN_DIR=' || bad="$bad $n:env"
  done
  check "each component: root, the parent's capabilities and environment, a child of the parent, stdio only" "$bad" test -z "$bad"
  check "the front-end started after the launch was over" "$(grep -E 'guest components started|front-end started' "$work/agent.log")" \
    sh -c "grep -E 'guest components started|front-end started' '$work/agent.log' | head -n 1 | grep -q 'guest components started: 3'"
  check "the announce line shows the three options as upstream names them" "$(grep '"announce"' "$work/agent.log")" \
    sh -c "grep '\"msg\":\"announce\"' '$work/agent.log' | grep -q '\"guest_components_procs\":\"api-server-rest\"' &&
      grep '\"msg\":\"announce\"' '$work/agent.log' | grep -q '\"guest_components_rest_api\":\"all\"' &&
      grep '\"msg\":\"announce\"' '$work/agent.log' | grep -q '\"launch_process_timeout\":\"4s\"'"
  local pids
  pids=$(ps -o pid= --ppid "$agent_pid" | tr '\n' ' ')
  agent_stop
  check "at shutdown each component gets SIGTERM" "$(gc_events)" \
    test "$(grep -c ' sigterm$' "$work/rec/events")" = 3
  local left=
  for n in $pids; do [ -e "/proc/$n" ] && left="$left $n"; done
  check "no component outlives the agent" "$left" test -z "$left"
}

# 2. The test CDH as the confidential-data-hub component, with the
#    initdata's cdh.toml: it serves on the fixed socket what that file says.
t_test_cdh() {
  gc_prepare tcdh
  if [ -z "${TEST_CDH:-}" ] || [ -z "${CDH_CALL:-}" ]; then
    skip 2 "the test CDH as confidential-data-hub" "TEST_CDH or CDH_CALL not set"
    return
  fi
  install -m 0755 "$TEST_CDH" "$work/bin/confidential-data-hub"
  echo "resource from cdh.toml" >"$work/res/marker"
  gc_doc "$work/doc.toml"
  "$mkinitdata" "$work/initdata.img" "$work/doc.toml"
  if gc_start "agent.guest_components_procs=confidential-data-hub" --initdata "$work/initdata.img"; then
    tap OK "test CDH launched as confidential-data-hub: the agent serves"
  else
    tap FAIL "test CDH launched as confidential-data-hub: the agent serves" "$work/agent.log"
  fi
  local out
  out=$("$CDH_CALL" --addr "unix://$work/run/confidential-containers/cdh.sock" get-resource kbs:///marker 2>&1)
  check "it serves GetResource from the resources its cdh.toml names" "$out $(grep test-cdh "$work/agent.log")" \
    test "$out" = "resource from cdh.toml"
}

# 3. No initdata: no --initdata-toml, no -c, nothing written.
t_no_initdata() {
  gc_prepare noinit
  if ! gc_start "agent.guest_components_procs=attestation-agent"; then
    fail_rest "the agent did not serve: $(tail -n 5 "$work/agent.log")"
    return
  fi
  check "without initdata: attestation-agent --attestation_sock only" "$(gc_rec attestation-agent argv)" \
    test "$(gc_rec attestation-agent argv | tr '\n' ' ')" = "/usr/local/bin/attestation-agent --attestation_sock unix://$AA_SOCK "
  check "attestation-agent alone: nothing else started, nothing written from initdata" "$(gc_events) $(ls -R "$work/run")" \
    sh -c "[ \"\$(grep -c ' start\$' '$work/rec/events')\" = 1 ] && ! [ -e '$work/run/confidential-containers/initdata' ]"
  agent_stop
}

# 4. A component missing from the image: nothing is launched (upstream
#    attestation_components_available), the agent serves.
t_missing() {
  gc_prepare missing
  rm -f "$work/bin/api-server-rest"
  if gc_start "agent.guest_components_procs=api-server-rest"; then
    tap OK "api-server-rest missing: the agent serves"
  else
    tap FAIL "api-server-rest missing: the agent serves" "$work/agent.log"
  fi
  check "nothing launched, logged as upstream (\"not found\")" "$(gc_events)" \
    sh -c "! [ -e '$work/rec/events' ] && grep -q '/usr/local/bin/api-server-rest not found: no guest component is started' '$work/agent.log'"
  agent_stop
  gc_prepare none
  gc_start "agent.guest_components_procs=none" >/dev/null
  check "agent.guest_components_procs=none: nothing launched" "$(gc_events)" test ! -e "$work/rec/events"
  agent_stop
}

# 5. A socket that never comes: the agent stops after
#    agent.launch_process_timeout + 1 s, as upstream's.
t_timeout() {
  gc_prepare timeout
  export GC_STANDIN_AA=never
  if gc_start "agent.guest_components_procs=confidential-data-hub agent.launch_process_timeout=1"; then
    tap FAIL "a socket that never appears stops the agent (status 1)" "it serves"
  else
    check "a socket that never appears stops the agent (status 1)" "status ${rc:-running}" test "${rc:-}" = 1
  fi
  check "logged: which component, path, pid, socket, how long" "$(grep ERRO "$work/agent.log")" \
    gc_error_has "guest component attestation-agent (/usr/local/bin/attestation-agent, pid"
  check "the next component never started, the front-end never started, the first got SIGTERM" "$(gc_events)" \
    sh -c "[ \"\$(cat '$work/rec/events' | tr '\n' ,)\" = 'attestation-agent start,attestation-agent sigterm,' ] && ! grep -q 'front-end started' '$work/agent.log'"
}

# 6. A component that exits before its socket: reported with its status,
#    the agent stops. One that dies later: reported, not restarted.
t_exits() {
  gc_prepare exits
  export GC_STANDIN_AA=exit:5
  if gc_start "agent.guest_components_procs=attestation-agent"; then
    tap FAIL "a component that exits before its socket stops the agent" "it serves"
  else
    check "a component that exits before its socket stops the agent" "status ${rc:-running}" test "${rc:-}" = 1
  fi
  check "logged with name, path, pid and exit status" "$(grep ERRO "$work/agent.log")" \
    sh -c "grep '\"level\":\"ERRO\"' '$work/agent.log' | grep 'attestation-agent (/usr/local/bin/attestation-agent, pid' | grep 'exited with status 5 before creating $AA_SOCK' | grep -q '\"exit-status\":5'"
  gc_prepare dies
  export GC_STANDIN_CDH=die:300 GC_STANDIN_API=exit:4
  if ! gc_start "agent.guest_components_procs=api-server-rest"; then
    fail_rest "the agent did not serve: $(tail -n 5 "$work/agent.log")"
    return
  fi
  wait_for_file_text "$work/agent.log" "confidential-data-hub (/usr/local/bin/confidential-data-hub, pid" 50
  sleep 0.3
  check "components that end later: each logged at ERROR with its status, not restarted" "$(grep ERRO "$work/agent.log"; gc_events)" \
    sh -c "gc() { grep '\"level\":\"ERRO\"' '$work/agent.log' | grep -q \"\$1\"; }
      gc 'confidential-data-hub (/usr/local/bin/confidential-data-hub, pid [0-9]*) exited with status 7; it is not restarted' &&
      gc 'api-server-rest (/usr/local/bin/api-server-rest, pid [0-9]*) exited with status 4; it is not restarted' &&
      [ \"\$(grep -c 'confidential-data-hub start' '$work/rec/events')\" = 1 ]"
  check "the agent keeps serving" "" sh -c "timeout 5 '$ctl_bin' --addr '$addr' check >/dev/null"
  agent_stop
}

# 7. Malformed initdata: the agent does not start, nothing is launched.
t_malformed() {
  gc_prepare malformed
  printf 'algorithm = "sha384"\nversion = "0.2.0"\n[data]\n' >"$work/doc.toml"
  "$mkinitdata" "$work/bad.img" "$work/doc.toml"
  if gc_start "" --initdata "$work/bad.img"; then
    tap FAIL "malformed initdata: the agent does not start (status 1)" "it serves"
  else
    check "malformed initdata: the agent does not start (status 1)" "status ${rc:-running}" test "${rc:-}" = 1
  fi
  check "one error line names the device and upstream's reason; nothing launched or written" "$(grep ERRO "$work/agent.log")" \
    sh -c "grep '\"level\":\"ERRO\"' '$work/agent.log' | grep -qF 'initdata: $work/bad.img: unsupported version: 0.2.0, expected: 0.1.0: the agent does not start' &&
      ! [ -e '$work/rec/events' ] && ! [ -e '$work/run/confidential-containers' ]"
  gc_prepare nofile
  gc_start "" --initdata "$work/nonexistent.img"
  check "a --initdata file that is not there: status 1, named" "status ${rc:-running} $(grep ERRO "$work/agent.log")" \
    sh -c "[ '${rc:-}' = 1 ] && grep '\"level\":\"ERRO\"' '$work/agent.log' | grep -qF '$work/nonexistent.img: No such file or directory'"
}

t_full
t_test_cdh
t_no_initdata
t_missing
t_timeout
t_exits
t_malformed
