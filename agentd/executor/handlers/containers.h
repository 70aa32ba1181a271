/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containers.h - the container registry and its front-end handlers
 * (containers.c).
 */
#ifndef KATA_EXECUTOR_CONTAINERS_H
#define KATA_EXECUTOR_CONTAINERS_H

#include "executor.h"

/* A bind mount: type "bind", or option bind or rbind (as runc reads it). */
bool ctr_mount_is_bind(const Grpc__Mount *mt);

int on_create_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_start_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_remove_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_exec_process(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_signal_process(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_update_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_pause_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_resume_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* IPC_STATS_CONTAINER_REQ -> IPC_STATS_CONTAINER_REPLY (cg_stats, net_dev_stats). */
int on_stats_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_destroy_sandbox(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* Start removing (SIGKILL, wait, shutdown, cleanup); used by DestroySandbox. */
void container_begin_remove(struct container *ct);
/* SIGCHLD: reap every exited child of the executor. */
void containers_reap(struct executor *x);
/* Record X's (the monitor's) pid, 0 once reaped, and index it for the reaper. */
void container_set_xpid(struct container *ct, pid_t pid);
/* Go on with a removal that waited (for the poststop hooks), from the
 * loop. */
void container_finish_removal(struct container *ct);

/* A new front-end: hand it a fresh channel to every live monitor. */
void containers_new_frontend(struct executor *x);
/* Exit of the executor: kill and forget everything without waiting. */
void containers_free_all(struct executor *x);

#endif
