/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-monitor - one per container: the parent (CLONE_PARENT from the
 * launcher) and child subreaper of every container process. It reaps them
 * and keeps their exit statuses, owns the parent ends of their stdio,
 * buffers output (bounded: backpressure) until the front-end acknowledges
 * it, and survives a front-end restart without losing a byte.
 *
 * Started by the executor (through a fork that set PR_SET_CHILD_SUBREAPER
 * and exec'd us) with three SOCK_SEQPACKET channels:
 *   fd 3  executor  (peer EXECUTOR): MON_NEW_FRONTEND, MON_SIGNAL, MON_SHUTDOWN
 *   fd 4  launcher  (peer LAUNCHER): MON_PROCESS_ADD
 *   fd 5  front-end (peer FRONTEND): stdio, resize, wait requests, host
 *         streams (MON_PASSFD_ATTACH)
 * Sequence: argv, check the fds, confine (common/confine.c: empty root,
 * unprivileged ids, CAP_KILL only, seccomp) before reading any message, then
 * one event loop. Bad input from a peer closes that peer's channel only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "confine.h"
#include "grpc_status.h"
#include "log.h"
#include "monitor.h"
#include "number.h"
#include "relro.h"

enum { FD_EXECUTOR = 3, FD_LAUNCHER = 4, FD_FRONTEND = 5 };

static void usage(FILE *f)
{
	fprintf(f, "Usage: kata-agent-monitor --container-id ID [OPTIONS]\n"
		   "The per-container monitor of kata-agent. Started by kata-agent-executor, one\n"
		   "per container, with SOCK_SEQPACKET channels on fd 3 (executor), 4 (launcher)\n"
		   "and 5 (front-end); not by hand.\n\n"
		   "  --container-id ID   the container it serves ([A-Za-z0-9][A-Za-z0-9_.-]*)\n"
		   "  --uid N, --gid N    ids to run as after confinement (default 65534, not 0)\n"
		   "  --log-level L       critical|error|warn|info|debug (default info)\n"
		   "  --launcher-pid PID  the container's launcher, our child: reaped before we\n"
		   "                      exit\n"
		   "  --stdio-buffer N    bytes of output kept per stream (default 1048576;\n"
		   "                      4096..67108864)\n"
		   "  --endpoints-blocked TYPES\n"
		   "                      the front-end's requests [endpoints] allowed blocks,\n"
		   "                      comma-separated IPC type numbers (absent: none)\n"
		   "  --version           print the version and exit\n"
		   "  --help              print this help and exit\n");
}

/* ---- replies ---- */

static void chan_kerr(struct ipc_chan *c, uint32_t id, const struct kerr *e)
{
	struct kerr e2 = { 0 };
	if (ipc_chan_send_error(c, id, e, GRPC_INTERNAL, &e2) < 0)
		log_warn("reply to %s: %s", ipc_chan_name(c), e2.msg);
}

static void chan_error(struct ipc_chan *c, uint32_t id, int grpc_status, int errno_code,
		       const char *msg)
{
	struct kerr e = { 0 };
	kerr_set_status(&e, grpc_status, errno_code, "%s", msg);
	chan_kerr(c, id, &e);
}

static void chan_ok(struct ipc_chan *c, uint32_t id)
{
	struct kerr e = { 0 };
	if (ipc_chan_send(c, IPC_OK, id, NULL, 0, -1, &e) < 0)
		log_warn("reply to %s: %s", ipc_chan_name(c), e.msg);
}

void mon_to_frontend(struct monitor *m, uint32_t type, uint32_t id, const void *p, size_t len)
{
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	mon_to_frontend_v(m, type, id, &iov, 1);
}

void mon_to_frontend_v(struct monitor *m, uint32_t type, uint32_t id, const struct iovec *iov,
		       unsigned niov)
{
	if (!m->frontend)
		return;
	struct kerr e = { 0 };
	if (ipc_chan_sendv(m->frontend, type, id, iov, niov, NULL, 0, &e) < 0) {
		/* The queue is full: the front-end does not read. What it did not
		 * acknowledge goes to the next one. */
		log_error("front-end channel: %s; closing it", e.msg);
		if (m->frontend)
			ipc_chan_close(m->frontend, e.msg);
	}
}

void mon_error_to_frontend(struct monitor *m, uint32_t id, int grpc_status, int errno_code,
			   const char *fmt, ...)
{
	if (!m->frontend)
		return;
	char msg[IPC_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	chan_error(m->frontend, id, grpc_status, errno_code, msg);
}

void mon_exited(struct monitor *m, struct mon_proc *p)
{
	if (!m->exec)
		return;
	struct ipc_exited x = { .status = p->status };
	memcpy(x.exec_id, p->exec_id, sizeof(x.exec_id));
	struct kerr e = { 0 };
	if (ipc_chan_send(m->exec, IPC_MON_EXITED, 0, &x, sizeof(x), -1, &e) < 0)
		log_error("tell the executor about exit of %s: %s",
			  p->exec_id[0] ? p->exec_id : "init", e.msg);
}

void mon_check_done(struct monitor *m)
{
	if (m->live || m->launcher_pid)
		return;
	if (m->shutting_down) {
		log_info("shutdown: every process is reaped; exiting");
		loop_quit(m->loop);
	} else if (!m->exec && !m->frontend) {
		/* Nobody can ask anything any more, and nothing runs. */
		log_info("executor and front-end gone, nothing runs; exiting");
		loop_quit(m->loop);
	}
}

void mon_released(struct monitor *m, const char *exec_id)
{
	if (!m->exec)
		return;
	struct ipc_exec_name x = { 0 };
	snprintf(x.exec_id, sizeof(x.exec_id), "%s", exec_id);
	struct kerr e = { 0 };
	if (ipc_chan_send(m->exec, IPC_MON_RELEASED, 0, &x, sizeof(x), -1, &e) < 0)
		log_error("tell the executor exec %s was released: %s", exec_id, e.msg);
}

/* Which processes a request may name: a read or ACK also drains a waited
 * exec (mon_proc_find); anything else sees only live ones (mon_proc_get). */
enum lookup { LOOKUP_LIVE, LOOKUP_DRAIN };

/* The process named by a request, or an ERROR reply: INVALID_ARGUMENT for
 * another container (upstream's "Invalid container id"), NOT_FOUND for an
 * unknown or released process (upstream sandbox_err_to_ttrpc). */
static struct mon_proc *find_or_reply(struct monitor *m, struct ipc_chan *c, uint32_t id,
				      const char *container_id, const char *exec_id,
				      enum lookup how)
{
	if (container_id && strcmp(container_id, m->container_id) != 0) {
		char msg[IPC_ERROR_MSG_MAX];
		snprintf(msg, sizeof(msg), "Invalid container id %s (this monitor serves %s)",
			 container_id, m->container_id);
		chan_error(c, id, GRPC_INVALID_ARGUMENT, -ENOENT, msg);
		return NULL;
	}
	struct mon_proc *p = how == LOOKUP_DRAIN ? mon_proc_find(m, exec_id)
						 : mon_proc_get(m, exec_id);
	if (!p) {
		char msg[IPC_ERROR_MSG_MAX];
		snprintf(msg, sizeof(msg), "Process not found: process %s of container %s",
			 exec_id[0] ? exec_id : "init", m->container_id);
		chan_error(c, id, GRPC_NOT_FOUND, -ENOENT, msg);
	}
	return p;
}

/* ---- front-end channel ---- */

static int on_read_stream(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_stdio_read *r = msg->in;
	struct mon_proc *p = find_or_reply(m, c, msg->hdr.id, NULL, r->exec_id, LOOKUP_DRAIN);
	struct kerr e = { 0 };
	/* The ACK first: it frees room, so the read may be answered with
	 * what the pipe still held. */
	if (p && r->ack)
		mon_stream_ack(p, r->stream, r->ack);
	if (p && mon_stream_read(p, r->stream, msg->hdr.id, r->max_len, &e) < 0)
		chan_kerr(c, msg->hdr.id, &e);
	return 0;
}

static int on_read_stream_ack(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_stdio_ack *a = msg->in;
	struct mon_proc *p = mon_proc_find(m, a->exec_id);
	if (p)
		mon_stream_ack(p, a->stream, a->offset);
	return 0;
}

static int on_write_stdin(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_stdio_write *w = msg->in;
	struct mon_proc *p = find_or_reply(m, c, msg->hdr.id, NULL, w->exec_id, LOOKUP_LIVE);
	struct kerr e = { 0 };
	if (p && mon_stdin_write(p, msg->hdr.id, msg->payload + sizeof(*w), msg->len - sizeof(*w),
				 &e) < 0)
		chan_kerr(c, msg->hdr.id, &e);
	return 0;
}

static int on_close_stdin(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_exec_ref *x = msg->in;
	struct mon_proc *p = find_or_reply(m, c, msg->hdr.id, x->container_id, x->exec_id,
					   LOOKUP_LIVE);
	if (p) {
		mon_stdin_close(p);
		if (m->frontend == c)
			chan_ok(c, msg->hdr.id);
	}
	return 0;
}

static int on_tty_win_resize(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_tty_resize *t = msg->in;
	struct mon_proc *p = find_or_reply(m, c, msg->hdr.id, NULL, t->exec_id, LOOKUP_LIVE);
	if (!p)
		return 0;
	int fd = p->in_fd >= 0 ? p->in_fd : p->out[0].fd;
	if (!p->terminal || fd < 0) {
		/* Upstream: UNAVAILABLE "no tty" (its term_master is gone
		 * after CloseStdin too). */
		char e[IPC_ERROR_MSG_MAX];
		snprintf(e, sizeof(e), "no tty: process %s has no %s",
			 p->exec_id[0] ? p->exec_id : "init",
			 p->terminal ? "open terminal" : "terminal");
		chan_error(c, msg->hdr.id, GRPC_UNAVAILABLE, -ENOTTY, e);
		return 0;
	}
	struct winsize ws = { .ws_row = t->rows, .ws_col = t->cols };
	if (ioctl(fd, TIOCSWINSZ, &ws) < 0) {
		char e[IPC_ERROR_MSG_MAX];
		int en = errno;
		snprintf(e, sizeof(e), "resize terminal of process %s: %s",
			 p->exec_id[0] ? p->exec_id : "init", strerror(en));
		chan_error(c, msg->hdr.id, GRPC_INTERNAL, -en, e);
		return 0;
	}
	chan_ok(c, msg->hdr.id);
	return 0;
}

static int on_wait_process(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_exec_ref *x = msg->in;
	struct mon_proc *p = find_or_reply(m, c, msg->hdr.id, x->container_id, x->exec_id,
					   LOOKUP_LIVE);
	struct kerr e = { 0 };
	if (p && mon_wait(p, msg->hdr.id, &e) < 0)
		chan_kerr(c, msg->hdr.id, &e);
	return 0;
}

/* The requests the front-end sends here, with the request type a refusal
 * names (upstream's wording, "<Request> is blocked by policy: ...": the
 * input of the first RPC the declaration names for it) and the agent
 * policy's verdict bits that deny it (all of them must be set for
 * CLOSE_STDIN_REQ, which serves CloseStdin and an empty WriteStdin). Reads
 * are never refused by the verdicts: their output is redacted (proc.c). */
static const struct fm_request {
	uint32_t type;
	char request[24];
	uint32_t deny;
} fm_requests[] = {
	{ IPC_READ_STREAM_REQ, "ReadStreamRequest", 0 },
	{ IPC_READ_STREAM_ACK, "ReadStreamRequest", 0 },
	{ IPC_WRITE_STDIN_REQ, "WriteStreamRequest", IPC_MON_DENY_WRITE_STREAM },
	{ IPC_CLOSE_STDIN_REQ, "CloseStdinRequest",
	  IPC_MON_DENY_CLOSE_STDIN | IPC_MON_DENY_WRITE_STREAM },
	{ IPC_TTY_WIN_RESIZE_REQ, "TtyWinResizeRequest", IPC_MON_DENY_TTY_WIN_RESIZE },
	{ IPC_WAIT_PROCESS_REQ, "WaitProcessRequest", IPC_MON_DENY_WAIT_PROCESS },
	{ IPC_MON_PASSFD_ATTACH, "CreateContainerRequest", 0 },
};

static const struct fm_request *fm_request(uint32_t type)
{
	for (size_t i = 0; i < sizeof(fm_requests) / sizeof(fm_requests[0]); i++)
		if (fm_requests[i].type == type)
			return &fm_requests[i];
	return NULL;
}

/* The verdict bits that deny a request, and the request type the denial
 * names. */
static uint32_t policy_bits(uint32_t type, const char **req)
{
	const struct fm_request *r = fm_request(type);
	*req = r ? r->request : ipc_type_name(type);
	return r ? r->deny : 0;
}

/* [endpoints] allowed, below the front-end: a compromised one gets the
 * refusal the honest one gives (common/endpoints.c, which resolved the
 * list for this monitor in the executor). */
static int endpoint_gate(struct ipc_chan *c, const struct ipc_msg *msg, void *data,
			 struct kerr *err)
{
	const struct monitor *m = data;
	const struct fm_request *r = fm_request(msg->hdr.type);
	if (!r)
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
				       "%s is blocked by policy: it serves no known endpoint",
				       ipc_type_name(msg->hdr.type));
	if (m->endpoint_blocked[msg->hdr.type])
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
				       "%s is blocked by policy: not in the [endpoints] allowed list",
				       r->request);
	return 0;
}

