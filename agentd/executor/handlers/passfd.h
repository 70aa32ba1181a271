/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd.h - fd-passthrough stdio, the executor's part (passfd.c): the
 * host streams the front-end hands over (PASSFD_STREAM) to be a process's
 * own stdout/stderr, checked here, kept until the CreateContainer or
 * ExecProcess that starts the process, then sent to its launcher
 * (LAUNCH_STDIO) just before the LAUNCH_INIT/LAUNCH_EXEC.
 */
#ifndef KATA_EXECUTOR_PASSFD_H
#define KATA_EXECUTOR_PASSFD_H

#include "executor.h"

/* Streams kept for requests not yet handled (a request the agent policy
 * holds comes after the streams of the next ones), and how long one may
 * wait for its request. */
#define PASSFD_MAX_STAGED 64u
#define PASSFD_STAGED_MS 30000u

/* PASSFD_STREAM from the front-end (no reply: its request answers). */
int on_passfd_stream(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* The streams kept for process (cid, eid; eid "" = the init) go to
 * fds[0] (stdout) and fds[1] (stderr), -1 where none. A stream that
 * failed its checks fails the request (INVALID_ARGUMENT, every stream of
 * the process closed), as does one for a process with a terminal (its
 * output is the pty's). */
int passfd_take(struct executor *x, const char *cid, const char *eid, bool terminal, int fds[2],
		struct kerr *e);
/* Send fds (as from passfd_take, closed here) to the launcher as
 * LAUNCH_STDIO for process eid, before the request that starts it. */
int passfd_send(struct ipc_chan *el, const char *eid, int fds[2], struct kerr *e);
/* Close fds[0..1] (>= 0) and set them to -1. */
void passfd_close(int fds[2]);
/* A new front-end: what the old one handed over and never named goes. */
void passfd_forget(struct executor *x);

#endif
