#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What each agent binary loads at run time (its DT_NEEDED), against what
# issue 14's footprint work decided (doc/benchmarks.md "Issue 14, memory
# part", doc/guest-image.md): a library that comes back through a new
# dependency costs every pod its mapped pages. Prints TAP.
#
#   links.sh PARENT EXECUTOR FRONTEND MONITOR LAUNCHER LAUNCH_WORKER
set -u
names=(parent executor front-end monitor launcher launch-worker)
# Refused per binary (regular expressions on the NEEDED names). Nobody
# loads libcrypto or libz (Nettle's SHA-2 and zlib are linked statically);
# the parent and the monitor decode no protobuf; the monitor and the
# launcher load nothing but libc (or nothing: static PIEs on musl).
refused=(
  'libcrypto|libz\.so|libprotobuf-c|libseccomp|libcap'
  'libcrypto|libz\.so'
  'libcrypto|libz\.so|libcap'
  'libcrypto|libz\.so|libprotobuf-c|libjansson|libseccomp|libcap'
  'libcrypto|libz\.so|libprotobuf-c|libjansson|libseccomp|libcap'
  'libcrypto|libz\.so'
)
if ! command -v readelf >/dev/null; then
  echo "1..0 # SKIP no readelf (binutils)"
  exit 0
fi
echo "1..${#names[@]}"
i=0
for bin in "$@"; do
  needed=$(readelf -d "$bin" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  bad=$(tr ' ' '\n' <<<"$needed" | grep -E "${refused[$i]}" | tr '\n' ' ')
  if [ -z "$bad" ]; then
    echo "ok $((i + 1)) - ${names[$i]} loads ${needed:-nothing (static)}"
  else
    echo "not ok $((i + 1)) - ${names[$i]} loads $bad"
    echo "# all it loads: $needed"
  fi
  i=$((i + 1))
done