/* The refusal of a request the verdicts deny; 0 when they allow it. */
static int policy_refusal(const struct monitor *m, uint32_t type, struct kerr *err)
{
	const char *req = NULL;
	uint32_t bits = policy_bits(type, &req);
	if (bits && (m->policy_deny & bits) == bits)
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
				       "%s is blocked by policy: the policy in force denies it",
				       req);
	return 0;
}

/* The agent policy's verdicts (the [endpoints] gate ran before): a request
 * that comes before the first MON_POLICY waits for it (a compromised
 * front-end can be that early; the executor sends it before the front-end
 * learns of the monitor). */
static int frontend_defer(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const char *req = NULL;
	if (!policy_bits(msg->hdr.type, &req))
		return 0;
	if (m->policy_known)
		return policy_refusal(m, msg->hdr.type, err);
	if (m->n_held >= MON_MAX_HELD)
		return kerr_set_status(err, GRPC_UNAVAILABLE, -EAGAIN,
				       "%s: the policy's verdicts have not arrived yet", req);
	struct ipc_deferred *d = ipc_chan_defer(c, msg);
	if (!d)
		return kerr_set(err, -ENOMEM, "%s: out of memory", req);
	m->held[m->n_held++] = d;
	return IPC_DEFERRED;
}

/* The first verdicts: what waited for them goes on, or is refused. */
static void release_held(struct monitor *m)
{
	for (unsigned i = 0; i < m->n_held; i++) {
		struct kerr e = { 0 };
		if (policy_refusal(m, ipc_deferred_msg(m->held[i])->hdr.type, &e) < 0)
			ipc_deferred_refuse(m->held[i], &e);
		else
			ipc_deferred_resume(m->held[i]);
	}
	m->n_held = 0;
}

