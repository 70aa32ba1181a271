#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attacks on what the parent does as root at start with host input and
# with the image's component binaries (agentd/parent/initdata_boot.c,
# common/initdata.c, agentd/parent/guest_components.c):
#
#   - the host's initdata device: oversized, truncated, not gzip, a gzip
#     bomb, data keys that try to leave the initdata directory: refused
#     before anything is written or launched, or only the fixed file names
#     written;
#   - something in the guest that planted symlinks before the agent ran:
#     /run/confidential-containers itself, a file name the writer uses, a
#     component's socket path and its directory: never followed;
#   - a component binary that someone other than root could replace (the
#     file or a directory above it, or a link into such a directory): not
#     run as root.
#
# The agent runs stand-alone, as in tests/guestcomp/guestcomp.sh (private
# mount namespace, /run and /usr/local/bin the test's). Prints TAP.
#
#   guestcomp.sh KATA_AGENT KATA_AGENT_CTL MAKE_BUSYBOX_BUNDLE
#   (environment: see tests/guestcomp/lib.sh)
. "$(dirname "$0")/../guestcomp/lib.sh" "$@"
plan 25
gc_requires

# refused DESC IMAGE TEXT: the agent given IMAGE stops (status 1) with an
# error line containing TEXT, having written and launched nothing.
refused() {
  gc_start "agent.guest_components_procs=attestation-agent" --initdata "$2"
  check "$1: the agent does not start" "status ${rc:-running}: $(tail -n 3 "$work/agent.log")" test "${rc:-}" = 1
  check "$1: refused (\"$3\"), nothing written, nothing launched" "$(grep ERRO "$work/agent.log")" \
    sh -c "gc_err() { grep '\"level\":\"ERRO\"' '$work/agent.log' | grep -qF -- \"\$1\"; }; gc_err '$3' &&
      ! [ -e '$work/run/confidential-containers' ] && ! [ -e '$work/rec/events' ]"
}

t_malformed_devices() {
  gc_prepare devices
  gc_doc "$work/doc.toml"
  "$mkinitdata" "$work/big.img" "$work/doc.toml" --length $((2 << 20))
  refused "a stated length of 2 MiB" "$work/big.img" "length 2097152 exceeds the 1048576 byte limit"
  "$mkinitdata" "$work/cut.img" "$work/doc.toml" --truncate 100
  refused "an image cut short" "$work/cut.img" "truncated: the header says"
  "$mkinitdata" "$work/raw.img" "$work/doc.toml" --raw
  refused "a document that is not gzipped" "$work/raw.img" "not a gzip stream"
  # 5 MiB of TOML that compresses to a few KiB
  python3 -c 'import sys; sys.stdout.write("algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\n\"x\" = \"" + "a" * (5 << 20) + "\"\n")' >"$work/bomb.toml"
  "$mkinitdata" "$work/bomb.img" "$work/bomb.toml"
  refused "a gzip bomb (5 MiB from $(($(stat -c %s "$work/bomb.img") / 1024)) KiB)" "$work/bomb.img" \
    "the document is larger than 4194304 bytes"
}

