#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GetDiagnosticData (the termination log) as runtime-rs asks for it, and
# the attacks on it. runtime-rs copy_termination_log
# (runtimes/virt_container/src/container_manager/container.rs), with
# shared_fs none and the annotation terminationMessagePolicy "File", sends
# {log_type: "termination_log", container_id} before it stops the init, and
# writes a non-empty data to the kubelet's file. With shared_fs none the
# kubelet's file reached the guest by CopyFile (resource/src/volume/
# share_fs_volume.rs copy_file_to_guest, named by
# generate_copy_file_guest_path: <shared>/shared/containers/<cid>-<16
# hex>-<destination's name>), the source of the bind mount at
# terminationMessagePath; the container writes its message there.
#
# Then what a hostile host or container tries: a symlink, a FIFO, a hard link
# at the source, sources elsewhere (/dev, /sys, another container's file, a
# bundle's file, ".."), the container replacing its file from inside, and a
# policy that denies the request. Prints TAP.
#
#   diag.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 26
suite_requires

cdir= # the shared dir's shared/containers, where CopyFile writes
hex=0123456789abcdef
rfile() { echo "$cdir/$1-$hex-termination-log"; } # rfile CID: runtime-rs's name

call() { # call NAME METHOD JSON: $work/NAME.{out,err}, $rc
  ctl call "AgentService/$2" "$3" >"$work/$1.out" 2>"$work/$1.err"
  rc=$?
}
# diag_req NAME CID [LOG_TYPE]: GetDiagnosticData as copy_termination_log
# sends it; the answer's data in $work/NAME.data.
diag_req() {
  call "$1" GetDiagnosticData "{\"containerId\": \"$2\", \"logType\": \"${3:-termination_log}\"}"
  jq -j '.data // ""' "$work/$1.out" >"$work/$1.data" 2>/dev/null
}
failed_with() { # failed_with NAME STATUS TEXT: the last call failed so
  [ "$rc" -ne 0 ] && grep -q "$2" "$work/$1.err" && grep -qF -- "$3" "$work/$1.err"
}
# copy_log CID: the kubelet's empty termination-log file, copied into the
# guest as runtime-rs copy_file_to_guest does (the host file's st_mode,
# uid, gid and size).
copy_log() {
  call "copy-$1" CopyFile "{\"path\": \"$(rfile "$1")\", \"fileSize\": 0, \"fileMode\": $((0100666)),
    \"uid\": 0, \"gid\": 0}"
}
# term_container CID SOURCE SCRIPT [ANNOTATED_PATH]: create, start and wait
# for a container as runtime-rs creates it with shared_fs none: the two
# annotations, a bind mount from SOURCE at /dev/termination-log (options as
# containerd's CRI gives kubelet's mount). ANNOTATED_PATH (default
# /dev/termination-log): the terminationMessagePath annotation, "-" for
# none. Its init's output in $work/CID.stdout; $rc of the last step.
term_container() {
  local cid=$1 src=$2 script=$3 path=${4:-/dev/termination-log} b ann
  b=$(bundle "$cid" sh -c "$script") || { rc=99; return; }
  ann='{"io.kubernetes.container.terminationMessagePolicy": "File"}'
  [ "$path" = - ] || ann=$(jq -c --arg p "$path" '. + {"io.kubernetes.container.terminationMessagePath": $p}' <<<"$ann")
  create_request "$cid" "$b" '[]' "$(jq -nc --arg s "$src" '[{destination: "/dev/termination-log",
    type: "bind", source: $s, options: ["rbind", "rprivate", "rw"]}]')" || { rc=98; return; }
  jq --argjson a "$ann" '.OCI.Annotations = $a' "$work/$cid.json" >"$work/$cid.req"
  call "$cid-create" CreateContainer "$(cat "$work/$cid.req")"
  [ $rc -eq 0 ] || return
  call "$cid-start" StartContainer "{\"containerId\": \"$cid\"}"
  [ $rc -eq 0 ] || return
  call "$cid-wait" WaitProcess "{\"containerId\": \"$cid\", \"execId\": \"$cid\"}"
  [ $rc -eq 0 ] || return
  ctl call AgentService/ReadStdout "{\"containerId\": \"$cid\", \"execId\": \"$cid\", \"len\": 4096}" 2>/dev/null |
    jq -r '.data // ""' | base64 -d >"$work/$cid.stdout" 2>/dev/null
  return 0
}
remove() { ctl call AgentService/RemoveContainer "{\"containerId\": \"$1\", \"timeout\": 20}" >/dev/null 2>&1; }
show() { # what a failed check shows: the call's output, the container's, the agent's log
  { echo "exit status: $rc"; for f in "$@"; do echo "-- $f"; head -c 1500 "$work/$f" | cat -v; done
    echo "-- agent log"; tail -n 8 "$work/agent.log"; } 2>/dev/null
}