static int on_mon_passfd_attach(struct ipc_chan *c, struct ipc_msg *msg, void *data,
				struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_passfd_attach *a = msg->in;
	cleanup_close int fd = ipc_msg_take_fd(msg);
	struct mon_proc *p = find_or_reply(m, c, msg->hdr.id, NULL, a->exec_id, LOOKUP_LIVE);
	if (!p)
		return 0;
	struct kerr e = { 0 };
	if (mon_passfd_attach(p, a->stream, take_fd(&fd), &e) < 0) {
		log_warn("host stream for %s: %s", a->exec_id[0] ? a->exec_id : "init", e.msg);
		chan_kerr(c, msg->hdr.id, &e);
	} else if (m->frontend == c) {
		chan_ok(c, msg->hdr.id);
	}
	return 0;
}

static const struct ipc_dispatch frontend_table[] = {
	{ IPC_READ_STREAM_REQ, on_read_stream },
	{ IPC_READ_STREAM_ACK, on_read_stream_ack },
	{ IPC_WRITE_STDIN_REQ, on_write_stdin },
	{ IPC_CLOSE_STDIN_REQ, on_close_stdin },
	{ IPC_TTY_WIN_RESIZE_REQ, on_tty_win_resize },
	{ IPC_WAIT_PROCESS_REQ, on_wait_process },
	{ IPC_MON_PASSFD_ATTACH, on_mon_passfd_attach },
	{ 0, NULL },
};

