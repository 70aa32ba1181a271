/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proc.c - the monitor's process table (see monitor.h).
 *
 * Output: each stream has a ring buffer of at most stream_buf bytes holding
 * the bytes from the last acknowledged offset to the last byte read. The
 * ring only shrinks on the front-end's ACK, so bytes sent to a front-end
 * that then dies are sent again to the next one. While the ring is full the
 * fd is not watched: the pipe fills and the container blocks in write().
 * That is the backpressure: memory stays bounded whatever the container does.
 *
 * Exits: SIGCHLD (signalfd) -> waitid(P_ALL, WNOHANG) until nothing is left,
 * so orphans reparented to us (we are a child subreaper) are reaped too. A
 * process can exit, and be reaped, before the launcher's MON_PROCESS_ADD
 * for it arrives; its status is then found in the recent-exits table.
 *
 * End of output: a stream ends when its fd does, or once the bytes its
 * process left in the pipe when it was reaped (FIONREAD) are read: a
 * background child that inherited the pipe cannot keep `kubectl exec` or an
 * exec probe waiting (the Go shim calls WaitProcess only after both streams
 * hit EOF). Nothing the process wrote is lost: it is all in the pipe by the
 * time it is reaped.
 *
 * Release: an exec is dropped (fds, buffers, table entry; MON_RELEASED to
 * the executor) once it was waited for and its output was delivered (a
 * stream someone reads: up to its EOF answer), or
 * MON_DRAIN_IDLE_MS after its wait when nobody reads the rest. From its
 * wait on, only reads and ACKs still find it: a second WaitProcess is
 * NOT_FOUND, as upstream removes the process in its first. The init stays
 * until the container goes (a second WaitProcess answers again: the Go
 * runtime's stop waits once more after the shim did).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"
#include "monitor.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Bytes read from one fd per wake-up, so one busy stream cannot starve the
 * others. */
#define FILL_BATCH (256u * 1024u)

static void proc_release_soon(struct mon_proc *p);

const char *mon_stream_name(unsigned i)
{
	return i == 0 ? "stdout" : "stderr";
}

const char *mon_proc_name(const struct mon_proc *p)
{
	return p->exec_id[0] ? p->exec_id : "init";
}

struct mon_proc *mon_proc_find(struct monitor *m, const char *exec_id)
{
	const char *name = ipc_exec_name(m->container_id, exec_id);
	for (struct mon_proc *p = m->procs; p; p = p->next)
		if (strcmp(p->exec_id, name) == 0)
			return p;
	return NULL;
}

struct mon_proc *mon_proc_get(struct monitor *m, const char *exec_id)
{
	struct mon_proc *p = mon_proc_find(m, exec_id);
	return p && p->exec_id[0] && p->waited ? NULL : p;
}

static int status_of(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return si->si_status & 0xff;
	return 128 + (si->si_status & 0x7f); /* killed or dumped */
}

/* ---- output ---- */

static void stream_on_events(struct loop *l, int fd, uint32_t events, void *data);

static struct mon_stream *stream_of(struct mon_proc *p, int fd, unsigned *idx)
{
	for (unsigned i = 0; i < 2; i++)
		if (p->out[i].fd == fd) {
			*idx = i;
			return &p->out[i];
		}
	return NULL;
}

void mon_stream_watch(struct mon_proc *p, struct mon_stream *s, bool on)
{
	if (s->fd < 0 || s->watched == on)
		return;
	if (on) {
		struct kerr e = { 0 };
		if (loop_add(p->mon->loop, s->fd, EPOLLIN, stream_on_events, p, &e) < 0) {
			log_error("%s: watch output: %s", mon_proc_name(p), e.msg);
			return;
		}
	} else {
		loop_del(p->mon->loop, s->fd);
	}
	s->watched = on;
}

size_t mon_stream_used(const struct mon_stream *s)
{
	return (size_t)(s->end - s->acked);
}

void mon_stream_close_fd(struct mon_proc *p, struct mon_stream *s)
{
	if (s->fd < 0)
		return;
	mon_stream_watch(p, s, false);
	close(s->fd);
	s->fd = -1;
}

static void stream_release_if_done(struct mon_stream *s)
{
	if (s->eof && mon_stream_used(s) == 0) {
		free(s->buf);
		s->buf = NULL;
	}
}

/* Read what the fd has, up to the free room of the ring. */
void mon_stream_fill(struct mon_proc *p, unsigned i)
{
	struct mon_stream *s = &p->out[i];
	size_t total = 0;
	while (s->fd >= 0 && total < FILL_BATCH) {
		if (!s->buf) {
			s->buf = malloc(s->cap);
			if (!s->buf) {
				log_error("%s %s: out of memory; output paused", mon_proc_name(p),
					  mon_stream_name(i));
				mon_stream_watch(p, s, false);
				return;
			}
			s->start = 0;
		}
		size_t used = mon_stream_used(s), room = s->cap - used;
		if (room == 0) {
			mon_stream_watch(p, s, false); /* backpressure until an ACK */
			return;
		}
		size_t tail = (s->start + used) % s->cap;
		size_t n = tail + room <= s->cap ? room : s->cap - tail;
		if (s->draining && n > s->drain_left)
			n = (size_t)s->drain_left;
		ssize_t r = n ? read(s->fd, s->buf + tail, n) : 0;
		if (r > 0) {
			s->end += (uint64_t)r;
			total += (size_t)r;
			if (s->draining)
				s->drain_left -= (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !s->draining)
			break;
		if (s->draining) {
			/* What the process left is read; whoever else holds the
			 * pipe (a background child) does not hold the host. */
			s->eof = true;
			mon_stream_close_fd(p, s);
			break;
		}
		/* EOF; on a pty master EIO means the slave side is gone. */
		if (r < 0 && !(p->terminal && errno == EIO))
			log_warn("%s %s: read: %s; treating as end of output", mon_proc_name(p),
				 mon_stream_name(i), strerror(errno));
		s->eof = true;
		mon_stream_close_fd(p, s);
	}
	if (s->fd >= 0 && mon_stream_used(s) < s->cap)
		mon_stream_watch(p, s, true);
}

/* The policy denies ReadStream: upstream still reads, and clears the data
 * (rpc.rs read_stdout). Here what the process wrote is dropped as it comes,
 * so the process never waits on a full buffer, and a read gets only the
 * end of the stream. */
static void stream_redact(struct mon_proc *p, struct mon_stream *s)
{
	if (s->end == s->acked)
		return;
	s->acked = s->sent = s->end;
	s->start = 0;
	stream_release_if_done(s);
	if (s->fd >= 0 && !s->watched)
		mon_stream_watch(p, s, true);
}

/* The oldest queued read becomes the pending one (the one before was
 * answered, or its answer came from elsewhere: passfd.c's EOF at attach). */
static void stream_promote(struct mon_stream *s)
{
	if (s->read_pending || !s->nqueued)
		return;
	s->read_pending = true;
	s->read_id = s->queued[0].id;
	s->read_max = s->queued[0].max;
	s->nqueued--;
	memmove(&s->queued[0], &s->queued[1], s->nqueued * sizeof(s->queued[0]));
}

/* Answer the pending read of stream i if there is something to say; then
 * the queued ones, in order, while there is. */
static void stream_answer_one(struct mon_proc *p, unsigned i);

static void stream_answer(struct mon_proc *p, unsigned i)
{
	struct mon_stream *s = &p->out[i];
	stream_promote(s);
	stream_answer_one(p, i);
	while (!s->read_pending && s->nqueued) {
		stream_promote(s);
		stream_answer_one(p, i);
	}
}

static void stream_answer_one(struct mon_proc *p, unsigned i)
{
	struct mon_stream *s = &p->out[i];
	struct monitor *m = p->mon;
	if (m->policy_deny & IPC_MON_DENY_READ_STREAM)
		stream_redact(p, s);
	if (!s->read_pending || !m->frontend || !m->policy_known)
		return;
	if (s->passfd) {
		/* A read queued before the host's stream came (passfd.c ends
		 * the pending one): the same EOF. */
		struct ipc_stdio_data eof = { .offset = s->acked };
		s->read_pending = false;
		mon_to_frontend(m, IPC_READ_STREAM_REPLY, s->read_id, &eof, sizeof(eof));
		return;
	}
	struct ipc_stdio_data h = { .offset = s->sent };
	/* The bytes go to the socket straight from the ring: two pieces
	 * when they wrap. */
	struct iovec iov[3] = { { .iov_base = &h, .iov_len = sizeof(h) } };
	unsigned niov = 1;
	size_t n = 0;
	if (s->sent < s->end) {
		n = (size_t)(s->end - s->sent);
		if (n > s->read_max)
			n = s->read_max;
		size_t pos = (s->start + (size_t)(s->sent - s->acked)) % s->cap;
		size_t first = pos + n <= s->cap ? n : s->cap - pos;
		iov[niov++] = (struct iovec){ .iov_base = s->buf + pos, .iov_len = first };
		if (n > first)
			iov[niov++] = (struct iovec){ .iov_base = s->buf, .iov_len = n - first };
	} else if (!s->eof) {
		return; /* nothing yet: the request waits */
	}
	s->read_pending = false;
	s->sent += n;
	if (n == 0)
		s->eof_answered = true;
	mon_to_frontend_v(m, IPC_READ_STREAM_REPLY, s->read_id, iov, niov);
}

static void stream_on_events(struct loop *l, int fd, uint32_t events, void *data)
{
	struct mon_proc *p = data;
	unsigned i;
	if (!stream_of(p, fd, &i))
		return;
	if (p->out[i].sock >= 0) {
		mon_passfd_pump(p, i);
		return;
	}
	mon_stream_fill(p, i);
	stream_answer(p, i);
}

int mon_stream_read(struct mon_proc *p, unsigned stream, uint32_t id, uint32_t max_len,
		    struct kerr *err)
{
	unsigned i = stream - 1;
	struct mon_stream *s = &p->out[i];
	if (s->passfd) {
		/* Its bytes go to the host's stream (upstream gives a read of
		 * such a process nothing to read either). */
		struct ipc_stdio_data eof = { .offset = s->acked };
		mon_to_frontend(p->mon, IPC_READ_STREAM_REPLY, id, &eof, sizeof(eof));
		return 0;
	}
	stream_promote(s); /* a read is pending whenever one is queued */
	if (s->read_pending && s->nqueued == IPC_STDIO_READS_MAX - 1)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
				       "%s of process %s: %u reads are already pending",
				       mon_stream_name(i), mon_proc_name(p), IPC_STDIO_READS_MAX);
	s->read_seen = true;
	if (s->read_pending) {
		s->queued[s->nqueued++] = (struct mon_read){ .id = id, .max = max_len };
	} else {
		s->read_pending = true;
		s->read_id = id;
		s->read_max = max_len;
	}
	stream_answer(p, i);
	proc_release_soon(p); /* someone still reads: not abandoned */
	return 0;
}

void mon_stream_ack(struct mon_proc *p, unsigned stream, uint64_t offset)
{
	struct mon_stream *s = &p->out[stream - 1];
	if (offset <= s->acked || offset > s->sent) {
		log_debug("%s %s: ACK %llu outside (%llu, %llu]; ignored", mon_proc_name(p),
			  mon_stream_name(stream - 1), (unsigned long long)offset,
			  (unsigned long long)s->acked, (unsigned long long)s->sent);
		return;
	}
	size_t n = (size_t)(offset - s->acked);
	s->start = (s->start + n) % s->cap;
	s->acked = offset;
	if (mon_stream_used(s) == 0)
		s->start = 0;
	stream_release_if_done(s);
	/* Room again: resume reading (and catch what piled up in the pipe). */
	if (s->fd >= 0 && !s->watched) {
		mon_stream_fill(p, stream - 1);
		stream_answer(p, stream - 1);
	}
	proc_release_soon(p);
}

/* ---- stdin ---- */

static void stdin_on_events(struct loop *l, int fd, uint32_t events, void *data);

static void stdin_watch(struct mon_proc *p, bool on)
{
	if (p->in_fd < 0 || p->in_watched == on)
		return;
	if (on) {
		struct kerr e = { 0 };
		if (loop_add(p->mon->loop, p->in_fd, EPOLLOUT, stdin_on_events, p, &e) < 0) {
			log_error("%s: watch stdin: %s", mon_proc_name(p), e.msg);
			return;
		}
	} else {
		loop_del(p->mon->loop, p->in_fd);
	}
	p->in_watched = on;
}

/* Fail every queued write (their requesters get an ERROR). */
static void stdin_fail_all(struct mon_proc *p, int grpc, int errno_code, const char *why)
{
	struct mon_write *w = p->wq;
	while (w) {
		struct mon_write *next = w->next;
		if (w->id)
			mon_error_to_frontend(p->mon, w->id, grpc, errno_code,
					      "write to stdin of process %s: %s", mon_proc_name(p),
					      why);
		free(w);
		w = next;
	}
	p->wq = NULL;
	p->wq_tail = &p->wq;
	p->nwrites = 0;
}

void mon_stdin_close_fd(struct mon_proc *p)
{
	if (p->in_fd < 0)
		return;
	stdin_watch(p, false);
	close(p->in_fd);
	p->in_fd = -1;
}

static void stdin_flush(struct mon_proc *p)
{
	while (p->wq && p->in_fd >= 0) {
		struct mon_write *w = p->wq;
		ssize_t r = write(p->in_fd, w->data + w->off, w->len - w->off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			stdin_watch(p, true);
			return;
		}
		if (r < 0) {
			int e = errno;
			log_info("%s: stdin: %s; closing it", mon_proc_name(p), strerror(e));
			stdin_fail_all(p, GRPC_UNAVAILABLE, -e, strerror(e));
			mon_stdin_close_fd(p);
			mon_passfd_close_stdin(p);
			return;
		}
		w->off += (size_t)r;
		if (w->off < w->len)
			continue;
		p->wq = w->next;
		if (!p->wq)
			p->wq_tail = &p->wq;
		p->nwrites--;
		if (w->id) {
			struct ipc_stdio_written done = { .len = w->len };
			mon_to_frontend(p->mon, IPC_WRITE_STDIN_REPLY, w->id, &done, sizeof(done));
		}
		free(w);
	}
	stdin_watch(p, false);
	mon_passfd_stdin_resume(p);
}

static void stdin_on_events(struct loop *l, int fd, uint32_t events, void *data)
{
	stdin_flush(data);
}

int mon_stdin_write(struct mon_proc *p, uint32_t id, const uint8_t *data, size_t len,
		    struct kerr *err)
{
	if (p->in_fd < 0)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EPIPE,
				       "stdin of process %s is closed", mon_proc_name(p));
	if (p->nwrites >= MON_MAX_PENDING_WRITES)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOBUFS,
				       "stdin of process %s: %u writes already pending",
				       mon_proc_name(p), MON_MAX_PENDING_WRITES);
	struct mon_write *w = malloc(sizeof(*w) + len);
	if (!w)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
				       "stdin of process %s: out of memory", mon_proc_name(p));
	w->next = NULL;
	w->id = id;
	w->len = len;
	w->off = 0;
	memcpy(w->data, data, len);
	*p->wq_tail = w;
	p->wq_tail = &w->next;
	p->nwrites++;
	stdin_flush(p);
	return 0;
}

