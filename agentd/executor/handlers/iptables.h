/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iptables.h - GetIPTables and SetIPTables (iptables.c): the guest's
 * iptables-save / iptables-restore (ip6tables-* for IPv6), run as a
 * confined child of the executor, asynchronously in its loop.
 *
 * The child (upstream rpc.rs get_ip_tables / set_ip_tables run the same
 * tools in the agent's network namespace, the guest's) is a fork of the
 * executor that keeps its seccomp filter, its network namespace and uid 0
 * and gives up everything else before it execs: every capability but
 * CAP_NET_ADMIN and CAP_NET_RAW (bounding, permitted, effective; ambient
 * and inheritable empty), every fd but the three pipes on 0-2, every
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