t_runtime_shaped() {
  agent_start diag || { fail_rest "the agent did not start"; exit 1; }
  cdir="$shared/shared/containers"

  # 1. The message the container wrote.
  copy_log msg
  term_container msg "$(rfile msg)" 'printf "disk full on /data" >/dev/termination-log; exit 3'
  diag_req msg msg
  check "the container's termination message, requested as copy_termination_log does" \
    "$(show msg.req msg-create.err msg.out msg.err msg.data)" \
    eval '[ $rc -eq 0 ] && [ "$(cat "$work/msg.data")" = "disk full on /data" ]'

  # 2, 3. An empty file, a missing one: empty data (runtime-rs writes nothing).
  copy_log empty
  term_container empty "$(rfile empty)" 'exit 0'
  diag_req empty empty
  check "an empty termination log: OK with empty data" "$(show empty.out empty.err)" \
    eval '[ $rc -eq 0 ] && [ ! -s "$work/empty.data" ]'
  rm -f "$(rfile empty)"
  diag_req missing empty
  check "the copied file gone: OK with empty data (as upstream)" "$(show missing.out missing.err)" \
    eval '[ $rc -eq 0 ] && [ ! -s "$work/missing.data" ]'

  # 4. 1 MiB written: the first 4096 bytes (Kubernetes' cap), no more.
  copy_log big
  term_container big "$(rfile big)" 'yes 0123456789abcdef | head -c 1048576 >/dev/termination-log'
  diag_req big big
  check "1 MiB written: 4096 bytes back, the file's first ($(wc -c <"$work/big.data") bytes)" \
    "$(show big.err; ls -l "$(rfile big)")" \
    eval '[ $rc -eq 0 ] && [ "$(wc -c <"$work/big.data")" = 4096 ] &&
      cmp -s "$work/big.data" <(head -c 4096 "$(rfile big)") && [ "$(stat -c %s "$(rfile big)")" = 1048576 ]'

  # 5. Invalid UTF-8: each invalid subpart one U+FFFD (from_utf8_lossy), so
  # the response decodes in the runtime. (A NUL byte is kept: 5b.)
  copy_log utf
  term_container utf "$(rfile utf)" \
    'printf "ok \377\376 \300\257 \355\240\200 \342\202 end" >/dev/termination-log'
  diag_req utf utf
  local r='\357\277\275' # U+FFFD
  printf "ok $r$r $r$r $r$r$r $r end" >"$work/utf.want"
  check "invalid UTF-8 (0xff, overlong, surrogate, truncated): replaced, the rest kept" \
    "$(show utf.out utf.err utf.data)" eval '[ $rc -eq 0 ] && cmp -s "$work/utf.data" "$work/utf.want"'

  # 5b. NUL bytes: kept, as upstream's String keeps them, and shown whole by
  # kata-agent-ctl ("\u0000" in its JSON; protobuf-c's C string would end
  # at the first).
  copy_log nul
  term_container nul "$(rfile nul)" \
    'printf "first\000second\000\000third \342\202\254\000" >/dev/termination-log'
  diag_req nul nul
  printf 'first\000second\000\000third \342\202\254\000' >"$work/nul.want"
  check "NUL bytes in the termination log: the whole log comes back, each NUL kept (\\u0000 in kata-agent-ctl's JSON)" \
    "$(show nul.out nul.err nul.data)" eval \
    '[ $rc -eq 0 ] && cmp -s "$work/nul.data" "$work/nul.want" && grep -qF "first\\u0000second" "$work/nul.out"'

  # 6-9. Errors, with the statuses of doc/protocol.md.
  diag_req nocid no-such-container
  check "an unknown container: NOT_FOUND, Invalid container id" "$(show nocid.err)" \
    failed_with nocid NOT_FOUND "Invalid container id: no-such-container"
  diag_req nolog msg kernel_log
  check "an unknown log_type: INVALID_ARGUMENT, upstream's text" "$(show nolog.err)" \
    failed_with nolog INVALID_ARGUMENT "unsupported diagnostic log_type: kernel_log"
  copy_log noann
  term_container noann "$(rfile noann)" 'exit 0' -
  diag_req noann noann
  check "no terminationMessagePath annotation: FAILED_PRECONDITION" "$(show noann.err)" \
    failed_with noann FAILED_PRECONDITION "No terminationMessagePath annotation"
  copy_log nomnt
  term_container nomnt "$(rfile nomnt)" 'exit 0' /var/log/termination
  diag_req nomnt nomnt
  check "the annotation names a destination no mount has: FAILED_PRECONDITION" "$(show nomnt.err)" \
    failed_with nomnt FAILED_PRECONDITION "termination message mount not found for /var/log/termination"
}