/* Upstream (rustjail Process::close_stdin) closes the stdin pipe, and for a
 * terminal the pty master itself: the terminal hangs up. Output already
 * buffered here is kept; what the pty still holds is read first. */
void mon_stdin_close(struct mon_proc *p)
{
	stdin_fail_all(p, GRPC_FAILED_PRECONDITION, -EPIPE, "stdin was closed");
	mon_stdin_close_fd(p);
	mon_passfd_close_stdin(p);
	if (p->terminal && p->out[0].fd >= 0) {
		mon_stream_fill(p, 0);
		if (p->out[0].fd >= 0) {
			p->out[0].eof = true;
			mon_stream_close_fd(p, &p->out[0]);
		}
		stream_answer(p, 0);
	}
}

/* ---- exits ---- */

static void reply_waiters(struct mon_proc *p)
{
	/* Upstream answers only once the output is copied into the host's
	 * streams (the runtime closes them on the answer). */
	if (mon_passfd_busy(p))
		return;
	struct ipc_wait_reply r = { .status = p->status };
	for (unsigned i = 0; i < p->nwaiters; i++) {
		mon_to_frontend(p->mon, IPC_WAIT_PROCESS_REPLY, p->waiters[i], &r, sizeof(r));
		p->waited = true;
	}
	p->nwaiters = 0;
	proc_release_soon(p);
}

