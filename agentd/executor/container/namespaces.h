/* SPDX-License-Identifier: Apache-2.0 */
/*
 * namespaces.h - the container's namespaces: spec names to clone flags, the
 * plan of which are new and which are joined by path, joining them in the
 * child, and the user-namespace id maps the parent (the launcher) writes.
 *
 * A pid namespace given by path cannot be joined by the child itself
 * (setns(CLONE_NEWPID) only affects children), so the launcher enters it for
 * its children around clone3: ns_enter_pid_for_children() and
 * ns_restore_pid_for_children().
 */
#ifndef KATA_CONTAINER_NAMESPACES_H
#define KATA_CONTAINER_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "oci.pb-c.h"

#define NS_MAX 8

/* CLONE_NEW* for an OCI namespace type ("pid", "network", "mount", "ipc",
 * "uts", "user", "cgroup", "time"), or 0 when the name is unknown. */
int ns_flag_from_name(const char *name);

struct ns_plan {
	int clone_flags; /* namespaces to create (CLONE_NEW*) */
	int join_flags;  /* namespaces joined by path */
	int n_join;
	int join_fd[NS_MAX];
	int join_type[NS_MAX];
	int pid_join_fd; /* pid namespace given by path, or -1 */
};

/* Build the plan and open every namespace path (before anything else moves,
 * so a path names the namespace as the caller sees it). Release with
 * ns_plan_close. */
int ns_plan_open(const Grpc__Linux *lx, struct ns_plan *plan, struct kerr *err);
void ns_plan_close(struct ns_plan *plan);

/* Stage 1: setns() into each namespace joined by path (user first), then
 * the pid namespace given by path, for the children. */
int ns_join(const struct ns_plan *plan, struct kerr *err);

/* Launcher side: write /proc/PID/uid_map and gid_map from the spec. The
 * launcher is root in the parent namespace, so no newuidmap helper and no
 * "deny" to /proc/PID/setgroups are needed: the container keeps setgroups(). */
int ns_write_id_maps(pid_t pid, const Grpc__Linux *lx, struct kerr *err);

#endif
