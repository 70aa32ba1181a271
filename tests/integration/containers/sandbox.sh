#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: sandbox. Prints TAP.
#
#   sandbox.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# The sandbox-wide requests as the Kata Go runtime sends them
# (src/runtime/virtcontainers/kata_agent.go; each request cites the
# function that builds it): a pod with shared_fs=none (CopyFile of files,
# a setgid volume directory and its Kubernetes symlinks), containerd's
# pause container (net.* sysctls, no network namespace), GetGuestDetails,
# UpdateInterface on a NIC not yet there, DestroySandbox; and a config file
# with a key this agent does not know.
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 13
suite_requires

b64() { printf '%s' "$1" | base64 -w0; }
# Go's os.FileMode(0750) | os.ModeDir (virtcontainers/sandbox.go DirMode),
# sent as uint32(DirMode) in every CopyFileRequest.dir_mode.
go_dir_mode=$(((1 << 31) | 8#750))

# copy_file DST MODE [DATA]: a CopyFileRequest as kata_agent.go copyFile
# builds it from unix.Lstat: file_mode = st.Mode (type bits included),
# uid/gid of the host file, data = content (regular) or target (symlink).
copy_file() {
  local dst=$1 mode=$2 data=${3:-} size=0
  [ $((mode & 8#170000)) = $((8#100000)) ] && size=${#data}
  ctl call AgentService/CopyFile "$(jq -nc --arg p "$dst" --argjson m "$mode" --argjson d "$go_dir_mode" \
    --argjson s "$size" --arg data "$(b64 "$data")" \
    '{path: $p, fileSize: $s, fileMode: $m, dirMode: $d, uid: 0, gid: 0, offset: 0, data: $data}')"
}

# create_start BUNDLE ID SANDBOX_PIDNS: CreateContainer as kata_agent.go
# createContainer sends it (ExecId = the container id), then StartContainer
# (startContainer); output in $out.
create_start() {
  ctl run "$1" --dry-run >"$work/$2.json" 2>"$out" &&
    jq --arg id "$2" --argjson s "$3" '.containerId = $id | .execId = $id | .sandboxPidns = $s' \
      "$work/$2.json" >"$work/$2-req.json" &&
    ctl call AgentService/CreateContainer - <"$work/$2-req.json" >>"$out" 2>&1 &&
    ctl call AgentService/StartContainer "{\"containerId\": \"$2\"}" >>"$out" 2>&1
}

t_pod() {
  agent_netns=1 agent_start pod || return
  local out="$work/pod.out" sc="$shared/shared/containers" cid=pause0 app=app0
  local host_port_start
  host_port_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)

  # startSandbox: dns is getDNS's split of the host's resolv.conf on "\n",
  # so it ends with an empty entry; the shm ephemeral storage of
  # setupStorages; no sandbox_pidns (sandbox.sharePidNs is never set).
  local resolv=$'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n'
  local dns
  dns=$(printf '%s' "$resolv" | jq -Rsc 'split("\n")')
  ctl call AgentService/CreateSandbox "$(jq -nc --argjson dns "$dns" --arg shm "$shared/sandbox/shm" '{
      hostname: "pod-a", dns: $dns, sandboxId: "sb-pod-a", kernelModules: [],
      storages: [{driver: "ephemeral", source: "shm", fstype: "tmpfs",
        options: ["noexec", "nosuid", "nodev", "mode=1777", "size=67108864"], mountPoint: $shm}]}')" \
    >"$out" 2>&1
  rc=$?
  check "CreateSandbox with dns ending in an empty entry (getDNS): OK, resolv.conf has the three lines" \
    "$(cat "$out" "$shared/sandbox/resolv.conf" 2>&1)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$shared/sandbox/resolv.conf")" = "${resolv%$'"'"'\n'"'"'}" ]'

  # shared_fs=none (fs_share_linux.go ShareFile -> copyFile): the
  # container's resolv.conf, then a ConfigMap volume walked top-down: the
  # volume directory (kubelet's fsGroup: setgid), the timestamped
  # directory, the key, and the symlinks ..data and key.
  local vol="$sc/$app-cfgvol" ts="..2024_01_01_00_00_00.000000001"
  copy_file "$sc/$cid-resolv.conf" $((8#100644)) "$resolv" >"$out" 2>&1 &&
    copy_file "$vol" $((8#42775)) >>"$out" 2>&1 &&
    copy_file "$vol/$ts" $((8#40755)) >>"$out" 2>&1 &&
    copy_file "$vol/$ts/key" $((8#100644)) "value-of-key" >>"$out" 2>&1 &&
    copy_file "$vol/..data" $((8#120777)) "$ts" >>"$out" 2>&1 &&
    copy_file "$vol/key" $((8#120777)) "..data/key" >>"$out" 2>&1
  rc=$?
  check "CopyFile with Go's mode bits (dir_mode with os.ModeDir, file_mode with S_IF*): file, dir, symlinks" \
    "$(cat "$out"; ls -laR "$sc" 2>&1 | head -30)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$sc/$cid-resolv.conf")" = "${resolv%$'"'"'\n'"'"'}" ] &&
     [ "$(stat -c %a "$sc/$cid-resolv.conf")" = 644 ] && [ "$(cat "$vol/key")" = value-of-key ] &&
     [ "$(readlink "$vol/..data")" = "$ts" ] && [ "$(stat -c %a "$vol/$ts")" = 755 ]'
  check "CopyFile of a directory with setgid (kubelet fsGroup, S_IFDIR|02775): created 2775" \
    "$(stat -c '%a %F' "$vol" 2>&1)" eval '[ "$(stat -c %a "$vol")" = 2775 ] && [ -d "$vol" ]'
  copy_file "$shared/foo" $((8#100644)) "x" >"$out" 2>&1
  rc=$?
  check "CopyFile to <shared>/foo (upstream's agent test: /run/kata-containers/foo): PERMISSION_DENIED" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -e "$shared/foo" ]'

  # The pause container as containerd's CRI makes it (sandbox spec: sysctls
  # for unprivileged ports and ping, /proc/sys read-only, annotations,
  # user 65535) and createContainer sends it: pid namespace removed
  # (handlePidNamespace), network and cgroup namespaces removed
  # (constrainGRPCSpec), ExecId = the container id, the resolv.conf the
  # runtime copied bound over /etc/resolv.conf.
  local b oom='| .process.oomScoreAdj = -998'
  # containerd's -998 needs CAP_SYS_RESOURCE, which a test host may lack
  if ! sh -c 'echo -998 >/proc/self/oom_score_adj' 2>/dev/null; then
    say "this host cannot lower oom_score_adj (no CAP_SYS_RESOURCE): the pause spec goes without oomScoreAdj"
    oom=
  fi
  b=$(bundle "$cid" sleep 1000)
  jqset "$b" '
    del(.linux.cgroupsPath)
    | .linux.namespaces |= map(select(.type != "pid" and .type != "network" and .type != "cgroup"))
    | .linux.sysctl = {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"}
    | .linux.resources = {cpu: {shares: 2}}
    | .process.user = {uid: 65535, gid: 65535} '"$oom"'
    | .mounts += [{destination: "/etc/resolv.conf", type: "bind", source: $rc, options: ["rbind", "ro"]}]
    | .annotations = {"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": $id,
        "io.kubernetes.cri.sandbox-name": "pod-a", "io.kubernetes.cri.sandbox-namespace": "default",
        "io.kubernetes.cri.sandbox-uid": "0b2e4f1c-0000-4000-8000-000000000001",
        "io.kubernetes.cri.sandbox-log-directory": "/var/log/pods/default_pod-a_0b2e4f1c",
        "io.katacontainers.pkg.oci.container_type": "pod_sandbox"}' --arg id "$cid" --arg rc "$sc/$cid-resolv.conf"
  create_start "$b" "$cid" false
  rc=$?
  local pod_start
  pod_start=$(nsenter -t "$agent_pid" -n cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>&1)
  check "the pause container (net.* sysctls, no network namespace): created and started" \
    "$(cat "$out"; tail -5 "$work/agent.log")" eval '[ $rc -eq 0 ]'
  check "its sysctls are set in the pod's network namespace (the agent's), not this host's" \
    "pod: $pod_start, host: $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" eval \
    '[ "$pod_start" = 0 ] && [ "$(nsenter -t "$agent_pid" -n cat /proc/sys/net/ipv4/ping_group_range | tr -s "\t " " ")" = "0 2147483647" ] &&
     [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = "$host_port_start" ]'

  # An app container of the pod: the volume bound in, sandbox_pidns (a
  # shareProcessNamespace pod, see pidns.sh).
  b=$(bundle "$app" sh -c 'cat /etc/cfg/key /etc/resolv.conf >/tmp/seen; tr "\0" " " </proc/1/cmdline >>/tmp/seen; exec sleep 999')
  jqset "$b" '
    del(.linux.cgroupsPath)
    | .linux.namespaces |= map(select(.type != "pid" and .type != "network"))
    | .mounts += [{destination: "/etc/cfg", type: "bind", source: $v, options: ["rbind", "ro"]},
                  {destination: "/etc/resolv.conf", type: "bind", source: $rc, options: ["rbind", "ro"]}]' \
    --arg v "$vol" --arg rc "$sc/$cid-resolv.conf"
  create_start "$b" "$app" true
  rc=$?
  for _ in $(seq 1 50); do grep -q "sleep 1000" "$b/rootfs/tmp/seen" 2>/dev/null && break; sleep 0.1; done
  check "an app container reads the copied ConfigMap through its symlinks and resolv.conf, and sees the pause process" \
    "$(cat "$out"; cat "$b/rootfs/tmp/seen" 2>&1)" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$b/rootfs/tmp/seen")" = "value-of-key${resolv}sleep 1000 " ]'

  # getGuestDetails (sandbox.go reads AgentDetails.SupportsSeccomp).
  ctl call AgentService/GetGuestDetails '{"memBlockSize": true, "memHotplugProbe": true}' >"$out" 2>&1
  rc=$?
  local want_seccomp=false
  grep -q '^Seccomp:' /proc/self/status && want_seccomp=true
  check "GetGuestDetails agent_details: supports_seccomp $want_seccomp (this kernel), version, storage handlers" \
    "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(jq -r ".agentDetails.supportsSeccomp // false" "$out")" = $want_seccomp ] &&
     [ -n "$(jq -r ".agentDetails.version" "$out")" ] &&
     [ "$(jq -c "[.agentDetails.storageHandlers[] | select(. == \"local\" or . == \"ephemeral\" or . == \"virtio-fs\" or . == \"9p\")] | sort" "$out")" = "[\"9p\",\"ephemeral\",\"local\",\"virtio-fs\"]" ] &&
     [ "$(jq -c ".agentDetails.deviceHandlers // []" "$out")" = "[]" ] &&
     [ "$(jq -r ".agentDetails.initDaemon // false" "$out")" = false ] &&
     [ "$(jq -c ".agentDetails.extraFeatures" "$out")" = "[\"seccomp\"]" ]'

  # updateInterface retries while the error holds "Link not found".
  ctl call AgentService/UpdateInterface '{"interface": {"device": "eth0", "name": "eth0", "mtu": 1500,
    "hwAddr": "02:00:ca:fe:00:99", "IPAddresses": [{"address": "10.88.0.7", "mask": "16"}]}}' >"$out" 2>&1
  rc=$?
  check "UpdateInterface for a NIC not plugged yet: the error holds \"Link not found\" (the runtime retries)" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q "Link not found" "$out"'

  # stopSandbox: DestroySandbox, then the agent stops (as upstream's; as
  # PID 1 the guest powers off, which the runtime waits for when tracing).
  local tree
  tree=$(descendants "$agent_pid")
  ctl call AgentService/DestroySandbox '{}' >"$out" 2>&1
  rc=$?
  local st=none
  for _ in $(seq 1 100); do
    if ! kill -0 "$agent_pid" 2>/dev/null || [ "$(sed 's/.*) //' "/proc/$agent_pid/stat" 2>/dev/null | cut -c1)" = Z ]; then
      wait "$agent_pid"
      st=$?
      break
    fi
    sleep 0.1
  done
  local left=
  for p in $tree; do [ -e "/proc/$p" ] && left="$left $p"; done
  check "DestroySandbox: OK, then the agent exits 0 with every process, its socket removed" \
    "$(cat "$out"; echo "exit: $st, left:$left"; tail -5 "$work/agent.log")" eval \
    '[ $rc -eq 0 ] && [ "$st" = 0 ] && [ -z "$left" ] && [ ! -S "$work/agent.sock" ] &&
     grep -q "the sandbox was destroyed" "$work/agent.log"'
  [ "$st" != none ] && agent_pid=
  agent_stop
}

# A config file with a key this agent does not know (upstream's serde
# ignores unknown fields): the agent starts and logs the key.
t_config() {
  local dir="$top/cfg" cfg="$top/cfg.toml"
  mkdir -p "$dir"
  printf 'server_addr = "unix://%s/agent.sock"\nlog_level = "debug"\nfuture_feature = true\n[endpoints]\nallowed = ["CheckRequest", "GuestDetailsRequest"]\nnot_a_key = 1\n' \
    "$dir" >"$cfg"
  # agent_prep runs before the agent, after the harness wrote its command
  # line: it points the agent at the file instead
  agent_prep="printf 'agent.config_file=%s\n' '$cfg' >'$dir/cmdline'" agent_start cfg || return
  check "a config file with unknown keys: the agent starts and serves" "$(tail -5 "$dir/agent.log")" \
    eval 'ctl call AgentService/GetGuestDetails "{}" >/dev/null'
  ctl call AgentService/ListRoutes "{}" >"$dir/routes.out" 2>&1
  check "each unknown key is logged with the file and line; the known ones apply" \
    "$(grep -i option "$dir/agent.log"; cat "$dir/routes.out")" eval \
    'grep -q "option future_feature ignored: unknown key in the config file $cfg:3" "$dir/agent.log" &&
     grep -q "option endpoints.not_a_key ignored: unknown key in the config file $cfg:6" "$dir/agent.log" &&
     grep -q "\"log_level\": *\"debug\"" "$dir/agent.log" &&
     grep -q PERMISSION_DENIED "$dir/routes.out"'
  agent_stop
  printf 'server_addr = "unix://%s/agent.sock"\nfuture_feature = \n' "$dir" >"$cfg"
  local log="$top/cfg-bad.log"
  echo "agent.config_file=$cfg" >"$top/cfg-bad.cmdline"
  timeout 20 unshare -m --propagation private "$agent" --cmdline "$top/cfg-bad.cmdline" \
    --shared-dir "$dir/shared" >"$log" 2>&1 </dev/null
  rc=$?
  check "a malformed config file (unknown key without a value): the agent refuses to start" "$(tail -3 "$log")" eval \
    '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "cfg.toml:2" "$log"'
}

t_pod
t_config