/* The process exited: read what it left in the fd, then end the stream. */
static void stream_drain_arm(struct mon_proc *p, unsigned i)
{
	struct mon_stream *s = &p->out[i];
	int n = 0;
	if (s->fd < 0 || s->draining)
		return;
	if (ioctl(s->fd, FIONREAD, &n) < 0 || n < 0) {
		log_warn("%s %s: FIONREAD: %s; output ends when the pipe is empty",
			 mon_proc_name(p), mon_stream_name(i), strerror(errno));
		n = 0;
		s->drain_left = UINT64_MAX;
	} else {
		s->drain_left = (uint64_t)n + (p->terminal ? MON_TTY_DRAIN_SLACK : 0);
	}
	s->draining = true;
}

static void proc_exited(struct mon_proc *p, int status)
{
	struct monitor *m = p->mon;
	p->exited = true;
	p->status = status;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	m->live--;
	log_info("process %s (pid %d) exited, status %d", mon_proc_name(p), (int)p->pid, status);
	/* What the process wrote last may still sit in the pipe. */
	for (unsigned i = 0; i < 2; i++) {
		stream_drain_arm(p, i);
		if (p->out[i].sock >= 0) {
			mon_passfd_pump(p, i);
			continue;
		}
		mon_stream_fill(p, i);
		stream_answer(p, i);
	}
	reply_waiters(p);
	mon_exited(m, p);
}

