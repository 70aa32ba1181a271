/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd.c - fd-passthrough stdio, the executor's part: a host stream
 * becomes the stdout or stderr of a process without a terminal, so the
 * container writes straight into the host's socket and no agent process
 * copies a byte (doc/architecture.md, "Fd-passthrough stdio").
 *
 * Only with agent.passfd_direct (--passfd-direct; by default the process
 * keeps pipes, as upstream, and the monitor splices them into the streams):
 * a stream sent here without it is refused like a bad one below, and its
 * request fails, so a compromised front-end cannot change the mode.
 *
 * The front-end accepted the stream and sends it (PASSFD_STREAM) just
 * before the CreateContainer/ExecProcess that names it. We do not trust
 * it: the fd must be a connected, non-listening SOCK_STREAM socket of the
 * listener's family (AF_VSOCK; AF_UNIX only with the stand-alone unix
 * listener, --passfd-unix), else the request fails (INVALID_ARGUMENT) and
 * nothing is started. A process given a file, a pipe, a directory or a
 * listener as its stdout would write where the front-end chose, or accept
 * connections on the agent's behalf.
 *
 * The streams are kept by (container, exec, stream) because the request
 * may be handled after later messages (the agent policy holds it while the
 * policy process decides). Bounded: PASSFD_MAX_STAGED, each at most
 * PASSFD_STAGED_MS, a second stream for the same slot replaces the first,
 * and a new front-end drops them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "passfd.h"
#include "stream_sock.h"

struct passfd_stage {
	struct passfd_stage *next;
	char container_id[IPC_ID_MAX];
	char exec_id[IPC_ID_MAX];
	unsigned stream; /* enum ipc_stream */
	int fd;          /* -1: it failed its checks, why says why */
	struct kerr why;
	uint64_t deadline;
};

static const char *stream_name(unsigned stream)
{
	return stream == IPC_STREAM_STDOUT ? "stdout" : "stderr";
}

static void stage_free(struct executor *x, struct passfd_stage **pp)
{
	struct passfd_stage *s = *pp;
	*pp = s->next;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	x->n_passfd_staged--;
}

static void on_sweep(struct loop *l, void *data);

/* A timer at the earliest deadline, while streams wait. */
static void sweep_arm(struct executor *x)
{
	if (x->passfd_timer || !x->passfd_staged)
		return;
	uint64_t next = x->passfd_staged->deadline;
	for (struct passfd_stage *s = x->passfd_staged; s; s = s->next)
		if (s->deadline < next)
			next = s->deadline;
	x->passfd_timer = loop_timer_add(x->loop, next, on_sweep, x);
}

/* Streams whose request never came (or was refused before its handler:
 * the agent policy, [endpoints]): gone. */
static void sweep(struct executor *x, uint64_t now)
{
	for (struct passfd_stage **pp = &x->passfd_staged; *pp;) {
		if ((*pp)->deadline > now) {
			pp = &(*pp)->next;
			continue;
		}
		log_warn("passfd: the %s stream for %s%s%s came with no request within %u ms; closed",
			 stream_name((*pp)->stream), (*pp)->container_id,
			 (*pp)->exec_id[0] ? "/" : "", (*pp)->exec_id, PASSFD_STAGED_MS);
		stage_free(x, pp);
	}
}

static void on_sweep(struct loop *l, void *data)
{
	struct executor *x = data;
	x->passfd_timer = NULL;
	sweep(x, loop_now_ns());
	sweep_arm(x);
}

static int family_wanted(const struct executor *x)
{
	if (x->o.passfd_unix)
		return AF_UNIX;
	return x->o.passfd_listener_port ? AF_VSOCK : -1;
}

