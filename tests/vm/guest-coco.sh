# SPDX-License-Identifier: Apache-2.0
# Sourced by guest-tests.sh in the coco boot (tests/vm/run): the agent, as
# PID 1, found the initdata disk (virtio-blk, /dev/vda), wrote its files,
# kept its policy, and launched the guest components from /usr/local/bin
# (the stand-ins gc-standin as attestation-agent and api-server-rest, the
# test CDH as confidential-data-hub) before it served. Uses check, pass,
# fail, say from guest-tests.sh.
idir=/run/confidential-containers/initdata
rec=${GC_STANDIN_DIR:-/tmp/gc}

check "the initdata disk is a block device (/dev/vda)" test -b /dev/vda
check "initdata.toml is the document, byte for byte" cmp "$idir/initdata.toml" /opt/vm-initdata/initdata.toml
check "aa.toml and cdh.toml hold the data's values" \
  sh -c "grep -q 'kbs.vm-test:8080' $idir/aa.toml && grep -qx \"resources = '/opt/cdh-resources'\" $idir/cdh.toml"
check "policy.rego is not written to a file" test ! -e "$idir/policy.rego"
# The policy: a sealed memfd PID 1 holds, for the policy process to read.
pfd=
for f in /proc/1/fd/*; do
  case $(readlink "$f" 2>/dev/null) in *memfd:initdata-policy.rego*) pfd=${f##*/} ;; esac
done
check "PID 1 holds the policy in a memfd (fd ${pfd:-none}) with the data's text" \
  sh -c "[ -n '$pfd' ] && grep -qx 'default ExecProcessRequest := false' /proc/1/fd/$pfd"
check "the policy memfd cannot be written, even by root" \
  sh -c "! (echo x >>/proc/1/fd/$pfd) 2>/dev/null"

# The launch, as upstream's plan: order, argv, who started them.
ev=$(sed 's/ listening .*/ listening/' "$rec/events" 2>&1 | tr '\n' ,)
# (the test CDH records nothing: the stand-ins' events and the agent's
# log, which the host checks, tell the order)
check "the stand-ins started in order: attestation-agent, its socket, api-server-rest ($ev)" \
  test "$ev" = "attestation-agent start,attestation-agent listening,api-server-rest start,"
aa=$(sed -n 's/^argv //p' "$rec/attestation-agent.record" 2>&1 | tr '\n' ' ')
check "attestation-agent: --attestation_sock, --initdata-toml, -c aa.toml" test "$aa" = \
  "/usr/local/bin/attestation-agent --attestation_sock unix:///run/confidential-containers/attestation-agent/attestation-agent.sock --initdata-toml $idir/initdata.toml -c $idir/aa.toml "
check "attestation-agent: a child of PID 1, root" \
  sh -c "grep -qx 'ppid 1' $rec/attestation-agent.record && grep -qx 'uid 0 0 0' $rec/attestation-agent.record"
api=$(sed -n 's/^argv //p' "$rec/api-server-rest.record" 2>&1 | tr '\n' ' ')
check "api-server-rest: --features attestation" test "$api" = "/usr/local/bin/api-server-rest --features attestation "
cdh=
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/local/bin/confidential-data-hub ] && cdh=${p#/proc/}
done
check "confidential-data-hub runs (pid ${cdh:-none}) with -c cdh.toml, a child of PID 1" \
  sh -c "[ -n '$cdh' ] && [ \"\$(tr '\0' ' ' </proc/$cdh/cmdline)\" = '/usr/local/bin/confidential-data-hub -c $idir/cdh.toml ' ] &&
    [ \"\$(awk '/^PPid:/ { print \$2 }' /proc/$cdh/status)\" = 1 ]"
check "confidential-data-hub has OCICRYPT_KEYPROVIDER_CONFIG" \
  sh -c "tr '\0' '\n' </proc/${cdh:-none}/environ | grep -qx OCICRYPT_KEYPROVIDER_CONFIG=/etc/ocicrypt_config.json"
# The CDH serves on the fixed socket what its cdh.toml (from initdata) says.
out=$(cdh-call get-resource kbs:///marker 2>&1)
check "the CDH serves GetResource on /run/confidential-containers/cdh.sock from the resources its cdh.toml names" \
  test "$out" = "$(cat /opt/cdh-resources/marker)"

# The initdata policy is the one in force (issue 11): everything allowed but
# ExecProcess, as upstream's allow-all-except-exec-process.rego. Requests as
# the runtime sends them; a CreateContainer whose spec lacks `linux` gets
# past the front-end and the policy and meets the executor's own check.
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
lacks() { ! printf '%s\n' "$1" | grep -q -- "$2"; }
pr=$("$ctl" --addr "$addr" call AgentService/GetGuestDetails '{"memBlockSize": true}' 2>&1)
check "GetGuestDetails allowed by the initdata policy" has "$pr" memBlockSizeBytes
pr=$("$ctl" --addr "$addr" call AgentService/ExecProcess \
  '{"containerId": "c1", "execId": "e1", "process": {"Args": ["/bin/sh"], "Env": ["PATH=/bin"], "Cwd": "/", "User": {}}}' 2>&1)
check "ExecProcess denied by the initdata policy: PERMISSION_DENIED" \
  has "$pr" "PERMISSION_DENIED: ExecProcessRequest is blocked by policy"
pr=$("$ctl" --addr "$addr" call AgentService/CreateContainer \
  '{"containerId": "c1", "execId": "c1", "OCI": {"Process": {"Args": ["true"], "Cwd": "/"}, "Root": {"Path": "/nonexistent"}}}' 2>&1)
if has "$pr" "INVALID_ARGUMENT: Linux: missing" && lacks "$pr" "blocked by policy"; then
  pass "CreateContainer allowed by it: the executor's own check answers"
else
  fail "CreateContainer allowed by it: the executor's own check answers" "$pr"
fi