/* Every request of the table has its entry in fm_requests (its name and
 * verdict bits), or the gate would refuse it as serving no endpoint. */
static int frontend_table_named(struct kerr *err)
{
	for (const struct ipc_dispatch *d = frontend_table; d->fn; d++)
		if (!fm_request(d->type))
			return kerr_set(err, -EINVAL, "%s is served but not in fm_requests",
					ipc_type_name(d->type));
	return 0;
}

static void frontend_closed(struct ipc_chan *c, const char *reason, void *data)
{
	struct monitor *m = data;
	if (m->frontend != c)
		return;
	m->frontend = NULL;
	log_info("front-end channel closed%s%s; unacknowledged output is kept for the next one",
		 reason ? ": " : "", reason ? reason : "");
	mon_frontend_changed(m);
	mon_check_done(m);
}

static int frontend_attach(struct monitor *m, int fd, struct kerr *err)
{
	char name[32];
	snprintf(name, sizeof(name), "frontend#%u", m->fe_generation++);
	struct ipc_chan *c;
	int r = ipc_chan_new(&c, m->loop, fd, name, IPC_ROLE_FRONTEND, frontend_table,
			     frontend_closed, m, err);
	if (r < 0)
		return r;
	/* a compromised front-end bypasses neither [endpoints] nor the
	 * policy's verdicts here */
	ipc_chan_set_gate(c, endpoint_gate, m);
	ipc_chan_set_defer(c, frontend_defer, m);
	m->frontend = c;
	return 0;
}

