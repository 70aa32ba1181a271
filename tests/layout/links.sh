#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What each agent binary loads at run time (its DT_NEEDED), against what
# issue 14's footprint work decided (doc/benchmarks.md "Issue 14, memory
# part", doc/guest-image.md): a library that comes back through a new
# dependency costs every pod its mapped pages. Prints TAP.
#
#   links.sh [--static-daemons] [--static-policy] PARENT EXECUTOR FRONTEND MONITOR LAUNCHER LAUNCH_WORKER POLICY
#
# --static-daemons (meson passes it with -Dmusl_daemons on): the parent,
# the executor and the front-end must load nothing, have no interpreter
# and still be position independent (static PIEs: ASLR kept);
# --static-policy: the policy process too (only when scripts/musl-deps had
# pcre2 at the system's version).
set -u
static_daemons=false
static_policy=false
daemons_libc=glibc
policy_libc=glibc
while [ $# -gt 0 ]; do
  case $1 in
  --static-daemons) static_daemons=true ;;
  --static-policy) static_policy=true ;;
  # what meson's summary says (a comment in the output)
  --daemons-libc=*) daemons_libc=${1#*=} ;;
  --policy-libc=*) policy_libc=${1#*=} ;;
  *) break ;;
  esac
  shift
done
names=(parent executor front-end monitor launcher launch-worker policy)
# Refused per binary (regular expressions on the NEEDED names). Nobody
# loads libcrypto or libz (Nettle's SHA-2 and zlib are linked statically)
# nor libcap (capabilities by capset and prctl: common/caps.h);
# the parent and the monitor decode no protobuf; the monitor and the
# launcher load nothing but libc (or nothing: static PIEs on musl).
refused=(
  'libcrypto|libz\.so|libprotobuf-c|libseccomp|libcap'
  'libcrypto|libz\.so|libcap'
  'libcrypto|libz\.so|libcap'
  'libcrypto|libz\.so|libprotobuf-c|libjansson|libseccomp|libcap'
  'libcrypto|libz\.so|libprotobuf-c|libjansson|libseccomp|libcap'
  'libcrypto|libz\.so|libcap'
  'libcrypto|libz\.so|libcap'
)
static=(false false false false false false false)
if $static_daemons; then
  refused[0]=. refused[1]=. refused[2]=.
  static[0]=true static[1]=true static[2]=true
fi
if $static_policy; then
  refused[6]=.
  static[6]=true
fi
if ! command -v readelf >/dev/null; then
  echo "1..0 # SKIP no readelf (binutils)"
  exit 0
fi
echo "1..${#names[@]}"
# Which libc the daemons got is a build choice with a fallback (no prefix
# from scripts/musl-deps, a library not to be had at the system's
# version): said here, as in meson's summary, and checked below for what
# was chosen; not a skip, which CI would fail for its mirror's contents.
echo "# parent, executor, front-end: $daemons_libc; policy process: $policy_libc"
i=0
for bin in "$@"; do
  needed=$(readelf -d "$bin" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  bad=$(tr ' ' '\n' <<<"$needed" | grep -E "${refused[$i]}" | tr '\n' ' ')
  if ${static[$i]}; then
    hdr=$(readelf -hlW "$bin" 2>/dev/null)
    grep -q 'Requesting program interpreter' <<<"$hdr" && bad+="an interpreter (not static) "
    grep -qE 'Type: +DYN' <<<"$hdr" || bad+="no PIE (ELF type not DYN) "
  fi
  if [ -z "$bad" ]; then
    echo "ok $((i + 1)) - ${names[$i]} loads ${needed:-nothing (static)}"
  else
    echo "not ok $((i + 1)) - ${names[$i]} loads $bad"
    echo "# all it loads: $needed"
  fi
  i=$((i + 1))
done