void mon_reap(struct monitor *m)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_error("waitid: %s", strerror(errno));
			break;
		}
		if (si.si_pid == 0)
			break;
		int status = status_of(&si);
		if (si.si_pid == m->launcher_pid) {
			/* its workers ended before it did: reaped here too */
			log_debug("launcher (pid %d) reaped, status %d", (int)si.si_pid, status);
			m->launcher_pid = 0;
			continue;
		}
		struct mon_proc *p = m->procs;
		while (p && (p->exited || p->pid != si.si_pid))
			p = p->next;
		if (p) {
			proc_exited(p, status);
			continue;
		}
		/* Not announced (yet): an orphan reparented to us, or a process
		 * whose MON_PROCESS_ADD is still on its way. */
		log_debug("reaped pid %d (not a known process), status %d", (int)si.si_pid, status);
		m->recent[m->recent_next].pid = si.si_pid;
		m->recent[m->recent_next].status = status;
		m->recent_next = (m->recent_next + 1) % MON_RECENT_EXITS;
	}
	mon_check_done(m);
}

static bool recent_exit(struct monitor *m, pid_t pid, int *status)
{
	/* Newest first: a pid reused after an earlier reap. */
	for (unsigned k = 1; k <= MON_RECENT_EXITS; k++) {
		unsigned i = (m->recent_next + MON_RECENT_EXITS - k) % MON_RECENT_EXITS;
		if (m->recent[i].pid == pid) {
			*status = m->recent[i].status;
			m->recent[i].pid = 0;
			return true;
		}
	}
	return false;
}