/* ---- executor channel ---- */

static int on_mon_new_frontend(struct ipc_chan *c, struct ipc_msg *msg, void *data,
			       struct kerr *err)
{
	struct monitor *m = data;
	cleanup_close int fd = ipc_msg_take_fd(msg);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return kerr_set(err, -EPROTO, "MON_NEW_FRONTEND: the fd is not a socket");
	if (m->frontend) {
		struct ipc_chan *old = m->frontend;
		m->frontend = NULL;
		ipc_chan_free(old);
	}
	/* Requests of the old front-end are dropped; what it did not
	 * acknowledge is sent again to the new one. */
	mon_frontend_changed(m);
	struct kerr e = { 0 };
	if (frontend_attach(m, take_fd(&fd), &e) < 0)
		log_error("new front-end channel: %s", e.msg);
	else
		log_info("front-end channel replaced");
	return 0;
}

static int on_mon_signal(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_process_signal *s = msg->in;
	struct mon_proc *p = find_or_reply(m, c, msg->hdr.id, s->container_id, s->exec_id,
					   LOOKUP_LIVE);
	if (!p)
		return 0;
	/* An exited process: nothing left to signal; the executor keeps the
	 * state machine and decides what that means. */
	if (!p->exited && p->pidfd >= 0 &&
	    syscall(SYS_pidfd_send_signal, p->pidfd, (int)s->signal, NULL, 0) < 0 &&
	    errno != ESRCH) {
		char e[IPC_ERROR_MSG_MAX];
		int en = errno;
		snprintf(e, sizeof(e), "signal %u to process %s: %s", s->signal,
			 p->exec_id[0] ? p->exec_id : "init", strerror(en));
		chan_error(c, msg->hdr.id, en == EPERM ? GRPC_PERMISSION_DENIED : GRPC_INTERNAL,
			   -en, e);
		return 0;
	}
	chan_ok(c, msg->hdr.id);
	return 0;
}

