/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.h - CreateSandbox, DestroySandbox and the sandbox's storages
 * (sandbox.c).
 */
#ifndef KATA_EXECUTOR_SANDBOX_H
#define KATA_EXECUTOR_SANDBOX_H

#include "executor.h"

int on_create_sandbox(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_update_ephemeral_mounts(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_remove_stale_virtiofs_share_mounts(struct ipc_chan *c, struct ipc_msg *m, void *data,
					  struct kerr *err);
/* A container was forgotten: finishes a pending DestroySandbox when it was
 * the last one. */
void sandbox_container_gone(struct executor *x);
void sandbox_free(struct executor *x);
/* The container's namespaces, as upstream update_container_namespaces: its
 * IPC and UTS entries name the sandbox's shared ones; any pid entry is
 * replaced by one for a new namespace, or for the pod's shared one when the
 * request asks (sandbox_pidns): the holder's if CreateSandbox asked for it,
 * else the pod's first container's (FAILED_PRECONDITION once that one's
 * init is gone). The runtime strips the pid namespace from specs. */
int sandbox_set_pidns(struct executor *x, Grpc__CreateContainerRequest *req, struct kerr *err);
/* SIGCHLD: true when pid was the shared pid namespace's holder (now gone). */
bool sandbox_reaped(struct executor *x, pid_t pid);
/* Poll watchable-bind storages (watcher.h) while there are any. */
void storage_watch_schedule(struct executor *x);

#endif
