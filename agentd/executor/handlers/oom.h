/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oom.h - OOM watches on container cgroups and the GetOOMEvent queue
 * (oom.c).
 */
#ifndef KATA_EXECUTOR_OOM_H
#define KATA_EXECUTOR_OOM_H

#include "executor.h"

/* Watch ct's cgroup for OOM kills (v1: eventfd on memory.oom_control via
 * cgroup.event_control; v2: inotify on memory.events' oom_kill counter). */
int oom_watch_add(struct container *ct, struct kerr *err);
/* Stop watching; must run before the cgroup is removed. Events already
 * queued for ct stay queued. NULL watch is fine. */
void oom_watch_remove(struct container *ct);
/* IPC_GET_OOM_EVENT_REQ from the front-end. */
int on_get_oom_event(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* The front-end channel closed or was replaced: forget its parked poll and
 * make its unacknowledged event deliverable again. */
void oom_frontend_gone(struct executor *x);
/* Shutdown: the parked poll fails UNAVAILABLE at once. */
void oom_shutdown(struct executor *x);
void oom_free(struct executor *x);

#endif