# Data keys are never file names: only initdata.toml, aa.toml and cdh.toml
# are written, under their fixed names.
t_traversing_keys() {
  gc_prepare keys
  cat >"$work/doc.toml" <<'EOF'
algorithm = "sha256"
version = "0.1.0"
[data]
"../../../../tmp/gc-escape" = "escaped"
"../aa.toml" = "escaped"
"/etc/gc-escape" = "escaped"
"aa.toml" = "inside"
EOF
  "$mkinitdata" "$work/keys.img" "$work/doc.toml"
  gc_start "agent.guest_components_procs=none" --initdata "$work/keys.img"
  check "keys with ../ and / : the agent starts" "status ${rc:-serving}" test -z "${rc:-}"
  check "only initdata.toml and aa.toml (\"inside\") are written, nowhere else" \
    "$(find "$work/run" /tmp/gc-escape /etc/gc-escape 2>&1)" sh -c \
    "[ \"\$(cd '$work/run' && find . -type f | sort | tr '\n' ' ')\" = './confidential-containers/initdata/aa.toml ./confidential-containers/initdata/initdata.toml ' ] &&
     [ \"\$(cat '$work/run/confidential-containers/initdata/aa.toml')\" = inside ] &&
     ! [ -e /tmp/gc-escape ] && ! [ -e /etc/gc-escape ] && ! [ -e '$work/run/confidential-containers/aa.toml' ]"
  agent_stop
}

t_planted_links() {
  gc_prepare planted
  gc_doc "$work/doc.toml"
  "$mkinitdata" "$work/ok.img" "$work/doc.toml"
  mkdir -p "$work/victim"
  ln -s "$work/victim" "$work/run/confidential-containers"
  gc_start "agent.guest_components_procs=attestation-agent" --initdata "$work/ok.img"
  check "/run/confidential-containers planted as a symlink: the agent does not start" "status ${rc:-running}" test "${rc:-}" = 1
  check "... refused as a symlink, nothing written through it, nothing launched" "$(grep ERRO "$work/agent.log"; ls -A "$work/victim")" \
    sh -c "grep '\"level\":\"ERRO\"' '$work/agent.log' | grep -qF '/run/confidential-containers: a symlink' &&
      [ -z \"\$(ls -A '$work/victim')\" ] && ! [ -e '$work/rec/events' ]"

  # The file names and a socket path planted as symlinks to files outside:
  # replaced or removed, the targets untouched.
  gc_prepare planted2
  gc_doc "$work/doc.toml"
  "$mkinitdata" "$work/ok.img" "$work/doc.toml"
  mkdir -p "$work/run/confidential-containers/initdata"
  echo untouched >"$work/victim-file"
  echo untouched >"$work/victim-sock"
  ln -s "$work/victim-file" "$work/run/confidential-containers/initdata/aa.toml"
  ln -s "$work/victim-sock" "$work/run/confidential-containers/cdh.sock"
  if gc_start "agent.guest_components_procs=confidential-data-hub" --initdata "$work/ok.img"; then
    tap OK "planted aa.toml and cdh.sock links: the agent serves"
  else
    tap FAIL "planted aa.toml and cdh.sock links: the agent serves" "$work/agent.log"
  fi
  check "aa.toml replaced by a regular file, its link's target untouched" "$(ls -l "$work/run/confidential-containers/initdata")" \
    sh -c "[ -f '$work/run/confidential-containers/initdata/aa.toml' ] && ! [ -L '$work/run/confidential-containers/initdata/aa.toml' ] &&
      [ \"\$(cat '$work/victim-file')\" = untouched ]"
  check "the link at the CDH's socket path removed before the launch (not followed), a socket there now" \
    "$(ls -l "$work/run/confidential-containers"; cat "$work/victim-sock")" \
    sh -c "[ -S '$work/run/confidential-containers/cdh.sock' ] && [ \"\$(cat '$work/victim-sock')\" = untouched ]"
  agent_stop

  # The attestation agent's socket directory planted as a link: its socket,
  # made through the link, is not taken for the component's.
  gc_prepare planted3
  mkdir -p "$work/run/confidential-containers" "$work/elsewhere"
  ln -s "$work/elsewhere" "$work/run/confidential-containers/attestation-agent"
  gc_start "agent.guest_components_procs=attestation-agent agent.launch_process_timeout=1"
  check "a socket reached through a linked directory is not the component's: the agent stops" \
    "status ${rc:-serving}; $(ls -l "$work/elsewhere")" \
    sh -c "[ '${rc:-}' = 1 ] && [ -S '$work/elsewhere/attestation-agent.sock' ]"
  check "... logged as a socket that did not appear" "$(grep ERRO "$work/agent.log")" \
    gc_error_has "did not create /run/confidential-containers/attestation-agent/attestation-agent.sock within 2 s"
}

# refused_bin DESC: the setup just made has a binary root should not run.
refused_bin() {
  if gc_start "agent.guest_components_procs=confidential-data-hub"; then
    tap OK "$1: the agent serves"
  else
    tap FAIL "$1: the agent serves" "status ${rc:-}: $(tail -n 3 "$work/agent.log")"
  fi
  check "$1: refused, logged, nothing launched" "$(grep -E 'ERRO|refusing' "$work/agent.log"; gc_events)" \
    sh -c "grep '\"level\":\"ERRO\"' '$work/agent.log' | grep -q 'refusing to run .* as root: .*may be changed by others than root' &&
      ! [ -e '$work/rec/events' ]"
  agent_stop
}

t_binaries() {
  gc_prepare binother
  chmod o+w "$work/bin/confidential-data-hub"
  refused_bin "a component binary writable by others"
  gc_prepare binowner
  chown 65534 "$work/bin/attestation-agent"
  refused_bin "a component binary owned by uid 65534"
  gc_prepare bindir
  chgrp 65534 "$work/bin" && chmod g+w "$work/bin"
  refused_bin "the binaries' directory writable by group 65534"
  gc_prepare binlink
  mkdir -p "$work/open" && chmod 0777 "$work/open"
  mv "$work/bin/confidential-data-hub" "$work/open/confidential-data-hub"
  ln -s "$work/open/confidential-data-hub" "$work/bin/confidential-data-hub"
  refused_bin "a link to a binary in a world-writable directory"
}

t_malformed_devices
t_traversing_keys
t_planted_links
t_binaries
