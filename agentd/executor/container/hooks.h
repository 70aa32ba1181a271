/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hooks.h - OCI lifecycle hooks: run each hook of a stage in order, with the
 * container state JSON on its stdin, its own args and env, and its timeout.
 *
 * Hooks run in whatever namespaces the caller is in, with its credentials:
 * the launcher for prestart, createRuntime and poststart, the executor's
 * poststop runner for poststop, the container's setup stage 2 for
 * createContainer (before pivot_root) and startContainer (after pivot_root
 * and the drop to the process's user, capabilities and seccomp filter,
 * just before exec), as the runtime spec places them. Each hook is its own
 * process group, killed whole at its deadline.
 */
#ifndef KATA_CONTAINER_HOOKS_H
#define KATA_CONTAINER_HOOKS_H

#include <sys/types.h>

#include "err.h"
#include "oci.pb-c.h"

enum hook_stage {
	HOOK_PRESTART,
	HOOK_CREATE_RUNTIME,
	HOOK_CREATE_CONTAINER,
	HOOK_START_CONTAINER,
	HOOK_POSTSTART,
	HOOK_POSTSTOP,
};

/* Longest a hook may run when it gives no timeout of its own (seconds):
 * a hook that never ends would otherwise hang the container's creation. */
#define HOOK_DEFAULT_TIMEOUT_SEC 120
/* Longest a hook may run whatever its timeout says (seconds). */
#define HOOK_MAX_TIMEOUT_SEC 300

/* The hook's deadline: its timeout, the default without one, at most the
 * maximum. */
int64_t hook_timeout_sec(const Grpc__Hook *h);

const char *hook_stage_name(enum hook_stage stage); /* "prestart", ... */

/* The hooks of one stage in hooks (may be NULL: none). */
Grpc__Hook **hooks_of_stage(const Grpc__Hooks *hooks, enum hook_stage stage, size_t *n);

/* The state JSON as the runtime spec defines it: ociVersion, id, status
 * ("creating", "created", "running", "stopped"), pid (omitted when <= 0),
 * bundle, annotations. Caller frees. NULL only on allocation failure. */
char *hooks_state_json(const Grpc__Spec *spec, const char *id, const char *status, pid_t pid,
		       const char *bundle);

/* Run the hooks of a stage in order; the first failure (exit status != 0,
 * signal, timeout, exec failure) stops the stage with an error naming the
 * stage, the hook index and its path. */
int hooks_run(const Grpc__Hooks *hooks, enum hook_stage stage, const char *state, struct kerr *err);

#endif