void mon_proc_output_done(struct mon_proc *p)
{
	if (p->exited && p->nwaiters)
		reply_waiters(p);
}

int mon_wait(struct mon_proc *p, uint32_t id, struct kerr *err)
{
	if (p->exited && !mon_passfd_busy(p)) {
		struct ipc_wait_reply r = { .status = p->status };
		p->waited = true;
		mon_to_frontend(p->mon, IPC_WAIT_PROCESS_REPLY, id, &r, sizeof(r));
		proc_release_soon(p);
		return 0;
	}
	if (p->nwaiters >= MON_MAX_WAITERS)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOBUFS,
				       "process %s: %u waits already pending", mon_proc_name(p),
				       MON_MAX_WAITERS);
	p->waiters[p->nwaiters++] = id;
	return 0;
}

/* ---- the table ---- */

static void proc_free(struct mon_proc *p)
{
	mon_passfd_close(p);
	for (unsigned i = 0; i < 2; i++) {
		mon_stream_close_fd(p, &p->out[i]);
		free(p->out[i].buf);
	}
	mon_stdin_close_fd(p);
	struct mon_write *w = p->wq;
	while (w) {
		struct mon_write *next = w->next;
		free(w);
		w = next;
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->rel_timer)
		loop_timer_cancel(p->mon->loop, p->rel_timer);
	free(p);
}