t_attacks() {
  local fds_before fds_after c
  # 10, 11. The host swaps the copied file for a symlink (to /etc/shadow,
  # then to a file of the same directory) after the container wrote it.
  copy_log sym
  term_container sym "$(rfile sym)" 'printf secret-free >/dev/termination-log'
  ln -sf /etc/shadow "$(rfile sym).new" && mv -f "$(rfile sym).new" "$(rfile sym)"
  diag_req sym sym
  check "the source made a symlink to /etc/shadow: PERMISSION_DENIED, nothing read" \
    "$(show sym.out sym.err)" eval 'failed_with sym PERMISSION_DENIED "symlink" && [ ! -s "$work/sym.data" ]'
  ln -sf "$(basename "$(rfile msg)")" "$(rfile sym).new" && mv -f "$(rfile sym).new" "$(rfile sym)"
  diag_req sym2 sym
  check "the source made a symlink to a file beside it: PERMISSION_DENIED (none followed)" \
    "$(show sym2.out sym2.err)" failed_with sym2 PERMISSION_DENIED "symlink"

  # 12, 13. A FIFO at the source: refused at once (no blocking open or read),
  # and the executor serves the next request.
  copy_log fifo
  term_container fifo "$(rfile fifo)" 'exit 0'
  rm -f "$(rfile fifo)" && mkfifo "$(rfile fifo)"
  CTL_TIMEOUT=60 diag_req fifo fifo
  check "a FIFO at the source: INVALID_ARGUMENT, not a regular file" "$(show fifo.out fifo.err)" \
    failed_with fifo INVALID_ARGUMENT "a fifo"
  diag_req after msg
  check "the executor still serves: the first container's message again" "$(show after.err)" \
    eval '[ $rc -eq 0 ] && [ "$(cat "$work/after.data")" = "disk full on /data" ]'

  # 14. A hard link to another file at the source.
  copy_log hl
  term_container hl "$(rfile hl)" 'exit 0'
  rm -f "$(rfile hl)" && ln "$shared/hl/rootfs/etc/passwd" "$(rfile hl)"
  diag_req hl hl
  check "a hard link at the source: PERMISSION_DENIED, nothing read" "$(show hl.out hl.err)" \
    eval 'failed_with hl PERMISSION_DENIED "links" && [ ! -s "$work/hl.data" ]'

  # 15-20. Sources a create accepts but the runtime never copied: under /dev
  # and /sys, another container's file, a bundle's file; ".." refused at
  # create already.
  term_container devsrc /dev/null 'exit 0'
  diag_req devsrc devsrc
  check "the mount's source /dev/null: PERMISSION_DENIED" "$(show devsrc-create.err devsrc.err)" \
    failed_with devsrc PERMISSION_DENIED "not a file the runtime copied"
  term_container syssrc /sys/kernel/uevent_seqnum 'exit 0'
  diag_req syssrc syssrc
  check "the mount's source under /sys: PERMISSION_DENIED" "$(show syssrc-create.err syssrc.err)" \
    failed_with syssrc PERMISSION_DENIED "not a file the runtime copied"
  term_container other "$(rfile msg)" 'exit 0'
  diag_req other other
  check "another container's termination log as the source: PERMISSION_DENIED" \
    "$(show other-create.err other.err)" failed_with other PERMISSION_DENIED "not a file the runtime copied"
  # a container whose id is another's and "-": the other's file is not its
  # own (the name is exactly <cid>-<16 hex>-<name>)
  copy_log dup-x
  term_container dup "$cdir/dup-x-$hex-termination-log" 'exit 0'
  diag_req dup dup
  check "the file of container dup-x as the source of container dup: PERMISSION_DENIED" \
    "$(show dup-create.err dup.err)" failed_with dup PERMISSION_DENIED "not a file the runtime copied"
  term_container bund "$shared/msg/rootfs/etc/passwd" 'exit 0'
  diag_req bund bund
  check "a file of a container's bundle as the source: PERMISSION_DENIED" \
    "$(show bund-create.err bund.err)" failed_with bund PERMISSION_DENIED "not a file the runtime copied"
  copy_log dots
  term_container dots "$cdir/../containers/$(basename "$(rfile dots)")" 'exit 0'
  check "a source with \"..\": refused at create (INVALID_ARGUMENT), never read" "$(show dots-create.err)" \
    failed_with dots-create INVALID_ARGUMENT '".."'

  # 21. The container replaces its file from inside: the file is a mount
  # point in its namespace (EBUSY); what it wrote is what is read.
  copy_log inside
  term_container inside "$(rfile inside)" 'rm -f /dev/termination-log && echo removed || echo rm-refused
    ln -sf /etc/shadow /dev/termination-log && echo linked || echo ln-refused
    printf "still mine" >/dev/termination-log'
  diag_req inside inside
  check "the container cannot swap its file for a symlink (a mount point: rm and ln refused): its message is read" \
    "$(show inside.stdout inside.out inside.err)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/inside.data")" = "still mine" ] &&
      grep -qx rm-refused "$work/inside.stdout" && grep -qx ln-refused "$work/inside.stdout" && [ -f "$(rfile inside)" ]'

  # 22. No fd left open in the executor by a refused read: every refusal
  # again, the executor's fds counted before and after.
  fds_before=$(ls "/proc/$executor_pid/fd" | wc -l)
  for c in sym fifo hl devsrc syssrc other dup bund nocid; do diag_req again "$c"; done
  fds_after=$(ls "/proc/$executor_pid/fd" | wc -l)
  check "the refusals again: the executor holds as many fds after as before ($fds_before)" \
    "$(ls -l "/proc/$executor_pid/fd")" want "$fds_after" "$fds_before"
}