static int on_mon_shutdown(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	log_info("shutdown requested; %u process(es) still to reap", m->live);
	m->shutting_down = true;
	mon_check_done(m);
	return 0;
}

static int on_mon_policy(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_mon_policy *p = msg->in;
	if (p->deny != m->policy_deny)
		log_info("policy verdicts: deny 0x%x", p->deny);
	m->policy_deny = p->deny;
	m->policy_known = true;
	release_held(m);
	mon_policy_changed(m);
	return 0;
}

static const struct ipc_dispatch executor_table[] = {
	{ IPC_MON_NEW_FRONTEND, on_mon_new_frontend },
	{ IPC_MON_POLICY, on_mon_policy },
	{ IPC_MON_SIGNAL, on_mon_signal },
	{ IPC_MON_SHUTDOWN, on_mon_shutdown },
	{ 0, NULL },
};

static void executor_closed(struct ipc_chan *c, const char *reason, void *data)
{
	struct monitor *m = data;
	m->exec = NULL;
	log_warn("executor channel closed%s%s; still serving the container", reason ? ": " : "",
		 reason ? reason : "");
	mon_check_done(m);
}

/* ---- launcher channel ---- */

static int on_mon_process_add(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct monitor *m = data;
	const struct ipc_process_add *a = msg->in;
	struct kerr e = { 0 };
	if (mon_proc_add(m, a, msg, &e) < 0) {
		log_error("add process %s: %s", a->exec_id[0] ? a->exec_id : "init", e.msg);
		chan_kerr(c, msg->hdr.id, &e);
	} else if (m->launcher == c) {
		chan_ok(c, msg->hdr.id);
	}
	return 0;
}

static const struct ipc_dispatch launcher_table[] = {
	{ IPC_MON_PROCESS_ADD, on_mon_process_add },
	{ 0, NULL },
};

static void launcher_closed(struct ipc_chan *c, const char *reason, void *data)
{
	struct monitor *m = data;
	m->launcher = NULL;
	log_info("launcher channel closed%s%s", reason ? ": " : "", reason ? reason : "");
}

/* ---- SIGCHLD ---- */

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si[8];
	while (read(fd, si, sizeof(si)) > 0)
		;
	mon_reap(data);
}

/* ---- start ---- */

/* Room for the fds of MON_MAX_PROCS processes (a running one holds up to
 * MON_FDS_PER_PROC: pidfd, stdin, stdout, stderr, three host streams) and
 * our own, raised while we are still
 * root (a guest's init hands out 1024). Where the hard limit cannot be
 * raised (no CAP_SYS_RESOURCE), the table bound shrinks to what fits: a
 * host that starts many execs gets RESOURCE_EXHAUSTED from mon_proc_add,
 * never an EMFILE that truncates a MON_PROCESS_ADD and costs the launcher
 * channel. */
#define MON_OWN_FDS 64
static unsigned raise_nofile(void)
{
	const rlim_t need = MON_FDS_PER_PROC * MON_MAX_PROCS + MON_OWN_FDS + 4;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return MON_MAX_PROCS;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return MON_MAX_PROCS;
	struct rlimit want = { .rlim_cur = need,
			       .rlim_max = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
						   ? rl.rlim_max
						   : need };
	if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return MON_MAX_PROCS; /* cannot happen: soft up to hard is allowed */
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
			return MON_MAX_PROCS;
		unsigned n = rl.rlim_cur > MON_OWN_FDS + 8
				     ? (unsigned)((rl.rlim_cur - MON_OWN_FDS - 4) / MON_FDS_PER_PROC)
				     : 1;
		log_warn("RLIMIT_NOFILE stays at %llu (raising it: %s): at most %u processes",
			 (unsigned long long)rl.rlim_cur, strerror(errno), n);
		return n;
	}
	return MON_MAX_PROCS;
}