static void proc_unlink(struct monitor *m, struct mon_proc *p)
{
	for (struct mon_proc **pp = &m->procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			m->nprocs--;
			return;
		}
}

/* Out of the table for good: what its requesters still wait for is
 * answered (a read: EOF; a stdin write: NOT_FOUND), then it is freed. */
static void proc_drop(struct mon_proc *p)
{
	struct monitor *m = p->mon;
	stdin_fail_all(p, GRPC_NOT_FOUND, -ENOENT, "the process was released");
	for (unsigned i = 0; i < 2; i++) {
		struct mon_stream *s = &p->out[i];
		mon_stream_close_fd(p, s);
		s->eof = true;
		s->sent = s->end; /* nothing more to say: the answer is EOF */
		stream_answer(p, i);
	}
	proc_unlink(m, p);
	proc_free(p);
}

/* Every stream ended and reached the host, and a stream that is read got
 * its EOF answer: releasing on the last ACK instead would make the read
 * that follows it NOT_FOUND or EOF depending on whether the release timer
 * ran first. A stream nobody reads (a terminal's stderr) needs no answer. */
static bool proc_drained(const struct mon_proc *p)
{
	for (unsigned i = 0; i < 2; i++) {
		const struct mon_stream *s = &p->out[i];
		if (!s->eof || s->acked != s->end || (s->read_seen && !s->eof_answered))
			return false;
	}
	return true;
}

static void release_check(struct loop *l, void *data)
{
	struct mon_proc *p = data;
	struct monitor *m = p->mon;
	uint64_t now = loop_now_ns();
	p->rel_timer = NULL;
	bool drained = proc_drained(p);
	if (!drained && (p->rel_deadline == 0 || now < p->rel_deadline)) {
		if (p->rel_deadline == 0)
			p->rel_deadline = now + MON_DRAIN_IDLE_MS * 1000000ull;
		p->rel_timer = loop_timer_add(l, p->rel_deadline, release_check, p);
		if (p->rel_timer)
			return;
	}
	char id[IPC_ID_MAX];
	memcpy(id, p->exec_id, sizeof(id));
	if (drained)
		log_info("process %s released", id);
	else
		log_info("process %s released: %llu bytes of its output were not read within %d ms "
			 "of its wait",
			 id,
			 (unsigned long long)(p->out[0].end - p->out[0].acked + p->out[1].end -
					      p->out[1].acked),
			 MON_DRAIN_IDLE_MS);
	proc_drop(p);
	mon_released(m, id);
}

