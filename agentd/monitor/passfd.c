/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd.c - fd-passthrough stdio (agent.passfd_listener_port): host
 * streams, accepted by the front-end and handed over with
 * MON_PASSFD_ATTACH, as a process's stdio. The monitor holds them, so a
 * front-end restart does not touch them.
 *
 * By default the container keeps its pipes, as upstream (a program that
 * opens /dev/stdout, as nginx's log links do, cannot open a socket: ENXIO):
 * output goes from the pipe to the host's stream by splice(2), so no byte
 * passes through this process's memory. With agent.passfd_direct a
 * process without a terminal has the streams themselves as its stdout and
 * stderr (the executor's handlers/passfd.c, the launcher): those never
 * come here, proc.c marks them passfd and a read of them answers EOF. Bytes read into the ring before the stream arrived (an exec runs
 * before its ExecProcess is answered) go first, with write(2); a pty, which
 * splice refuses, goes through the ring too. A full socket (the host does
 * not read: vsock credit) stops the pump, the pipe fills and the container
 * blocks: backpressure, never memory.
 *
 * The end is upstream's (rustjail copy tasks, signal.rs): an output stream
 * is closed once its pipe hit EOF, or once what the process left in it at
 * its exit was moved (proc.c's drain: a background child holding the pipe
 * does not hold the host); WaitProcess is answered only after that, so the
 * last bytes are in the host's stream before it hears of the exit. If the
 * host closes a stream, the pipe's read end is closed (the writer gets
 * EPIPE, as upstream's ended copy task drops it). The stdin stream is read
 * while the stdin write queue is empty and copied into the pipe; its EOF
 * closes stdin (for a terminal only our dup of the master: the terminal
 * stays, as upstream's term_closer keeps it while its output is copied).
 *
 * Nothing the host sends on an output stream is read (it stays in the
 * socket's receive buffer, bounded by the transport's credit).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"
#include "monitor.h"
#include "stream_sock.h"

/* Bytes one output stream moves per wake-up, so one busy stream cannot
 * starve the others (the pipe stays watched: the loop comes back). */
#define PUMP_BATCH (1u << 20)
/* Largest splice; the pipe holds at most its size anyway. */
#define SPLICE_CHUNK (1u << 20)
/* An output pipe spliced into a host stream is widened to this (the
 * unprivileged maximum, /proc/sys/fs/pipe-max-size by default): the
 * container, the monitor and the host's reader then take turns per MiB
 * rather than per 64 KiB; measured twice the throughput (bench/passfd). */
#define PASSFD_PIPE_SIZE (1 << 20)
/* A host stream's send buffer, asked for at attach: each splice moves up
 * to what the socket takes, and the monitor wakes when half of it is free.
 * The kernel caps it at net.core.wmem_max (208 KiB unless the guest raises
 * it) and doubles it. AF_UNIX charges in-flight bytes to it; vsock sends on
 * the peer's credit and keeps its own buffer (bench/passfd). */
#define PASSFD_SNDBUF (1 << 20)
/* Stdin read per wake-up (one write-queue entry at a time). */
#define STDIN_CHUNK (64u * 1024u)

static void sock_on_events(struct loop *l, int fd, uint32_t events, void *data);
static void stdin_sock_on_events(struct loop *l, int fd, uint32_t events, void *data);

/* A connected stream socket of a family the listener serves: the
 * front-end, even compromised, can only make us write a container's
 * output where it could write itself, never into a channel or a file. */
static int sock_check(int fd, struct kerr *err)
{
	if (stream_sock_check(fd, 0, err) < 0)
		return err->code;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "O_NONBLOCK: %s",
				       strerror(errno));
	return 0;
}

/* ---- output ---- */

static void sock_watch(struct mon_proc *p, struct mon_stream *s, bool on)
{
	if (s->sock < 0 || s->sock_watched == on)
		return;
	if (on) {
		struct kerr e = { 0 };
		if (loop_add(p->mon->loop, s->sock, EPOLLOUT, sock_on_events, p, &e) < 0) {
			log_error("%s: watch its host stream: %s", mon_proc_name(p), e.msg);
			return;
		}
	} else {
		loop_del(p->mon->loop, s->sock);
	}
	s->sock_watched = on;
}

static void sock_close(struct mon_proc *p, struct mon_stream *s)
{
	sock_watch(p, s, false);
	close(s->sock);
	s->sock = -1;
}

/* Everything is in the host's stream: close it (the host reads EOF). */
static void stream_finish(struct mon_proc *p, unsigned i)
{
	struct mon_stream *s = &p->out[i];
	log_debug("%s %s: %llu bytes in the host's stream; closing it", mon_proc_name(p),
		  mon_stream_name(i), (unsigned long long)s->end);
	sock_close(p, s);
	free(s->buf);
	s->buf = NULL;
	mon_proc_output_done(p);
}

/* The host closed the stream (or it failed): nobody can take this output
 * any more. */
static void stream_broken(struct mon_proc *p, unsigned i, int e)
{
	struct mon_stream *s = &p->out[i];
	log_info("%s %s: host stream: %s; output ends", mon_proc_name(p), mon_stream_name(i),
		 strerror(e));
	sock_close(p, s);
	mon_stream_close_fd(p, s);
	s->eof = true;
	s->acked = s->sent = s->end;
	free(s->buf);
	s->buf = NULL;
	mon_proc_output_done(p);
}

/* Ring bytes into the socket: 1 progress, 0 the socket is full, -errno. */
static int ring_to_sock(struct mon_stream *s)
{
	size_t used = mon_stream_used(s);
	size_t n = s->start + used <= s->cap ? used : s->cap - s->start;
	ssize_t r = write(s->sock, s->buf + s->start, n);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno == EINTR ? 1 : -errno;
	s->start = (s->start + (size_t)r) % s->cap;
	s->acked += (uint64_t)r;
	s->sent = s->acked;
	if (mon_stream_used(s) == 0)
		s->start = 0;
	return 1;
}

/* The end of the pipe: what the process left is moved, or EOF. */
static void pipe_end(struct mon_proc *p, struct mon_stream *s)
{
	s->eof = true;
	mon_stream_close_fd(p, s);
}

/* splice returned EAGAIN: which side would block? */
static void splice_blocked(struct mon_proc *p, struct mon_stream *s)
{
	int queued = 0;
	if (ioctl(s->fd, FIONREAD, &queued) == 0 && queued > 0) {
		/* the socket is full: wait for room, let the pipe fill */
		mon_stream_watch(p, s, false);
		sock_watch(p, s, true);
		return;
	}
	if (s->draining) {
		pipe_end(p, s); /* what the process left is gone */
		return;
	}
	sock_watch(p, s, false);
	mon_stream_watch(p, s, true);
}

/* One step without the ring: 1 progress, 0 wait (watches set), -errno. */
static int pump_pipe(struct mon_proc *p, unsigned i)
{
	struct mon_stream *s = &p->out[i];
	if (s->no_splice) {
		uint64_t before = s->end;
		mon_stream_fill(p, i); /* re-watches the pipe while the ring has room */
		if (s->end != before || s->fd < 0)
			return 1;
		sock_watch(p, s, false);
		return 0;
	}
	size_t n = SPLICE_CHUNK;
	if (s->draining && n > s->drain_left)
		n = (size_t)s->drain_left;
	if (n == 0) {
		pipe_end(p, s);
		return 1;
	}
	ssize_t r = splice(s->fd, NULL, s->sock, NULL, n, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (r > 0) {
		s->end += (uint64_t)r;
		s->acked = s->sent = s->end;
		if (s->draining)
			s->drain_left -= (uint64_t)r;
		return 1;
	}
	if (r == 0) {
		pipe_end(p, s);
		return 1;
	}
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN) {
		splice_blocked(p, s);
		return 0;
	}
	if (errno == EINVAL || errno == ENOSYS) {
		log_debug("%s %s: splice: %s; copying instead", mon_proc_name(p),
			  mon_stream_name(i), strerror(errno));
		s->no_splice = true;
		return 1;
	}
	return -errno;
}

void mon_passfd_pump(struct mon_proc *p, unsigned i)
{
	struct mon_stream *s = &p->out[i];
	uint64_t start = s->acked;
	while (s->sock >= 0) {
		int r;
		if (mon_stream_used(s) > 0) {
			r = ring_to_sock(s);
			if (r == 0) {
				sock_watch(p, s, true);
				return;
			}
		} else if (s->fd < 0) {
			stream_finish(p, i);
			return;
		} else if (s->acked - start >= PUMP_BATCH) {
			sock_watch(p, s, false);
			mon_stream_watch(p, s, true); /* level-triggered: we come back */
			return;
		} else {
			r = pump_pipe(p, i);
			if (r == 0)
				return;
		}
		if (r < 0) {
			stream_broken(p, i, -r);
			return;
		}
	}
}

static void sock_on_events(struct loop *l, int fd, uint32_t events, void *data)
{
	struct mon_proc *p = data;
	for (unsigned i = 0; i < 2; i++)
		if (p->out[i].sock == fd) {
			mon_passfd_pump(p, i);
			return;
		}
}

bool mon_passfd_busy(const struct mon_proc *p)
{
	return p->out[0].sock >= 0 || p->out[1].sock >= 0;
}

/* ---- stdin ---- */

static void stdin_sock_watch(struct mon_proc *p, bool on)
{
	if (p->in_sock < 0 || p->in_sock_watched == on)
		return;
	if (on) {
		struct kerr e = { 0 };
		if (loop_add(p->mon->loop, p->in_sock, EPOLLIN, stdin_sock_on_events, p, &e) < 0) {
			log_error("%s: watch its stdin stream: %s", mon_proc_name(p), e.msg);
			return;
		}
	} else {
		loop_del(p->mon->loop, p->in_sock);
	}
	p->in_sock_watched = on;
}

void mon_passfd_close_stdin(struct mon_proc *p)
{
	if (p->in_sock < 0)
		return;
	stdin_sock_watch(p, false);
	close(p->in_sock);
	p->in_sock = -1;
}

static void stdin_sock_on_events(struct loop *l, int fd, uint32_t events, void *data)
{
	struct mon_proc *p = data;
	static uint8_t buf[STDIN_CHUNK];
	if (p->wq) {
		stdin_sock_watch(p, false); /* the pipe has not taken the last read */
		return;
	}
	ssize_t r = read(p->in_sock, buf, sizeof(buf));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		if (r < 0)
			log_info("%s: stdin stream: %s; closing stdin", mon_proc_name(p),
				 strerror(errno));
		mon_passfd_close_stdin(p);
		mon_stdin_close_fd(p);
		return;
	}
	struct kerr e = { 0 };
	if (mon_stdin_write(p, 0, buf, (size_t)r, &e) < 0) {
		log_info("%s: stdin stream: %s; closing it", mon_proc_name(p), e.msg);
		mon_passfd_close_stdin(p);
	}
}

void mon_passfd_stdin_resume(struct mon_proc *p)
{
	if (p->in_sock >= 0 && !p->wq)
		stdin_sock_watch(p, true);
}

/* ---- attach and release ---- */

static int attach_stdin(struct mon_proc *p, int fd)
{
	if (p->in_fd < 0) {
		/* stdin already closed (CloseStdin): nothing can go in */
		log_info("%s: stdin stream arrived after stdin was closed; closing it",
			 mon_proc_name(p));
		close(fd);
		return 0;
	}
	p->in_sock = fd;
	mon_passfd_stdin_resume(p);
	return 0;
}

int mon_passfd_attach(struct mon_proc *p, unsigned stream, int fd, struct kerr *err)
{
	cleanup_close int sock = fd;
	const char *what = stream == IPC_PASSFD_STDIN ? "stdin" : mon_stream_name(stream - 1);
	bool taken = stream == IPC_PASSFD_STDIN ? p->in_sock >= 0 : p->out[stream - 1].passfd;
	if (taken)
		return kerr_set_status(err, GRPC_ALREADY_EXISTS, -EEXIST,
				       "process %s already has a %s stream", mon_proc_name(p),
				       what);
	if (sock_check(sock, err) < 0)
		return err->code;
	log_info("%s: %s goes to a host stream", mon_proc_name(p), what);
	if (stream == IPC_PASSFD_STDIN)
		return attach_stdin(p, take_fd(&sock));
	struct mon_stream *s = &p->out[stream - 1];
	if (p->terminal && stream == IPC_STREAM_STDERR) {
		/* a terminal has one output (upstream leaves this one unused) */
		return 0;
	}
	if (s->read_pending) {
		/* the front-end's reads of this stream end here */
		struct ipc_stdio_data eof = { .offset = s->sent };
		s->read_pending = false;
		mon_to_frontend(p->mon, IPC_READ_STREAM_REPLY, s->read_id, &eof, sizeof(eof));
	}
	s->passfd = true;
	s->sock = take_fd(&sock);
	if (!p->terminal && s->fd >= 0 && fcntl(s->fd, F_SETPIPE_SZ, PASSFD_PIPE_SIZE) < 0)
		log_debug("%s %s: F_SETPIPE_SZ %d: %s; the pipe keeps its size", mon_proc_name(p),
			  mon_stream_name(stream - 1), PASSFD_PIPE_SIZE, strerror(errno));
	int sndbuf = PASSFD_SNDBUF;
	if (setsockopt(s->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		log_debug("%s %s: SO_SNDBUF %d: %s", mon_proc_name(p), mon_stream_name(stream - 1),
			  sndbuf, strerror(errno));
	s->sent = s->acked; /* what a front-end read and did not ACK goes here too */
	mon_passfd_pump(p, stream - 1);
	return 0;
}

void mon_passfd_close(struct mon_proc *p)
{
	mon_passfd_close_stdin(p);
	for (unsigned i = 0; i < 2; i++)
		if (p->out[i].sock >= 0)
			sock_close(p, &p->out[i]);
}
