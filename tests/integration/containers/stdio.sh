#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Containers end to end through the real agent (parent, executor, front-end,
# monitors), driven by kata-agent-ctl run/exec/call: stdio. Prints TAP.
#
#   stdio.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
. "$(dirname "$0")/../../lib/agent.sh" "$@"
plan 4
suite_requires

t_stdio() {
  agent_start stdio || return
  local b
  b=$(bundle cat cat)
  printf 'hello stdin\n' | ctl run "$b" >"$work/cat.out" 2>"$work/cat.err"
  rc=$?
  check "stdin to cat and back" "$(diag cat)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/cat.out")" = "hello stdin" ]'

  head -c $((4 << 20)) /dev/urandom >"$work/in.bin"
  ctl run "$b" <"$work/in.bin" >"$work/cat4.out" 2>"$work/cat4.err"
  rc=$?
  check "4 MiB of random bytes through cat arrive intact" "$(diag cat4)" \
    eval '[ $rc -eq 0 ] && cmp -s "$work/in.bin" "$work/cat4.out"'

  # 256 MiB of random data on stdout, its sha256 computed inside on stderr.
  b=$(bundle big sh -c 'mkfifo /tmp/f && { sha256sum < /tmp/f >&2 & } &&
    head -c 268435456 /dev/urandom | tee /tmp/f; wait')
  ctl run "$b" </dev/null 2>"$work/big.err" | sha256sum >"$work/big.out"
  rc=${PIPESTATUS[0]}
  check "256 MiB through stdout: the checksums inside and outside agree" "$(diag big)" eval \
    '[ $rc -eq 0 ] && [ -n "$(cut -d" " -f1 "$work/big.out")" ] &&
     [ "$(cut -d" " -f1 "$work/big.out")" = "$(awk "{print \$1}" "$work/big.err")" ]'

  # A slow reader: the container writes 200 MiB at once, nobody reads for
  # a while; the agent's own processes must not buffer it.
  b=$(bundle fast head -c 209715200 /dev/zero)
  local before during
  before=$(rss_anon_kib)
  ctl run "$b" </dev/null 2>"$work/fast.err" | { sleep 4; rss_anon_kib >"$work/fast.rss"; wc -c >"$work/fast.out"; }
  rc=${PIPESTATUS[0]}
  during=$(cat "$work/fast.rss" 2>/dev/null)
  local bound=16384 what="stays < 16 MiB"
  agent_sanitized && bound=$((before + 32768)) what="grows < 32 MiB (sanitizer build)"
  check "slow reader: 200 MiB pending, agent processes' RssAnon $what (before ${before} KiB, during ${during:-?} KiB)" \
    "$(diag fast)" eval '[ $rc -eq 0 ] && [ "$(cat "$work/fast.out")" = 209715200 ] &&
      [ "${during:-999999}" -lt $bound ]'
  agent_stop
}

t_stdio
