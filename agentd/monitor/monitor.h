/* SPDX-License-Identifier: Apache-2.0 */
/*
 * monitor.h - the state of kata-agent-monitor, one per container.
 *
 *   main.c   argv, fds 3-5, confinement, the three channels and their
 *            dispatch tables (what each peer may send), request handlers
 *   proc.c   the process table: stdio buffers with ACK retention and
 *            backpressure, stdin writes, reaping, exit statuses
 *   passfd.c host streams (agent.passfd_listener_port) as a process's
 *            stdio: output spliced from the pipe into the socket, stdin
 *            copied from the socket into the pipe (with agent.passfd_direct
 *            a process's own stdout/stderr streams never come here)
 */
#ifndef KATA_MONITOR_H
#define KATA_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "ipc.h"
#include "loop.h"

/* Output kept per stream until the front-end acknowledges it; when full, the
 * monitor stops reading the pipe and the container blocks in write(). */
#define MON_STREAM_BUF_DEFAULT (1u << 20)
/* Stdin writes accepted but not yet in the pipe, per process. */
#define MON_MAX_PENDING_WRITES 16
/* Waiters per process (WAIT_PROCESS_REQ not yet answered). */
#define MON_MAX_WAITERS 64
/* Processes per container (init + execs, live or not yet collected). */
#define MON_MAX_PROCS 1024
/* Fds one process may hold here: pidfd, stdin, stdout, stderr, and up to
 * three host streams (fd-passthrough). */
#define MON_FDS_PER_PROC 7
/* An exec waited for while its output is still unread is released once
 * the output is delivered, or when nobody read or acknowledged any of it
 * for this long (the host abandoned it). */
#define MON_DRAIN_IDLE_MS 5000
/* A terminal's output may still sit in the tty layer's buffers when its
 * process is reaped (FIONREAD counts only the line discipline's): read up to
 * this much more after the exit before the end of output. */
#define MON_TTY_DRAIN_SLACK (64u * 1024u)
/* Exits of processes not (yet) announced by MON_PROCESS_ADD, remembered in
 * case the announcement arrives after the reap (the launcher clones the
 * process as our child before it sends MON_PROCESS_ADD). */
#define MON_RECENT_EXITS 64

struct monitor;

struct mon_stream {
	int fd;       /* pipe read end / pty master; -1 once closed */
	bool watched; /* EPOLLIN registered (not while the buffer is full) */
	bool eof;     /* the fd hit EOF (EIO on a pty whose slave is gone) */
	uint8_t *buf; /* ring of cap bytes holding [acked, end) */
	size_t cap;
	size_t start;   /* ring index of offset `acked` */
	uint64_t acked; /* everything before reached the host */
	uint64_t sent;  /* everything before was sent to the current front-end */
	uint64_t end;   /* everything before was read from the fd */
	bool read_pending;
	uint32_t read_id;
	uint32_t read_max;
	/* Reads queued behind the pending one, oldest first: the front-end's
	 * read-ahead asks for up to IPC_STDIO_READS_MAX chunks at once, so
	 * that one wake-up of each side moves them all (mon_stream_read; the
	 * first is promoted when the one before it is answered). */
	unsigned nqueued;
	struct mon_read {
		uint32_t id;
		uint32_t max;
	} queued[IPC_STDIO_READS_MAX - 1];
	/* A read came for this stream, and whether its EOF was answered: a
	 * stream someone reads is delivered once its reader got EOF, so the
	 * read after the last ACK answers EOF, never NOT_FOUND. */
	bool read_seen;
	bool eof_answered;
	/* The process exited: what it left in the pipe (drain_left bytes,
	 * FIONREAD at the exit) is still read, then the stream ends, even if a
	 * background child keeps the pipe open (upstream: the exit notifier
	 * ends a pending read after a bounded drain). */
	bool draining;
	uint64_t drain_left;
	/* Fd-passthrough (passfd.c): the host's stream this output goes to
	 * instead of READ_STREAM_REPLY; -1 when none or once done. passfd
	 * stays set: reads of the stream answer EOF, as the bytes went to
	 * the host's stream. */
	int sock;
	bool sock_watched; /* EPOLLOUT registered: the socket was full */
	bool passfd;
	bool no_splice; /* splice(2) refused this pair (a pty): read + write */
};

struct mon_write {
	struct mon_write *next;
	uint32_t id; /* 0: its requester is gone; finish silently */
	size_t len, off;
	uint8_t data[];
};

struct mon_proc {
	struct mon_proc *next;
	struct monitor *mon;
	char exec_id[IPC_ID_MAX];
	pid_t pid;
	int pidfd;
	bool terminal;
	int in_fd; /* stdin write end / dup of the pty master; -1 once closed */
	bool in_watched;
	struct mon_write *wq, **wq_tail;
	unsigned nwrites;
	/* Fd-passthrough stdin (passfd.c): read while the write queue is
	 * empty; its EOF closes stdin (in_fd), as upstream's copy task does. */
	int in_sock;
	bool in_sock_watched;
	struct mon_stream out[2]; /* [0] stdout, [1] stderr (always EOF with a tty) */
	bool exited;
	int status;
	bool waited; /* a WAIT_PROCESS_REPLY was sent: an exec is then only readable */
	uint32_t waiters[MON_MAX_WAITERS];
	unsigned nwaiters;
	/* A waited exec: the check that releases it (deferred, then at
	 * rel_deadline when its output is still unread). */
	struct loop_timer *rel_timer;
	uint64_t rel_deadline;
};

/* Requests held until the policy's first verdicts. */
#define MON_MAX_HELD 64

