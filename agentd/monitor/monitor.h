/* SPDX-License-Identifier: Apache-2.0 */
/*
 * monitor.h - the state of kata-agent-monitor, one per container.
 *
 *   main.c   argv, fds 3-5, confinement, the three channels and their
 *            dispatch tables (what each peer may send), request handlers
 *   proc.c   the process table: stdio buffers with ACK retention and
 *            backpressure, stdin writes, reaping, exit statuses
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
#include "options.h"

/* Output kept per stream until the front-end acknowledges it; when full, the
 * monitor stops reading the pipe and the container blocks in write(). */
#define MON_STREAM_BUF_DEFAULT (1u << 20)
/* Stdin writes accepted but not yet in the pipe, per process. */
#define MON_MAX_PENDING_WRITES 16
/* Waiters per process (WAIT_PROCESS_REQ not yet answered). */
#define MON_MAX_WAITERS 64
/* Processes per container (init + execs, live or not yet collected). */
#define MON_MAX_PROCS 1024
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
	int fd;          /* pipe read end / pty master; -1 once closed */
	bool watched;    /* EPOLLIN registered (not while the buffer is full) */
	bool eof;        /* the fd hit EOF (EIO on a pty whose slave is gone) */
	uint8_t *buf;    /* ring of cap bytes holding [acked, end) */
	size_t cap;
	size_t start;    /* ring index of offset `acked` */
	uint64_t acked;  /* everything before reached the host */
	uint64_t sent;   /* everything before was sent to the current front-end */
	uint64_t end;    /* everything before was read from the fd */
	bool read_pending;
	uint32_t read_id;
	uint32_t read_max;
	/* The process exited: what it left in the pipe (drain_left bytes,
	 * FIONREAD at the exit) is still read, then the stream ends, even if a
	 * background child keeps the pipe open (upstream: the exit notifier
	 * ends a pending read after a bounded drain). */
	bool draining;
	uint64_t drain_left;
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
	int in_fd;  /* stdin write end / dup of the pty master; -1 once closed */
	bool in_watched;
	struct mon_write *wq, **wq_tail;
	unsigned nwrites;
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

struct monitor {
	struct loop *loop;
	char container_id[IPC_ID_MAX];
	size_t stream_buf;
	struct ipc_chan *exec, *launcher, *frontend;
	unsigned fe_generation;
	struct mon_proc *procs;
	unsigned nprocs;
	unsigned max_procs; /* MON_MAX_PROCS, or fewer when fds are short */
	unsigned live; /* added and not yet reaped */
	bool shutting_down;
	int sigfd;
	struct { pid_t pid; int status; } recent[MON_RECENT_EXITS];
	unsigned recent_next;
	/* [endpoints] allowed from the executor (--endpoints): every
	 * front-end request passes it (common/endpoints.h) */
	struct agent_options policy;
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
void mon_free_all(struct monitor *m);

/* ---- main.c ---- */

/* Send to the front-end if there is one (failures are logged). */
void mon_to_frontend(struct monitor *m, uint32_t type, uint32_t id, const void *p, size_t len);
void mon_error_to_frontend(struct monitor *m, uint32_t id, int grpc_status, int errno_code,
			   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A process exited: tell the executor; maybe finish a shutdown. */
void mon_exited(struct monitor *m, struct mon_proc *p);
/* An exec was released (waited for, output delivered): tell the executor. */
void mon_released(struct monitor *m, const char *exec_id);
void mon_check_done(struct monitor *m);

#endif
