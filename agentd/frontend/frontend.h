/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frontend.h - the front-end's state and its internal interfaces:
 *   confine.c      confine_self(): empty root, no privileges, seccomp
 *   exec_client.c  requests to the executor and matching of their replies
 *   rpc.c          ttRPC dispatch: catalog, endpoint policy, decode, table
 */
#ifndef KATA_FRONTEND_H
#define KATA_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "ipc.h"
#include "loop.h"
#include "options.h"
#include "ttrpc.h"

struct exec_pending;

struct frontend {
	struct loop *loop;
	struct ttrpc_server *server;
	struct ipc_chan *exec;       /* NULL once the executor channel closed */
	char exec_gone_reason[128];
	struct exec_pending *pending; /* requests awaiting the executor's reply */
	size_t n_pending;
	unsigned generation;
	/* Only allowed_endpoints is set: the parent passes the list on argv. */
	struct agent_options policy;
};

/* ---- confine.c ---- */

/* Drop everything the front-end does not need, irreversibly: empty
 * read-only root, uid/gid, all capabilities in every set, no_new_privs,
 * not dumpable, then the seccomp allow-list. parent_pid: the expected
 * parent (re-armed parent-death signal). */
int confine_self(uid_t uid, gid_t gid, pid_t parent_pid, struct kerr *err);

/* ---- exec_client.c ---- */

/* Called once per request: reply is the executor's answer of the expected
 * type, or NULL with failure set (IPC_ERROR from the executor, channel
 * closed). call may be NULL (internal request, or the ttRPC call was
 * cancelled meanwhile: then the callback is not called at all). */
typedef void (*exec_reply_fn)(struct frontend *fe, struct ttrpc_call *call,
			      const struct ipc_msg *reply, const struct kerr *failure);

#define EXEC_MAX_PENDING 1024

int exec_client_start(struct frontend *fe, int sock, struct kerr *err);
/* Send a request; the callback runs when its reply arrives. On failure
 * (channel gone, too many pending) nothing is queued and err says why
 * (status UNAVAILABLE or RESOURCE_EXHAUSTED). */
int exec_request(struct frontend *fe, struct ttrpc_call *call, uint32_t type, const void *payload,
		 size_t len, uint32_t reply_type, exec_reply_fn fn, struct kerr *err);
void exec_client_stop(struct frontend *fe);

/* ---- rpc.c ---- */

void rpc_dispatch(struct ttrpc_call *call, void *data);

#endif