struct monitor {
	struct loop *loop;
	char container_id[IPC_ID_MAX];
	size_t stream_buf;
	struct ipc_chan *exec, *launcher, *frontend;
	unsigned fe_generation;
	struct mon_proc *procs;
	unsigned nprocs;
	unsigned max_procs; /* MON_MAX_PROCS, or fewer when fds are short */
	unsigned live;      /* added and not yet reaped */
	/* L, the launcher (--launcher-pid): our child until reaped, 0 after.
	 * We exit only after it: it ends once every worker it cloned (our
	 * children too) has ended, so nothing of the container outlives us. */
	pid_t launcher_pid;
	bool shutting_down;
	int sigfd;
	struct {
		pid_t pid;
		int status;
	} recent[MON_RECENT_EXITS];
	unsigned recent_next;
	/* The front-end requests [endpoints] allowed blocks, by type, as the
	 * executor resolved them (--endpoints-blocked; common/endpoints.h):
	 * every front-end request passes this gate */
	bool endpoint_blocked[IPC_TYPE_LIMIT];
	/* The agent policy's verdicts on the requests answered here
	 * (IPC_MON_DENY_*), from the executor (MON_POLICY, sent before the
	 * front-end learns of this monitor). Until the first, the requests
	 * wait (held, at most MON_MAX_HELD; then UNAVAILABLE), reads too.
	 * ReadStream denied: output is dropped as it comes (redacted, as
	 * upstream clears what it read). */
	uint32_t policy_deny;
	bool policy_known;
	struct ipc_deferred *held[MON_MAX_HELD];
	unsigned n_held;
};

/* ---- proc.c ---- */

/* The process a request names ("" or the container id: the init). find:
 * every process still held (reads and ACKs drain a waited exec); get: the
 * live view of the other requests, where a waited exec is gone (NOT_FOUND,
 * as upstream removes a process once waited for). */
struct mon_proc *mon_proc_find(struct monitor *m, const char *exec_id);
struct mon_proc *mon_proc_get(struct monitor *m, const char *exec_id);
/* Take the fds of a MON_PROCESS_ADD (already checked by ipc_recv). */
int mon_proc_add(struct monitor *m, const struct ipc_process_add *a, struct ipc_msg *msg,
		 struct kerr *err);
/* Reap every exited child (SIGCHLD). */
void mon_reap(struct monitor *m);
/* READ_STREAM_REQ: answer now if there is data or EOF, else keep it. */
int mon_stream_read(struct mon_proc *p, unsigned stream, uint32_t id, uint32_t max_len,
		    struct kerr *err);
void mon_stream_ack(struct mon_proc *p, unsigned stream, uint64_t offset);
int mon_stdin_write(struct mon_proc *p, uint32_t id, const uint8_t *data, size_t len,
		    struct kerr *err);
void mon_stdin_close(struct mon_proc *p);
int mon_wait(struct mon_proc *p, uint32_t id, struct kerr *err);
/* A new front-end: forget requests of the old one, re-send what it did not
 * acknowledge. */
void mon_frontend_changed(struct monitor *m);
/* The verdicts changed: a redacted stream drops what it holds now. */
void mon_policy_changed(struct monitor *m);
void mon_free_all(struct monitor *m);

/* For passfd.c: the stream helpers of the ring (see proc.c). */
const char *mon_proc_name(const struct mon_proc *p);
const char *mon_stream_name(unsigned i);
void mon_stream_watch(struct mon_proc *p, struct mon_stream *s, bool on);
void mon_stream_fill(struct mon_proc *p, unsigned i);
void mon_stream_close_fd(struct mon_proc *p, struct mon_stream *s);
size_t mon_stream_used(const struct mon_stream *s);
void mon_stdin_close_fd(struct mon_proc *p);
/* A host stream of p finished (all output in it, or the host left): a
 * WaitProcess held for it may be answered. */
void mon_proc_output_done(struct mon_proc *p);

/* ---- passfd.c ---- */

/* MON_PASSFD_ATTACH: fd (taken, also on failure) becomes stream 0 (stdin),
 * 1 (stdout) or 2 (stderr) of p. Refused: not a connected AF_VSOCK/AF_UNIX
 * stream socket (INVALID_ARGUMENT), the stream already has one
 * (ALREADY_EXISTS). */
int mon_passfd_attach(struct mon_proc *p, unsigned stream, int fd, struct kerr *err);
/* Output stream i with a host stream: move what there is (ring first, then
 * splice from the pipe) until the pipe is empty or the socket full. */
void mon_passfd_pump(struct mon_proc *p, unsigned i);
/* The stdin write queue drained: read the host's stdin stream again (or,
 * at its end, close stdin). */
void mon_passfd_stdin_resume(struct mon_proc *p);
/* Output of p still on its way into a host stream: WaitProcess waits. */
bool mon_passfd_busy(const struct mon_proc *p);
/* Close p's host streams (process freed, stdin closed). */
void mon_passfd_close(struct mon_proc *p);
void mon_passfd_close_stdin(struct mon_proc *p);

/* ---- main.c ---- */

/* Send to the front-end if there is one (failures are logged). */
void mon_to_frontend(struct monitor *m, uint32_t type, uint32_t id, const void *p, size_t len);
/* The same with the payload in pieces (ipc_chan_sendv), sent without a copy. */
void mon_to_frontend_v(struct monitor *m, uint32_t type, uint32_t id, const struct iovec *iov,
		       unsigned niov);
void mon_error_to_frontend(struct monitor *m, uint32_t id, int grpc_status, int errno_code,
			   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A process exited: tell the executor; maybe finish a shutdown. */
void mon_exited(struct monitor *m, struct mon_proc *p);
/* An exec was released (waited for, output delivered): tell the executor. */
void mon_released(struct monitor *m, const char *exec_id);
void mon_check_done(struct monitor *m);

#endif