# 23-25. Checked by the policy as GetDiagnosticDataRequest: denied by a
# policy that says so as genpolicy's rules.rego does by default
# (GetDiagnosticDataRequest := false unless the pod's settings allow it),
# while the requests around it still go.
t_policy() {
  local pol="$work/no-diag.rego"
  { sed -n '/^package/,/^default WriteStreamRequest/p' "$(dirname "$0")/../../policy/agent/no-exec.rego"
    echo 'default ExecProcessRequest := true'
    echo 'default GetDiagnosticDataRequest := false'; } >"$pol"
  call setpol SetPolicy "$(jq -Rs '{policy: .}' "$pol")"
  check "SetPolicy with a policy whose GetDiagnosticDataRequest is false" "$(show setpol.err)" want "$rc" 0
  diag_req denied msg
  check "GetDiagnosticData under it: PERMISSION_DENIED, blocked by policy, nothing read" \
    "$(show denied.out denied.err)" \
    eval 'failed_with denied PERMISSION_DENIED "GetDiagnosticDataRequest is blocked by policy" && [ ! -s "$work/denied.data" ]'
  call stats StatsContainer '{"containerId": "msg"}'
  check "a request the policy allows still goes (StatsContainer)" "$(show stats.err)" want "$rc" 0
  for c in msg empty big utf noann nomnt sym fifo hl devsrc syssrc other dup bund inside; do remove "$c"; done
  agent_stop
}

t_runtime_shaped
t_attacks
t_policy
