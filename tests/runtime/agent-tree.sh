# SPDX-License-Identifier: Apache-2.0
# Functions for the scenarios' shell steps and leftovers.sh (sourced; POSIX
# sh, so that busybox sh in the VM guest runs them too).
#   descendants       every live descendant of $AGENT_PID
#   container_procs   those in a nested pid namespace (container processes
#                     and the pod's namespace holder): NSpid has two entries
#                     or more below the agent's
# Stand-alone AGENT_PID is the agent's parent on the host; in the VM guest it
# is 1, the agent as init.
descendants() {
  for s in /proc/[0-9]*/stat; do
    sed 's/.*) [A-Za-z] \([0-9]*\) .*/\1/; t; d' "$s" 2>/dev/null | sed "s|^|${s#/proc/} |"
  done | awk -v root="$AGENT_PID" '{ split($1, a, "/"); kids[$2] = kids[$2] " " a[1] }
    END { q[1] = root; n = 1; for (i = 1; i <= n; i++) { m = split(kids[q[i]], c, " ");
          for (j = 1; j <= m; j++) { q[++n] = c[j]; print c[j] } } }'
}
container_procs() {
  # the agent's own NSpid depth, plus one
  depth=$(awk '/^NSpid:/ { print NF + 1 }' "/proc/$AGENT_PID/status" 2>/dev/null)
  for d in $(descendants); do
    f=$(awk '/^NSpid:/ { print NF }' "/proc/$d/status" 2>/dev/null)
    [ -n "$f" ] && [ "$f" -ge "${depth:-3}" ] && echo "$d"
  done
}