static int check_fds(struct kerr *err)
{
	static const struct {
		int fd;
		const char *what;
	} need[] = {
		{ FD_EXECUTOR, "executor" },
		{ FD_LAUNCHER, "launcher" },
		{ FD_FRONTEND, "front-end" },
	};
	for (size_t i = 0; i < 3; i++) {
		struct stat st;
		int v = 0;
		socklen_t len = sizeof(v);
		if (fstat(need[i].fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(need[i].fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
		    v != SOCK_SEQPACKET)
			return kerr_set(err, -EBADF,
					"no SOCK_SEQPACKET %s channel on fd %d: kata-agent-monitor is "
					"started by kata-agent-executor, one per container",
					need[i].what, need[i].fd);
		if (fcntl(need[i].fd, F_SETFD, FD_CLOEXEC) < 0)
			return kerr_set(err, -errno, "FD_CLOEXEC on fd %d: %s", need[i].fd,
					strerror(errno));
	}
	return 0;
}

static const struct option longopts[] = {
	{ "container-id", required_argument, NULL, 'c' },
	{ "uid", required_argument, NULL, 'u' },
	{ "gid", required_argument, NULL, 'g' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "launcher-pid", required_argument, NULL, 'L' },
	{ "stdio-buffer", required_argument, NULL, 'b' },
	{ "endpoints-blocked", required_argument, NULL, 'e' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The command line's settings that are not in struct monitor. */
struct start {
	unsigned long uid, gid, bufsz, launcher;
	enum log_level level;
	const char *cid;
};

/* --endpoints-blocked: types the front-end sends here, each a number. */
static int parse_blocked(struct monitor *m, const char *list)
{
	char copy[1024];
	if (snprintf(copy, sizeof(copy), "%s", list) >= (int)sizeof(copy))
		return -1;
	char *p = copy;
	for (char *tok = strsep(&p, ","); tok; tok = strsep(&p, ",")) {
		unsigned long t;
		if (!*tok && !p && tok == copy)
			break; /* "": none */
		if (number_parse_ulong(tok, IPC_TYPE_LIMIT - 1, &t) < 0 || !fm_request((uint32_t)t))
			return -1;
		m->endpoint_blocked[t] = true;
	}
	return 0;
}

/* -1 to go on, else main's exit code. */
static int parse_options(int argc, char **argv, struct monitor *m, struct start *s)
{
	int o, bad = 0;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'c':
			s->cid = optarg;
			bad = ipc_id_valid(s->cid, false) ? 0 : -1;
			break;
		case 'u':
			bad = number_parse_ulong(optarg, 0xfffffffe, &s->uid);
			break;
		case 'g':
			bad = number_parse_ulong(optarg, 0xfffffffe, &s->gid);
			break;
		case 'l':
			bad = log_level_parse(optarg, &s->level);
			break;
		case 'L':
			bad = number_parse_ulong(optarg, INT_MAX, &s->launcher);
			if (!bad && s->launcher < 2)
				bad = -1;
			break;
		case 'b':
			bad = number_parse_ulong(optarg, 64ul << 20, &s->bufsz);
			if (!bad && s->bufsz < 4096)
				bad = -1;
			break;
		case 'e':
			bad = parse_blocked(m, optarg);
			break;
		default:
			return cli_other_option(o, "kata-agent-monitor", usage);
		}
		if (bad) {
			return cli_bad_value("kata-agent-monitor", optarg);
		}
	}
	if (optind != argc || !s->cid) {
		if (!s->cid)
			fprintf(stderr, "kata-agent-monitor: --container-id is required\n");
		usage(stderr);
		return 2;
	}
	if (s->uid == 0 || s->gid == 0) {
		fprintf(stderr, "kata-agent-monitor: refusing to run as uid/gid 0\n");
		return 2;
	}
	return -1;
}

/* While still root: the channels checked, nothing else inherited kept,
 * the reaper role, the signalfd, the fd bound; then confined. Nothing has
 * been read from any channel yet. */
static int setup_process(struct monitor *m, const struct start *s, struct kerr *err)
{
	int r = check_fds(err);
	if (r < 0)
		return r;
	syscall(SYS_close_range, FD_FRONTEND + 1, ~0u, 0); /* musl has no wrapper */
	signal(SIGPIPE, SIG_IGN);
	/* The launcher must be our child (X forked it, then exec'd us): we
	 * wait for its exit, which only a child's can be; not reaped here. */
	if (s->launcher) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)s->launcher, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			return kerr_set(err, -errno, "--launcher-pid %lu: not our child: %s",
					s->launcher, strerror(errno));
		m->launcher_pid = (pid_t)s->launcher;
	}
	/* We must collect the exits of orphans too; the executor's fork set
	 * this already, setting it again costs nothing. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return kerr_set(err, -errno, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	static const int signals[] = { SIGCHLD };
	if ((m->sigfd = loop_signalfd(signals, 1, err)) < 0)
		return m->sigfd;
	m->max_procs = raise_nofile();
	/* its filter built with the agent: no libseccomp here */
	r = confine_self_bpf(&confine_monitor, &confine_monitor_bpf, (uid_t)s->uid, (gid_t)s->gid,
			     0, err);
	if (r < 0)
		return r;
	log_info("monitor of container %s confined: uid %lu gid %lu, CAP_KILL only, empty root, "
		 "seccomp allow-list",
		 m->container_id, s->uid, s->gid);
	return 0;
}