/* A waited exec: release it now if its output is delivered, else once it
 * is or once nobody reads for MON_DRAIN_IDLE_MS (restarted by each read or
 * ACK). Deferred: callers go on using p. */
static void proc_release_soon(struct mon_proc *p)
{
	if (!p->exec_id[0] || !p->waited || !p->exited)
		return;
	if (p->rel_timer)
		loop_timer_cancel(p->mon->loop, p->rel_timer);
	p->rel_deadline = 0;
	p->rel_timer = loop_timer_add(p->mon->loop, 0, release_check, p);
	if (!p->rel_timer)
		log_error("process %s: out of memory scheduling its release", mon_proc_name(p));
}

static int set_nonblock(int fd, struct kerr *err)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return kerr_set(err, -errno, "O_NONBLOCK on fd %d: %s", fd, strerror(errno));
	return 0;
}

/* Room for a process with this exec id: *old is an exited and waited one
 * it replaces (or NULL). */
static int proc_room(struct monitor *m, const struct ipc_process_add *a, struct mon_proc **old,
		     struct kerr *err)
{
	if (a->exec_id[0] && strcmp(a->exec_id, m->container_id) == 0)
		return kerr_set_status(err, GRPC_ALREADY_EXISTS, -EEXIST,
				       "exec id %s names the container's init", a->exec_id);
	*old = mon_proc_find(m, a->exec_id);
	if (*old && !((*old)->exited && (*old)->waited))
		return kerr_set_status(err, GRPC_ALREADY_EXISTS, -EEXIST,
				       "process %s already exists",
				       a->exec_id[0] ? a->exec_id : "init");
	unsigned max = m->max_procs ? m->max_procs : MON_MAX_PROCS;
	if (!*old && m->nprocs >= max)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOBUFS,
				       "%u processes in this container", max);
	return 0;
}

static struct mon_proc *proc_new(struct monitor *m, const struct ipc_process_add *a)
{
	struct mon_proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->mon = m;
	memcpy(p->exec_id, a->exec_id, sizeof(p->exec_id));
	p->pid = a->pid;
	p->terminal = a->terminal;
	p->wq_tail = &p->wq;
	p->in_fd = -1;
	p->in_sock = -1;
	for (unsigned i = 0; i < 2; i++) {
		p->out[i].fd = -1;
		p->out[i].sock = -1;
		p->out[i].cap = m->stream_buf;
	}
	p->pidfd = -1;
	return p;
}

/* Our child? (CLONE_PARENT from the launcher). It may have exited and been
 * reaped already: *status its exit status then, else -1. */
static int proc_is_child(struct monitor *m, const struct ipc_process_add *a, int pidfd, int *status,
			 struct kerr *err)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	*status = -1;
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) == 0) {
		if (si.si_pid != 0)
			*status = status_of(&si);
		return 0;
	}
	if (errno == ECHILD && recent_exit(m, a->pid, status))
		return 0; /* reaped before the announcement */
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno,
			       "process %d is not a child of the monitor: %s", (int)a->pid,
			       strerror(errno));
}

