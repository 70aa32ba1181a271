/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stages.h - create a container process (the init, or an exec into
 * a running container) the way the launcher does it: one clone3() with
 * CLONE_PIDFD and the new namespaces (CLONE_PARENT, so the monitor becomes
 * the parent, and CLONE_INTO_CGROUP when asked), then the privileged setup in
 * the child, which stops at the exec point until stages_start().
 *
 * Setup errors in the child come back over the sync socket as a struct kerr
 * ("mount proc at /proc: fsopen proc: ..."), not as a bare exit status.
 *
 * The child side runs, in order (doc/containers.md says why):
 *   stdio, wait for uid/gid maps (user ns), join namespaces by path,
 *   oom_score_adj, build seccomp, [init] rootfs_prepare, prestart and
 *   createRuntime hooks (in the launcher), createContainer hooks, masked and
 *   read-only paths, pivot_root, hostname, sysctl, read-only root,
 *   [exec] chdir, rlimits, look up args[0], no_new_privs, seccomp (without
 *   no_new_privs it needs CAP_SYS_ADMIN, so it goes before the drop),
 *   bounding set, user and groups, capabilities; READY; wait for START;
 *   startContainer hooks, seccomp (with no_new_privs), execve.
 */
#ifndef KATA_CONTAINER_STAGES_H
#define KATA_CONTAINER_STAGES_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "oci.pb-c.h"

/* CLONE_PARENT: the new process is a sibling of the caller, i.e. a child of
 * the caller's parent (the monitor). Tests leave it out to reap themselves. */
#define CONTAINER_SPAWN_CLONE_PARENT 0x1u
/* CLONE_INTO_CGROUP with launch->cgroup_fd. */
#define CONTAINER_SPAWN_INTO_CGROUP 0x2u

struct container_launch {
	const char *id;
	const char *bundle;           /* for a relative Root.Path and the hooks' state */
	const Grpc__Spec *spec;       /* the container's spec (checked again here) */
	const Grpc__Process *process; /* an exec's process; NULL for the init */
	const char *shared_dir;       /* root and bind sources below it (rootfs_ctx) */
	const char *cgroup_path;      /* cgroup path for a "cgroup" mount, or NULL */
	int join_pidfd;               /* exec: pidfd of the container init, else -1 */
	int cgroup_fd;                /* with CONTAINER_SPAWN_INTO_CGROUP */
	int stdio[3];                 /* the child's 0, 1, 2; -1 keeps the caller's */
	unsigned flags;
};

struct container_child {
	pid_t pid;
	int pidfd;
	int sync_fd; /* the launcher's end of the sync socket until start */
};

/* Validate, clone, run the setup up to the exec point. On success the child
 * waits in READY; on failure the child is gone (reaped here unless
 * CONTAINER_SPAWN_CLONE_PARENT, where its parent reaps it) and err says what
 * failed in the child. */
int stages_spawn(const struct container_launch *launch, struct container_child *out,
		 struct kerr *err);

/* Release the child to exec. Returns 0 once it has exec'ed (or an error from
 * startContainer hooks or execve), then runs the poststart hooks (their
 * failures are logged, as the runtime spec says). */
int stages_start(const struct container_launch *launch, struct container_child *c,
		 struct kerr *err);

/* Kill (if still waiting) and close the fds; does not reap. */
void stages_child_release(struct container_child *c);

#endif
