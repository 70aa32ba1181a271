/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iptables.h - GetIPTables and SetIPTables (iptables.c): the guest's
 * iptables-save / iptables-restore (ip6tables-* for IPv6), run as a
 * confined child of the executor, asynchronously in its loop.
 *
 * The child (upstream rpc.rs get_ip_tables / set_ip_tables run the same
 * tools in the agent's network namespace, the guest's, as root) is a fork
 * of the executor that keeps its seccomp filter and its network namespace
 * and gives up everything else before it execs: a mount namespace of its
 * own (private) where every mount is read-only; uid IPT_UID, gid IPT_GID,
 * no supplementary group; CAP_NET_ADMIN and CAP_NET_RAW only (bounding,
 * permitted, effective, inheritable and ambient: execve keeps them for a
 * uid that is not 0), every fd but the three pipes on 0-2, every
 * environment variable; no_new_privs, its own process group, and it dies
 * with the executor. The binary is one of fixed paths (IPT_DIRS), never a
 * name from the request; a path found is kept for the executor's life.
 *
 * Bounds: IPT_DEADLINE_MS per run (then the group is killed and the
 * request answered DEADLINE_EXCEEDED), IPC_IPTABLES_DATA_MAX bytes of
 * stdout (more: killed, RESOURCE_EXHAUSTED), IPT_MAX_RUNS at once, the
 * first IPT_STDERR_KEEP bytes of stderr in the error.
 *
 * Offers: on_get_iptables(), on_set_iptables(), iptables_reaped().
 */
#ifndef KATA_EXECUTOR_IPTABLES_H
#define KATA_EXECUTOR_IPTABLES_H

#include <stdbool.h>
#include <sys/types.h>

#include "executor.h"

#define IPT_DIRS "/usr/sbin", "/sbin"
/* The tool's ids (doc/security.md "The iptables tool"): a uid no other
 * process of the agent runs as (the front-end, monitors, policy process
 * and pid-namespace holder are 65534: the tool could signal them, or read
 * a dumpable one's /proc files), and group root, which iptables-legacy
 * needs: its save reads /proc/net/ip{,6}_tables_names (0440 root:root),
 * its restore opens the xtables lock (IPT_LOCK_FILE, made group-readable
 * by the child). With every mount read-only, group root writes no regular
 * file (device and socket nodes are not the mount's: see the doc). */
#define IPT_UID 65533
#define IPT_GID 0
/* iptables' XT_LOCK_NAME: the tool runs with no environment, so no
 * XTABLES_LOCKFILE */
#define IPT_LOCK_FILE "/run/xtables.lock"
/* upstream IPTABLES_RESTORE_WAIT_SEC: iptables-restore --wait 5 */
#define IPT_RESTORE_WAIT_S "5"
/* The restore's --wait, plus the time a 4 MiB rule set takes (4 s measured
 * for iptables-nft-save on a loaded 2-core machine), with room; below the
 * Go runtime's 60 s request timeout, so the host gets our answer. */
#define IPT_DEADLINE_MS 20000
#define IPT_MAX_RUNS 4
#define IPT_STDERR_KEEP 400

int on_get_iptables(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_set_iptables(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);

/* SIGCHLD: true when pid was a tool this file started. */
bool iptables_reaped(struct executor *x, pid_t pid, int status);

#endif