/* The process's stdio and pidfd taken from the message, non-blocking. */
static int proc_take_fds(struct mon_proc *p, unsigned direct, struct ipc_msg *msg, struct kerr *err)
{
	if (p->terminal) {
		int master = msg->fds[IPC_PFD_PTY];
		int in = fcntl(master, F_DUPFD_CLOEXEC, 3);
		if (in < 0)
			return kerr_set_status(err, GRPC_INTERNAL, -errno, "dup pty master: %s",
					       strerror(errno));
		p->in_fd = in;
		p->out[0].fd = ipc_msg_take_fd_at(msg, IPC_PFD_PTY);
		p->out[1].eof = true; /* a terminal has one output stream */
	} else {
		/* A direct output has no pipe: the host's stream is the
		 * process's own fd, its bytes never come here (a read of it
		 * answers EOF, as for a stream the monitor relays). */
		unsigned at = IPC_PFD_STDIN;
		p->in_fd = ipc_msg_take_fd_at(msg, at++);
		for (unsigned i = 0; i < 2; i++) {
			if (direct & (1u << (i + 1))) {
				p->out[i].passfd = p->out[i].eof = true;
				continue;
			}
			p->out[i].fd = ipc_msg_take_fd_at(msg, at++);
		}
	}
	p->pidfd = ipc_msg_take_fd_at(msg, IPC_PFD_PIDFD);
	int r = set_nonblock(p->in_fd, err);
	for (unsigned i = 0; r == 0 && i < 2; i++)
		if (p->out[i].fd >= 0)
			r = set_nonblock(p->out[i].fd, err);
	if (r < 0)
		err->status = GRPC_INTERNAL;
	return r;
}

int mon_proc_add(struct monitor *m, const struct ipc_process_add *a, struct ipc_msg *msg,
		 struct kerr *err)
{
	struct mon_proc *old = NULL;
	int status = -1, r = proc_room(m, a, &old, err);
	if (r < 0)
		return r;
	cleanup_free struct mon_proc *p = proc_new(m, a);
	if (!p)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	r = proc_is_child(m, a, msg->fds[IPC_PFD_PIDFD], &status, err);
	if (r < 0)
		return r;
	r = proc_take_fds(p, a->direct, msg, err);
	if (r < 0) {
		proc_free(take_ptr(&p));
		return r;
	}

	if (old)
		proc_drop(old);
	struct mon_proc *np = take_ptr(&p);
	np->next = m->procs;
	m->procs = np;
	m->nprocs++;
	m->live++;
	log_info("process %s added: pid %d, %s%s", mon_proc_name(np), (int)np->pid,
		 np->terminal ? "terminal" : "pipes",
		 a->direct == (IPC_DIRECT_STDOUT | IPC_DIRECT_STDERR)
			 ? ", stdout and stderr on host streams"
		 : a->direct == IPC_DIRECT_STDOUT ? ", stdout on a host stream"
		 : a->direct == IPC_DIRECT_STDERR ? ", stderr on a host stream"
						  : "");
	for (unsigned i = 0; i < 2; i++)
		mon_stream_watch(np, &np->out[i], true);
	if (status >= 0)
		proc_exited(np, status);
	return 0;
}

void mon_policy_changed(struct monitor *m)
{
	for (struct mon_proc *p = m->procs; p; p = p->next)
		for (unsigned i = 0; i < 2; i++)
			stream_answer(p, i);
}

void mon_frontend_changed(struct monitor *m)
{
	for (struct mon_proc *p = m->procs; p; p = p->next) {
		p->nwaiters = 0;
		for (unsigned i = 0; i < 2; i++) {
			p->out[i].read_pending = false;
			p->out[i].nqueued = 0;
			p->out[i].sent = p->out[i].acked;
		}
		/* Writes already accepted still go in; nobody hears of them. */
		for (struct mon_write *w = p->wq; w; w = w->next)
			w->id = 0;
	}
}

void mon_free_all(struct monitor *m)
{
	struct mon_proc *p = m->procs;
	while (p) {
		struct mon_proc *next = p->next;
		proc_free(p);
		p = next;
	}
	m->procs = NULL;
	m->nprocs = 0;
}