int on_passfd_stream(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_passfd_stream *q = m->in;
	cleanup_close int fd = ipc_msg_take_fd(m);
	uint64_t now = loop_now_ns();
	sweep(x, now);
	struct passfd_stage **slot = NULL;
	for (struct passfd_stage **pp = &x->passfd_staged; *pp; pp = &(*pp)->next)
		if ((*pp)->stream == q->stream && !strcmp((*pp)->container_id, q->container_id) &&
		    !strcmp((*pp)->exec_id, q->exec_id)) {
			slot = pp;
			break;
		}
	if (slot)
		stage_free(x, slot);
	if (x->n_passfd_staged >= PASSFD_MAX_STAGED) {
		log_warn("passfd: %u streams already wait for their request; the %s stream for "
			 "%s%s%s is closed",
			 PASSFD_MAX_STAGED, stream_name(q->stream), q->container_id,
			 q->exec_id[0] ? "/" : "", q->exec_id);
		return 0;
	}
	struct passfd_stage *s = calloc(1, sizeof(*s));
	if (!s)
		return 0; /* its request finds no stream: the output stays on a pipe */
	memcpy(s->container_id, q->container_id, sizeof(s->container_id));
	memcpy(s->exec_id, q->exec_id, sizeof(s->exec_id));
	s->stream = q->stream;
	s->deadline = now + PASSFD_STAGED_MS * 1000000ull;
	s->fd = -1;
	struct kerr e = { 0 };
	int family = family_wanted(x);
	int fl;
	if (family < 0)
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -ENOTSUP,
				"the agent has no passfd listener");
	else if (!x->o.passfd_direct)
		/* Pipe mode: an honest front-end hands every stream to the
		 * monitor; one that sends it here anyway fails the request. */
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EPERM,
				"agent.passfd_direct is off: a host stream is never a "
				"process's own fd");
	else if (stream_sock_check(fd, family, &e) < 0)
		;
	else if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		/* The front-end accepted it non-blocking; the flag belongs to
		 * the open file, which the process is about to share. */
		kerr_set_status(&e, GRPC_INTERNAL, -errno, "clear O_NONBLOCK: %s", strerror(errno));
	else
		s->fd = take_fd(&fd);
	if (s->fd < 0) {
		s->why = e;
		log_warn("passfd: the %s stream for %s%s%s is refused: %s", stream_name(q->stream),
			 q->container_id, q->exec_id[0] ? "/" : "", q->exec_id, e.msg);
	}
	s->next = x->passfd_staged;
	x->passfd_staged = s;
	x->n_passfd_staged++;
	sweep_arm(x);
	return 0;
}

void passfd_close(int fds[2])
{
	for (unsigned i = 0; i < 2; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

int passfd_take(struct executor *x, const char *cid, const char *eid, bool terminal, int fds[2],
		struct kerr *e)
{
	fds[0] = fds[1] = -1;
	const char *bad = NULL;
	struct kerr why = { 0 };
	unsigned bad_stream = 0;
	for (struct passfd_stage **pp = &x->passfd_staged; *pp;) {
		struct passfd_stage *s = *pp;
		if (strcmp(s->container_id, cid) || strcmp(s->exec_id, eid)) {
			pp = &s->next;
			continue;
		}
		if (s->fd < 0 && !bad) {
			why = s->why;
			bad = why.msg;
			bad_stream = s->stream;
		}
		int *to = &fds[s->stream - 1];
		if (*to >= 0)
			close(*to);
		*to = s->fd;
		s->fd = -1;
		stage_free(x, pp);
	}
	if (bad) {
		passfd_close(fds);
		return kerr_set_status(e, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s%s%s: the %s stream: %s", cid, eid[0] ? "/" : "", eid,
				       stream_name(bad_stream), bad);
	}
	if (terminal && (fds[0] >= 0 || fds[1] >= 0)) {
		passfd_close(fds);
		return kerr_set_status(e, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s%s%s: a process with a terminal cannot have a host "
				       "stream as its own stdout or stderr",
				       cid, eid[0] ? "/" : "", eid);
	}
	return 0;
}

int passfd_send(struct ipc_chan *el, const char *eid, int fds[2], struct kerr *e)
{
	int r = 0;
	for (unsigned i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		struct ipc_passfd_attach q = { .stream = i + 1 };
		snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
		if (r == 0)
			r = ipc_chan_send(el, IPC_LAUNCH_STDIO, 0, &q, sizeof(q), fds[i], e);
		close(fds[i]);
		fds[i] = -1;
	}
	return r;
}

void passfd_forget(struct executor *x)
{
	while (x->passfd_staged)
		stage_free(x, &x->passfd_staged);
	if (x->passfd_timer)
		loop_timer_cancel(x->loop, x->passfd_timer);
	x->passfd_timer = NULL;
}
