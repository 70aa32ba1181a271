/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_components.h - the confidential guest's components (Confidential
 * Containers guest-components), started and watched by the parent as
 * upstream's agent starts them (src/agent/src/main.rs: builtin_coco_plan,
 * attestation_components_available, launch_guest_component_procs,
 * launch_process, wait_for_path_to_exist):
 *
 *   agent.guest_components_procs    launched, in this order
 *   none                            nothing
 *   attestation-agent               attestation-agent
 *   confidential-data-hub           attestation-agent, confidential-data-hub
 *   api-server-rest (the default)   attestation-agent, confidential-data-hub,
 *                                   api-server-rest
 *
 *   GC_AA_PATH --attestation_sock unix://GC_AA_SOCKET
 *              [--initdata-toml INITDATA_DIR/initdata.toml] [-c INITDATA_DIR/aa.toml]
 *       then GC_AA_SOCKET is waited for
 *   GC_CDH_PATH [-c INITDATA_DIR/cdh.toml], with
 *              OCICRYPT_KEYPROVIDER_CONFIG=GC_OCICRYPT_CONFIG added to the
 *              environment
 *       then CDH_SOCKET_PATH is waited for
 *   GC_API_SERVER_PATH --features <agent.guest_components_rest_api>
 *       not waited for
 *
 * --initdata-toml when initdata was read at start (initdata_boot.h), -c when
 * that config file exists at launch time, as upstream. argv[0] is the path,
 * as Rust's Command gives it.
 *
 * Before anything is launched every binary of the plan is checked; if one
 * is missing nothing is launched and the agent goes on (upstream: "not
 * found" + "attestation binaries requested for launch not available"; here
 * at INFO, since that is every non-confidential image). One that root
 * should not run (not a regular executable file owned by root, or it or a
 * directory above it writable by a group other than root's or by others,
 * sticky directories excepted) is refused the same way, logged as an error
 * (ours: upstream runs whatever is there).
 *
 * The launch runs on the parent's loop, never blocking it: each component is
 * started (after removing what was left at its socket path, as upstream),
 * then its socket is looked for every GC_POLL_MS until
 * agent.launch_process_timeout + 1 s have passed (upstream sleeps 1 s
 * before its first look and gives up after timeout more), and only then is
 * the next one started. done(true) follows the last one; done(false)
 * follows a launch that failed: a fork error, a socket that did not appear
 * in time, or a component that ended before its socket appeared (logged
 * with its name, path, pid and exit status). Upstream's agent then fails
 * to start (as PID 1 it powers off); the caller does the same.
 *
 * The sockets are looked for without following symlinks (openat2
 * RESOLVE_NO_SYMLINKS): a socket reached through a planted link is not
 * taken for the component's.
 *
 * A component that ends later is logged at ERROR with the same details and
 * is not restarted: upstream spawns them once and never watches them (its
 * reaper logs "child exited unexpectedly"), and a restarted attestation
 * agent or CDH would come back without the state its clients rely on.
 *
 * Each component runs as the parent does: root with every capability (it
 * needs the TEE's device to attest and mounts for the CDH), no seccomp, the
 * parent's namespaces, cwd and environment (PATH; HTTPS_PROXY / NO_PROXY
 * from agent.https_proxy / agent.no_proxy, which the CDH needs to pull
 * images; what the kernel passes init), plus its own additions; stdio only
 * (stdin the parent's, stdout and stderr the parent's or the
 * agent.log_vport sink's), every other fd closed; default signal mask and
 * dispositions; PR_SET_PDEATHSIG(SIGKILL), so none outlives a stand-alone
 * parent. At shutdown each gets SIGTERM, then SIGKILL with the executor
 * and the front-end.
 *
 * Offers: struct gc_spec, gc_plan(), guest_components_start(),
 * guest_components_reaped(), guest_components_stop(),
 * guest_components_kill(), guest_components_alive(),
 * guest_components_free().
 */
#ifndef KATA_PARENT_GUEST_COMPONENTS_H
#define KATA_PARENT_GUEST_COMPONENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"
#include "options.h"

#define GC_AA_PATH "/usr/local/bin/attestation-agent"
#define GC_CDH_PATH "/usr/local/bin/confidential-data-hub"
#define GC_API_SERVER_PATH "/usr/local/bin/api-server-rest"
#define GC_AA_SOCKET "/run/confidential-containers/attestation-agent/attestation-agent.sock"
#define GC_OCICRYPT_CONFIG "/etc/ocicrypt_config.json"
#define GC_MAX 3
#define GC_MAX_ARGV 8
#define GC_POLL_MS 20

struct gc_spec {
	const char *id; /* "attestation-agent", ... */
	const char *path;
	const char *argv[GC_MAX_ARGV]; /* argv[0] = path; NULL-terminated */
	const char *env;               /* "NAME=VALUE" added, or NULL */
	const char *socket;            /* waited for, or NULL */
};

/* Whether a config file is there to pass with -c (tests pass their own). */
typedef bool (*gc_exists_fn)(const char *path);

/* The plan for these options: plan[0..n), in launch order; returns n. */
size_t gc_plan(const struct agent_options *o, bool have_initdata, gc_exists_fn exists,
	       struct gc_spec plan[GC_MAX]);

struct guest_components;
typedef void (*gc_done_fn)(bool ok, void *data);

/* Check the plan's binaries and begin launching. Returns 1 when launching
 * (done is called later, from the loop), 0 when nothing is launched (none
 * asked for, one missing or refused; *out is NULL), or a negative errno.
 * stdio_fd: the components' stdout and stderr, or -1 for the parent's. */
int guest_components_start(struct guest_components **out, struct loop *loop,
			   const struct agent_options *o, bool have_initdata, int stdio_fd,
			   gc_done_fn done, void *data, struct kerr *err);
/* true if pid was a component (then logged). NULL gc: false. */
bool guest_components_reaped(struct guest_components *gc, pid_t pid, int status);
/* Shutdown: no further launch, SIGTERM to each live component. */
void guest_components_stop(struct guest_components *gc);
/* SIGKILL to each live component (the shutdown grace ran out). */
void guest_components_kill(struct guest_components *gc);
bool guest_components_alive(const struct guest_components *gc);
void guest_components_free(struct guest_components *gc);

#endif