static int open_channels(struct monitor *m, struct kerr *err)
{
	if (frontend_table_named(err) < 0 || loop_new(&m->loop, err) < 0 ||
	    loop_add(m->loop, m->sigfd, EPOLLIN, on_signal, m, err) < 0 ||
	    ipc_chan_new(&m->exec, m->loop, FD_EXECUTOR, "executor", IPC_ROLE_EXECUTOR,
			 executor_table, executor_closed, m, err) < 0 ||
	    ipc_chan_new(&m->launcher, m->loop, FD_LAUNCHER, "launcher", IPC_ROLE_LAUNCHER,
			 launcher_table, launcher_closed, m, err) < 0 ||
	    frontend_attach(m, FD_FRONTEND, err) < 0)
		return err->code ? err->code : -EIO;
	return 0;
}

static void monitor_free(struct monitor *m)
{
	mon_free_all(m);
	if (m->frontend)
		ipc_chan_free(m->frontend);
	if (m->launcher)
		ipc_chan_free(m->launcher);
	if (m->exec)
		ipc_chan_free(m->exec);
	loop_del(m->loop, m->sigfd);
	close(m->sigfd);
	loop_free(m->loop);
}

int main(int argc, char **argv)
{
	static struct monitor mon;
	struct monitor *m = &mon;
	struct start s = { .uid = 65534,
			   .gid = 65534,
			   .bufsz = MON_STREAM_BUF_DEFAULT,
			   .level = LOG_LVL_INFO };
	if (relro_seal() < 0) {
		perror("kata-agent-monitor: make the relocated data read-only");
		return 1;
	}
	int r = parse_options(argc, argv, m, &s);
	if (r >= 0)
		return r;
	log_init("monitor", STDERR_FILENO, s.level);
	snprintf(m->container_id, sizeof(m->container_id), "%s", s.cid);
	m->stream_buf = s.bufsz;
	m->sigfd = -1;

	struct kerr err = { 0 };
	if (setup_process(m, &s, &err) < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	if (open_channels(m, &err) < 0) {
		log_error("monitor start: %s", err.msg);
		return 1;
	}
	mon_reap(m); /* exits before the signalfd existed */
	r = loop_run(m->loop, &err);
	if (r < 0)
		log_error("event loop: %s", err.msg);
	monitor_free(m);
	return r < 0 ? 1 : 0;
}
