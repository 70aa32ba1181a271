#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attack tests: the executor's writes (doc/security.md "What the executor
# writes"). Prints TAP.
#
#   writes.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#
# Every path the executor writes for the host goes through common/beneath.h
# (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS from an fd of the shared
# directory; special files and hard links refused before any open for I/O).
# Here a hostile host (CopyFile, CreateSandbox's dns, AddSwapPath) and a
# container that can write into a volume plant what would redirect those
# writes: a symlinked <shared>/sandbox (issue 10: root wrote host-chosen
# content into a guest directory that way), symlinks in every intermediate
# component, fifos and device nodes, hard links to files elsewhere, "..".
# Each write is refused, nothing is written outside, and the agent keeps
# serving. "Outside" is a directory next to the shared one, standing for
# the guest's /etc/modprobe.d.
. "$(dirname "$0")/../lib/agent.sh" "$@"
plan 21
suite_requires

b64() { printf '%s' "$1" | base64 -w0; }
outside_untouched() { # no file appeared outside, the victim kept its content
  [ -z "$(ls -A "$outside" | grep -v '^victim$')" ] && [ "$(cat "$outside/victim")" = precious ]
}
serving() { ctl check >/dev/null 2>&1; }
copy() { # copy PATH MODE [DATA]: CopyFile as kata_agent.go copyFile sends it
  local size=0
  [ $(($2 & 8#170000)) = $((8#100000)) ] && size=${#3}
  ctl call AgentService/CopyFile "$(jq -nc --arg p "$1" --argjson m "$2" --argjson s "$size" \
    --arg d "$(b64 "${3:-}")" '{path: $p, fileMode: $m, dirMode: 2147484136, fileSize: $s, uid: 0, gid: 0, data: $d}')" \
    >"$out" 2>&1
}
dns() { # dns LINE: CreateSandbox with that DNS line
  ctl call AgentService/CreateSandbox "$(jq -nc --arg l "$1" '{dns: [$l, ""]}')" >"$out" 2>&1
}

t_writes() {
  agent_start writes || return
  out="$work/w.out"
  outside="$work/outside"
  sc="$shared/shared/containers"
  mkdir -p "$outside" "$sc"
  echo precious >"$outside/victim"

  # ---- the DNS file, <shared>/sandbox/resolv.conf ----
  copy "$shared/sandbox" $((8#120777)) "$outside"
  rc=$?
  check "CopyFile of a symlink as <shared>/sandbox: PERMISSION_DENIED (outside its subtree)" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && [ ! -L "$shared/sandbox" ]'
  # what a container with write access there (or a host sharing the
  # directory) could still plant
  rm -rf "$shared/sandbox"
  ln -s "$outside" "$shared/sandbox"
  dns "options evil"
  rc=$?
  check "DNS through a symlinked <shared>/sandbox: PERMISSION_DENIED, nothing written outside" \
    "$(cat "$out"; ls -la "$outside")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched && serving'
  rm -f "$shared/sandbox"
  mkdir -p "$shared/sandbox"
  ln -s "$outside/victim" "$shared/sandbox/resolv.conf"
  dns "options evil"
  rc=$?
  check "DNS through a symlinked resolv.conf: PERMISSION_DENIED, the file it points at unchanged" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched && serving'
  rm -f "$shared/sandbox/resolv.conf"
  ln "$outside/victim" "$shared/sandbox/resolv.conf"
  dns "options evil"
  rc=$?
  check "DNS onto a hard link of a file elsewhere: PERMISSION_DENIED, that file unchanged" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched && serving'
  rm -f "$shared/sandbox/resolv.conf"
  mkfifo "$shared/sandbox/resolv.conf"
  dns "options evil"
  rc=$?
  check "DNS onto a planted fifo: refused at once (the executor is not blocked)" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && [ -p "$shared/sandbox/resolv.conf" ] && serving'
  rm -f "$shared/sandbox/resolv.conf"
  dns "nameserver 10.0.0.53"
  rc=$?
  check "DNS with nothing planted: written" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$shared/sandbox/resolv.conf")" = "nameserver 10.0.0.53" ]'

  # ---- CopyFile: outside its subtree, "..", symlinks in every component ----
  copy "$shared/sandbox/resolv.conf" $((8#100644)) "options evil"
  rc=$?
  check "CopyFile onto <shared>/sandbox/resolv.conf: PERMISSION_DENIED (only shared/containers)" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && ! grep -q evil "$shared/sandbox/resolv.conf"'
  copy "$sc/../../sandbox/resolv.conf" $((8#100644)) "options evil"
  rc=$?
  check "CopyFile with .. components: INVALID_ARGUMENT" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q INVALID_ARGUMENT "$out" && ! grep -q evil "$shared/sandbox/resolv.conf"'
  local comp ok=0 bad=
  for comp in a a/b a/b/c a/b/c/f.kata-copy; do
    rm -rf "$sc/a" && mkdir -p "$sc/a/b/c" && rm -rf "${sc:?}/$comp" && ln -s "$outside" "$sc/$comp"
    copy "$sc/a/b/c/f" $((8#100644)) "evil"
    if [ $? -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched; then
      ok=$((ok + 1))
    else
      bad="$bad $comp: $(cat "$out")"
    fi
  done
  check "CopyFile with a symlink planted at each of a, a/b, a/b/c and the temporary file: 4 refusals" \
    "$bad" want "$ok" 4
  ok=0 bad=
  for comp in a a/b; do
    rm -rf "$sc/a" && mkdir -p "$sc/a/b" && rm -rf "${sc:?}/$comp" && ln -s "$outside" "$sc/$comp"
    copy "$sc/a/b/newdir" $((8#42777))
    if [ $? -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched &&
      [ "$(stat -c %a "$outside")" = 755 ]; then
      ok=$((ok + 1))
    else
      bad="$bad $comp: $(cat "$out")"
    fi
  done
  check "CopyFile of a directory below a symlink (at a, a/b): refused, the directory it points at not chmod'ed" \
    "$bad" want "$ok" 2
  # onto a symlink: as upstream, what is not a directory there is replaced
  # (the link itself, never what it points at)
  rm -rf "$sc/a" && mkdir -p "$sc/a" && ln -s "$outside" "$sc/a/d"
  copy "$sc/a/d" $((8#42777))
  rc=$?
  check "CopyFile of a directory onto a symlink: the link is replaced by the directory, its target not chmod'ed" \
    "$(cat "$out"; stat -c %a "$outside"; ls -la "$sc/a")" eval \
    '[ $rc -eq 0 ] && [ ! -L "$sc/a/d" ] && [ "$(stat -c %a "$sc/a/d")" = 2777 ] &&
     [ "$(stat -c %a "$outside")" = 755 ] && outside_untouched'

  rm -rf "$sc/a" && mkdir -p "$sc/a"
  mkfifo "$sc/a/f.kata-copy"
  copy "$sc/a/f" $((8#100644)) "x"
  rc=$?
  check "CopyFile onto a fifo planted at its temporary name: refused at once" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && [ -p "$sc/a/f.kata-copy" ] && serving'
  rm -f "$sc/a/f.kata-copy"
  ln "$outside/victim" "$sc/a/f.kata-copy"
  copy "$sc/a/f" $((8#100644)) "evil"
  rc=$?
  check "CopyFile onto a hard link planted at its temporary name: PERMISSION_DENIED, the file elsewhere unchanged" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched'
  rm -f "$sc/a/f.kata-copy"
  if mknod "$sc/a/dev.kata-copy" c 1 3 2>/dev/null; then
    copy "$sc/a/dev" $((8#100644)) "x"
    rc=$?
    check "CopyFile onto a device node planted at its temporary name: refused, never opened" "$(cat "$out")" eval \
      '[ $rc -ne 0 ] && grep -q "character device" "$out" && [ -c "$sc/a/dev.kata-copy" ]'
  else
    skip 1 "CopyFile onto a planted device node" "mknod is not permitted here"
  fi

  # ---- AddSwapPath: a planted symlink, device node, symlinked directory ----
  ln -s "$outside/victim" "$shared/swap-link"
  ctl call AgentService/AddSwapPath "{\"path\": \"$shared/swap-link\"}" >"$out" 2>&1
  rc=$?
  check "AddSwapPath on a symlink to a file elsewhere: PERMISSION_DENIED, that file unchanged" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched'
  ln -s "$outside" "$shared/swapdir"
  ctl call AgentService/AddSwapPath "{\"path\": \"$shared/swapdir/victim\"}" >"$out" 2>&1
  rc=$?
  check "AddSwapPath through a symlinked directory: PERMISSION_DENIED" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched'
  if mknod "$shared/swapdev" b 7 250 2>/dev/null; then
    ctl call AgentService/AddSwapPath "{\"path\": \"$shared/swapdev\"}" >"$out" 2>&1
    rc=$?
    check "AddSwapPath on a planted block device node: refused, never opened" "$(cat "$out")" eval \
      '[ $rc -ne 0 ] && grep -q "block device" "$out"'
  else
    skip 1 "AddSwapPath on a planted block device node" "mknod is not permitted here"
  fi

  # ---- a container as the attacker: it can write into its volume ----
  mkdir -p "$sc/vol"
  local b
  b=$(bundle planter sh -c "ln -s '$outside' /vol/sub && mkfifo /vol/f.kata-copy && ln -s '$outside/victim' /vol/g.kata-copy && echo planted")
  jqset "$b" '.mounts += [{destination: "/vol", type: "bind", source: $v, options: ["rbind", "rw"]}]' --arg v "$sc/vol"
  run_ planter "$b"
  check "a container plants a symlink, a fifo and a symlinked temporary name in its volume" "$(diag planter)" eval \
    '[ $rc -eq 0 ] && grep -q planted "$work/planter.out" && [ -L "$sc/vol/sub" ] && [ -p "$sc/vol/f.kata-copy" ]'
  copy "$sc/vol/sub/modprobe.conf" $((8#100644)) "install dummy /bin/sh -c evil"
  rc=$?
  check "CopyFile through the container's symlink: PERMISSION_DENIED, nothing written outside" "$(cat "$out")" eval \
    '[ $rc -ne 0 ] && grep -q PERMISSION_DENIED "$out" && outside_untouched'
  copy "$sc/vol/f" $((8#100644)) "x"
  rc=$?
  local rc2
  copy "$sc/vol/g" $((8#100644)) "evil"
  rc2=$?
  check "CopyFile onto the container's fifo and symlink at the temporary names: refused, nothing written outside" \
    "$(cat "$out")" eval '[ $rc -ne 0 ] && [ $rc2 -ne 0 ] && outside_untouched && serving'

  # the agent kept serving, and writes still work where nothing is planted
  copy "$sc/ok.txt" $((8#100644)) "fine"
  rc=$?
  check "after all of it the agent serves, and a plain CopyFile is written" "$(cat "$out")" eval \
    '[ $rc -eq 0 ] && [ "$(cat "$sc/ok.txt")" = fine ] && serving'
  agent_stop
}

t_writes
