# SPDX-License-Identifier: Apache-2.0
# TAP for the shell suites, sourced by them. The plan is declared before the
# first check (`plan N`), so a suite that stops early, or a check that
# disappears behind an `if`, shows as a failure instead of a shorter count:
# on exit every planned check that never ran is reported `not ok`.
# doc/testing.md has the rules; scripts/tap-summary enforces them.
#
#   plan N                      declare N checks (once, first)
#   check DESC DIAG CMD...      one check: ok if CMD succeeds, else DIAG shown
#   tap OK|FAIL DESC [DIAG]     one check with a known result
#   skip COUNT DESC REASON      COUNT checks that cannot run here because the
#                               kernel or machine lacks an optional feature:
#                               "ok # SKIP kernel: REASON", a skip everywhere
#   skip_rest REASON            the rest of the plan, likewise
#   skip_env COUNT DESC REASON  COUNT checks that cannot run because the
#                               environment lacks a tool or a privilege:
#                               "ok # SKIP REASON" outside CI, "not ok" in CI
#                               (CI=true: ./scripts/test installs everything)
#   fail_rest REASON            the rest of the plan cannot run: a failure
#   need_tool TOOL...           a missing tool: skip_env for the whole suite
#   say TEXT                    a TAP comment
#   want GOT EXPECTED           a command for check: GOT = EXPECTED
tap_n=0
tap_bad=0
tap_plan=

say() { printf '# %s\n' "$*"; }
want() { [ "$1" = "$2" ]; }

plan() {
  [ -z "$tap_plan" ] || { echo "Bail out! plan declared twice"; exit 1; }
  tap_plan=$1
  echo "1..$1"
  trap tap_finish EXIT
}

tap() { # tap OK|FAIL description [diagnostic file or text]
  tap_n=$((tap_n + 1))
  if [ "$1" = OK ]; then
    echo "ok $tap_n - $2"
  else
    tap_bad=$((tap_bad + 1))
    echo "not ok $tap_n - $2"
    if [ -n "${3:-}" ]; then
      if [ -f "$3" ]; then tail -n 20 "$3"; else printf '%s\n' "$3"; fi | sed 's/^/# /'
    fi
  fi
}

check() { # check DESCRIPTION DIAG COMMAND...: OK if the command succeeds
  local desc=$1 diag=$2
  shift 2
  if "$@"; then tap OK "$desc"; else tap FAIL "$desc" "$diag"; fi
}

skip() { # skip COUNT DESCRIPTION REASON: an optional kernel feature is missing
  local i
  for ((i = 0; i < $1; i++)); do
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $2 # SKIP kernel: ${3#kernel: }"
  done
}

skip_rest() { skip $((tap_plan - tap_n)) "not run" "$1"; }

skip_env() { # skip_env COUNT DESCRIPTION REASON: a tool or privilege is missing
  local i
  for ((i = 0; i < $1; i++)); do
    if [ "${CI:-}" = true ]; then
      tap FAIL "$2: $3 (in CI nothing may be missing)"
    else
      tap_n=$((tap_n + 1))
      echo "ok $tap_n - $2 # SKIP $3"
    fi
  done
}

fail_rest() {
  while [ "$tap_n" -lt "$tap_plan" ]; do tap FAIL "not run: $1"; done
}

need_tool() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 && continue
    skip_env $((tap_plan - tap_n)) "not run" "$t is missing (scripts/deps installs it)"
    exit 0
  done
}

tap_finish() {
  local rc=$?
  [ -n "${tap_cleanup:-}" ] && $tap_cleanup
  if [ "$tap_n" -lt "$tap_plan" ]; then
    fail_rest "the suite stopped before this check (exit status $rc)"
  elif [ "$tap_n" -gt "$tap_plan" ]; then
    echo "not ok $((tap_n + 1)) - $tap_n checks ran, $tap_plan planned"
    tap_bad=$((tap_bad + 1))
  fi
  [ "$tap_bad" -eq 0 ] && exit 0
  exit 1
}
