/* SPDX-License-Identifier: Apache-2.0 */
/*
 * monitor_test.c - the real kata-agent-monitor binary, driven the way the
 * executor starts it: this test forks X, X forks L and execs the monitor
 * with channels at fds 3 (executor), 4 (launcher), 5 (front-end). L plays
 * the launcher: on the test's order it clones a `/bin/sh -c CMD` with
 * CLONE_PARENT (so the process is the monitor's child), with pipes or a pty,
 * and sends MON_PROCESS_ADD. The test plays the executor and the front-end.
 * Needs root (the monitor confines itself). Path of the binary: $KATA_MONITOR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include "grpc_status.h"
#include "ipc.h"
#include "log.h"

#define CID "ctr1"
#define TIMEOUT_MS 15000
/* agentd/monitor/monitor.h MON_DRAIN_IDLE_MS */
#define MON_DRAIN_IDLE_MS_TEST 5000

struct spawn_req {
	char exec_id[IPC_ID_MAX];
	uint32_t terminal;
	char cmd[1024];
};

struct spawn_rep {
	int32_t pid; /* > 0, or -1 when the monitor refused */
	char msg[IPC_ERROR_MSG_MAX];
};

struct mon {
	pid_t pid;  /* X, exec'd into the monitor */
	pid_t lpid; /* L, its child: --launcher-pid, as the executor's X passes it */
	int ex, fe; /* our ends: executor, front-end */
	int ctl;    /* orders to L */
	uint32_t next_id;
	pid_t spawned[64];
	unsigned nspawned;
	/* MON_EXITED seen on the executor channel */
	struct {
		char exec_id[IPC_ID_MAX];
		int status;
	} exits[64];
	unsigned nexits;
	/* MON_RELEASED seen on the executor channel */
	char released[64][IPC_ID_MAX];
	unsigned nreleased;
};

/* 1 with *m, 0 on EOF, -1 on error or timeout. */
static int recv_msg(int fd, struct ipc_msg *m)
{
	int r = tu_ipc_recv(fd, m, TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		printf("# timeout waiting for a message\n");
	return r < 0 ? -1 : r;
}

/* ---- L: the launcher ---- */

static pid_t clone_parent(int *pidfd)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PARENT | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = 0; /* CLONE_PARENT: the parent's own exit signal is used */
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

static void launcher_spawn(int lm, int ctl, const struct spawn_req *rq, uint32_t id)
{
	struct spawn_rep rep = { .pid = -1 };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, master = -1;
	char slave[64] = "";
	if (rq->terminal) {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
		    ptsname_r(master, slave, sizeof(slave)) != 0)
			_exit(90);
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
		   pipe2(err, O_CLOEXEC) < 0) {
		_exit(91);
	}
	int pidfd = -1;
	pid_t pid = clone_parent(&pidfd);
	if (pid < 0)
		_exit(92);
	if (pid == 0) {
		if (rq->terminal) {
			setsid();
			int s = open(slave, O_RDWR);
			if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
				_exit(120);
			dup2(s, 0);
			dup2(s, 1);
			dup2(s, 2);
		} else {
			dup2(in[0], 0);
			dup2(out[1], 1);
			dup2(err[1], 2);
		}
		execl("/bin/sh", "sh", "-c", rq->cmd, (char *)NULL);
		_exit(127);
	}
	struct ipc_process_add a = { .pid = pid, .terminal = rq->terminal ? 1 : 0 };
	memcpy(a.exec_id, rq->exec_id, sizeof(a.exec_id));
	int fds[4] = { pidfd, master, -1, -1 };
	unsigned n = 2;
	if (!rq->terminal) {
		fds[1] = in[1];
		fds[2] = out[0];
		fds[3] = err[0];
		n = 4;
	}
	struct kerr e = { 0 };
	if (ipc_send_fds(lm, IPC_MON_PROCESS_ADD, id, &a, sizeof(a), fds, n, &e) < 0)
		_exit(93);
	int all[] = { in[0], in[1], out[0], out[1], err[0], err[1], master, pidfd };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] >= 0)
			close(all[i]);
	struct ipc_msg m;
	if (recv_msg(lm, &m) != 1)
		_exit(94);
	if (m.hdr.type == IPC_OK) {
		rep.pid = pid;
	} else if (m.hdr.type == IPC_ERROR) {
		snprintf(rep.msg, sizeof(rep.msg), "%s",
			 (const char *)m.payload + sizeof(struct ipc_error));
	}
	ipc_msg_release(&m);
	if (send(ctl, &rep, sizeof(rep), 0) < 0)
		_exit(95);
}

static void launcher_main(int lm, int ctl)
{
	uint32_t id = 1;
	for (;;) {
		struct spawn_req rq;
		ssize_t n = recv(ctl, &rq, sizeof(rq), 0);
		if (n <= 0)
			_exit(0);
		if (n != sizeof(rq))
			_exit(96);
		launcher_spawn(lm, ctl, &rq, id++);
	}
}

/* ---- starting and stopping a monitor ---- */

static int mon_start(struct mon *t)
{
	const char *bin = getenv("KATA_MONITOR");
	if (!bin) {
		printf("# KATA_MONITOR not set\n");
		return -1;
	}
	memset(t, 0, sizeof(*t));
	t->next_id = 1;
	int em[2], lm[2], fm[2], ctl[2], lp[2];
	if (tu_seqpacket_pair(em) < 0 || tu_seqpacket_pair(lm) < 0 || tu_seqpacket_pair(fm) < 0 ||
	    tu_seqpacket_pair(ctl) < 0 || pipe2(lp, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid_t x = fork();
	if (x < 0)
		return -1;
	if (x == 0) {
		pid_t l = fork();
		if (l == 0) {
			/* L keeps its launcher end and the order channel only. */
			int a = fcntl(lm[1], F_DUPFD, 100), b = fcntl(ctl[1], F_DUPFD, 100);
			if (a < 0 || b < 0 || dup2(a, 10) < 0 || dup2(b, 11) < 0)
				_exit(97);
			close_range(3, 9, 0);
			close_range(12, ~0u, 0);
			launcher_main(10, 11);
		}
		int a = fcntl(em[1], F_DUPFD, 100), b = fcntl(lm[0], F_DUPFD, 100),
		    c = fcntl(fm[1], F_DUPFD, 100);
		if (a < 0 || b < 0 || c < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0 || dup2(c, 5) < 0)
			_exit(98);
		if (l < 0 || write(lp[1], &l, sizeof(l)) != sizeof(l))
			_exit(98);
		close_range(6, ~0u, 0);
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		char lpid[24];
		snprintf(lpid, sizeof(lpid), "%d", (int)l);
		execl(bin, "kata-agent-monitor", "--container-id", CID, "--uid", "65534", "--gid",
		      "65534", "--log-level", "debug", "--launcher-pid", lpid, (char *)NULL);
		_exit(99);
	}
	t->pid = x;
	close(lp[1]);
	if (read(lp[0], &t->lpid, sizeof(t->lpid)) != sizeof(t->lpid))
		t->lpid = 0;
	close(lp[0]);
	if (t->lpid <= 0)
		return -1;
	close(em[1]);
	close(lm[0]);
	close(lm[1]);
	close(fm[1]);
	close(ctl[1]);
	t->ex = em[0];
	t->fe = fm[0];
	t->ctl = ctl[0];
	/* As the executor: the policy's verdicts (none denied) before the
	 * front-end learns of the monitor. */
	struct ipc_mon_policy mp = { .deny = 0 };
	struct kerr e = { 0 };
	return ipc_send_fd(t->ex, IPC_MON_POLICY, 0, &mp, sizeof(mp), -1, &e);
}

static int exited_within(pid_t pid, int ms, int *status)
{
	uint64_t end = tu_now_ms() + ms;
	while (tu_now_ms() < end) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0)
			return 0;
		usleep(10000);
	}
	return 0;
}

/* Always: nothing outlives the test. */
static void mon_kill(struct mon *t)
{
	for (unsigned i = 0; i < t->nspawned; i++)
		kill(t->spawned[i], SIGKILL);
	if (t->pid > 0) {
		int st;
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &st, 0);
		t->pid = 0;
	}
	int *fds[] = { &t->ex, &t->fe, &t->ctl };
	for (size_t i = 0; i < 3; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/* Ask L for a process; its pid, or -1 (msg says why). */
static pid_t spawn(struct mon *t, const char *exec_id, bool terminal, const char *cmd, char *msg)
{
	struct spawn_req rq;
	memset(&rq, 0, sizeof(rq));
	snprintf(rq.exec_id, sizeof(rq.exec_id), "%s", exec_id);
	rq.terminal = terminal;
	snprintf(rq.cmd, sizeof(rq.cmd), "%s", cmd);
	if (send(t->ctl, &rq, sizeof(rq), 0) < 0 || tu_wait_readable(t->ctl, TIMEOUT_MS) <= 0)
		return -1;
	struct spawn_rep rep;
	if (recv(t->ctl, &rep, sizeof(rep), 0) != sizeof(rep))
		return -1;
	if (msg)
		snprintf(msg, IPC_ERROR_MSG_MAX, "%s", rep.msg);
	if (rep.pid > 0 && t->nspawned < 64)
		t->spawned[t->nspawned++] = rep.pid;
	return rep.pid;
}

/* ---- playing the executor ---- */

/* Record m if it is one of the monitor's notes to the executor
 * (MON_EXITED, MON_RELEASED): true then, and m is released. */
static bool ex_note(struct mon *t, struct ipc_msg *m)
{
	if (m->hdr.type == IPC_MON_EXITED) {
		struct ipc_exited x;
		memcpy(&x, m->payload, sizeof(x));
		if (t->nexits < 64) {
			memcpy(t->exits[t->nexits].exec_id, x.exec_id, IPC_ID_MAX);
			t->exits[t->nexits++].status = x.status;
		}
	} else if (m->hdr.type == IPC_MON_RELEASED) {
		if (t->nreleased < 64)
			memcpy(t->released[t->nreleased++], m->payload, IPC_ID_MAX);
	} else {
		return false;
	}
	ipc_msg_release(m);
	return true;
}

/* The next message on the executor channel that is not a note (those are
 * recorded). */
static int ex_recv(struct mon *t, struct ipc_msg *m)
{
	for (;;) {
		int r = recv_msg(t->ex, m);
		if (r != 1 || !ex_note(t, m))
			return r;
	}
}

/* Read notes until want(t, exec_id) holds or TIMEOUT_MS passes. */
static bool ex_wait_note(struct mon *t, bool (*want)(struct mon *, const char *),
			 const char *exec_id, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	for (;;) {
		if (want(t, exec_id))
			return true;
		if (tu_now_ms() > end || tu_wait_readable(t->ex, 100) < 0)
			return false;
		if (tu_wait_readable(t->ex, 0) > 0) {
			struct ipc_msg m;
			if (recv_msg(t->ex, &m) != 1)
				return false;
			if (!ex_note(t, &m))
				ipc_msg_release(&m);
		}
	}
}

static bool has_exit(struct mon *t, const char *exec_id)
{
	for (unsigned i = 0; i < t->nexits; i++)
		if (strcmp(t->exits[i].exec_id, exec_id) == 0)
			return true;
	return false;
}

static bool has_release(struct mon *t, const char *exec_id)
{
	for (unsigned i = 0; i < t->nreleased; i++)
		if (strcmp(t->released[i], exec_id) == 0)
			return true;
	return false;
}

/* Wait for MON_EXITED of exec_id; its status, or -1. */
static int ex_exited(struct mon *t, const char *exec_id)
{
	if (!ex_wait_note(t, has_exit, exec_id, TIMEOUT_MS))
		return -1;
	for (unsigned i = 0; i < t->nexits; i++)
		if (strcmp(t->exits[i].exec_id, exec_id) == 0)
			return t->exits[i].status;
	return -1;
}

/* Wait for MON_RELEASED of exec_id. */
static bool ex_released(struct mon *t, const char *exec_id, int timeout_ms)
{
	return ex_wait_note(t, has_release, exec_id, timeout_ms);
}

/* MON_SIGNAL; the reply type (IPC_OK...) or -1. */
static int ex_signal(struct mon *t, const char *exec_id, int sig)
{
	struct ipc_process_signal s = { .container_id = CID, .signal = (uint32_t)sig };
	snprintf(s.exec_id, sizeof(s.exec_id), "%s", exec_id);
	struct kerr e = { 0 };
	uint32_t id = t->next_id++;
	if (ipc_send_fd(t->ex, IPC_MON_SIGNAL, id, &s, sizeof(s), -1, &e) < 0)
		return -1;
	struct ipc_msg m;
	if (ex_recv(t, &m) != 1)
		return -1;
	int type = m.hdr.id == id ? (int)m.hdr.type : -1;
	ipc_msg_release(&m);
	return type;
}

/* MON_NEW_FRONTEND: our old front-end end is replaced by a new one. */
static int ex_new_frontend(struct mon *t)
{
	int sv[2];
	if (tu_seqpacket_pair(sv) < 0)
		return -1;
	struct kerr e = { 0 };
	int r = ipc_send_fd(t->ex, IPC_MON_NEW_FRONTEND, 0, NULL, 0, sv[1], &e);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return -1;
	}
	if (t->fe >= 0)
		close(t->fe);
	t->fe = sv[0];
	return 0;
}

/* ---- playing the front-end ---- */

/* Send a request on the front-end channel: 1 with the next message when it
 * is the answer (same id), else -1. */
static int fe_ask(struct mon *t, uint32_t type, const void *p, size_t len, struct ipc_msg *m)
{
	struct kerr e = { 0 };
	uint32_t id = t->next_id++;
	if (ipc_send_fd(t->fe, type, id, p, len, -1, &e) < 0 || recv_msg(t->fe, m) != 1)
		return -1;
	if (m->hdr.id == id)
		return 1;
	printf("# %s answered by id %u, not %u\n", ipc_type_name(type), m->hdr.id, id);
	ipc_msg_release(m);
	return -1;
}

/* One READ_STREAM_REQ carrying the ACK carried (0: none): bytes (0 =
 * EOF), or -1 (ERROR or failure). ACKed by a READ_STREAM_ACK right away
 * when ack. */
static ssize_t fe_read_carrying(struct mon *t, const char *exec_id, unsigned stream, void *buf,
				size_t max, uint64_t *offset, bool ack, uint64_t carried)
{
	struct ipc_stdio_read r = { .stream = stream, .max_len = (uint32_t)max, .ack = carried };
	snprintf(r.exec_id, sizeof(r.exec_id), "%s", exec_id);
	struct ipc_msg m;
	if (fe_ask(t, IPC_READ_STREAM_REQ, &r, sizeof(r), &m) != 1)
		return -1;
	ssize_t n = -1;
	if (m.hdr.type == IPC_READ_STREAM_REPLY) {
		struct ipc_stdio_data h;
		memcpy(&h, m.payload, sizeof(h));
		n = (ssize_t)(m.len - sizeof(h));
		memcpy(buf, m.payload + sizeof(h), (size_t)n);
		if (offset)
			*offset = h.offset;
		if (ack && n > 0) {
			struct ipc_stdio_ack a = { .stream = stream,
						   .offset = h.offset + (uint64_t)n };
			snprintf(a.exec_id, sizeof(a.exec_id), "%s", exec_id);
			struct kerr e = { 0 };
			ipc_send_fd(t->fe, IPC_READ_STREAM_ACK, 0, &a, sizeof(a), -1, &e);
		}
	} else if (m.hdr.type == IPC_ERROR) {
		printf("# read error: %s\n", (const char *)m.payload + sizeof(struct ipc_error));
	}
	ipc_msg_release(&m);
	return n;
}

static ssize_t fe_read(struct mon *t, const char *exec_id, unsigned stream, void *buf, size_t max,
		       uint64_t *offset, bool ack)
{
	return fe_read_carrying(t, exec_id, stream, buf, max, offset, ack, 0);
}

/* Everything up to EOF, acknowledged; the length, or -1. */
static ssize_t fe_read_all(struct mon *t, const char *exec_id, unsigned stream, char *buf,
			   size_t cap)
{
	size_t got = 0;
	static uint8_t chunk[IPC_STDIO_CHUNK];
	for (;;) {
		ssize_t n = fe_read(t, exec_id, stream, chunk, sizeof(chunk), NULL, true);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		size_t k = (size_t)n < cap - got ? (size_t)n : cap - got;
		memcpy(buf + got, chunk, k);
		got += k;
	}
	if (got < cap)
		buf[got] = '\0';
	return (ssize_t)got;
}

/* WAIT_PROCESS_REQ: the status, or -1. */
static int fe_wait(struct mon *t, const char *exec_id)
{
	struct ipc_exec_ref x = { .container_id = CID };
	snprintf(x.exec_id, sizeof(x.exec_id), "%s", exec_id);
	struct ipc_msg m;
	if (fe_ask(t, IPC_WAIT_PROCESS_REQ, &x, sizeof(x), &m) != 1)
		return -1;
	int st = -1;
	if (m.hdr.type == IPC_WAIT_PROCESS_REPLY) {
		struct ipc_wait_reply w;
		memcpy(&w, m.payload, sizeof(w));
		st = w.status;
	}
	ipc_msg_release(&m);
	return st;
}

/* A request with a plain OK/ERROR answer: the reply type, or -1. */
static int fe_simple(struct mon *t, uint32_t type, const void *p, size_t len)
{
	struct ipc_msg m;
	if (fe_ask(t, type, p, len, &m) != 1)
		return -1;
	int r = (int)m.hdr.type;
	ipc_msg_release(&m);
	return r;
}

/* A request answered OK or ERROR: GRPC_OK, the ERROR's status, or -1. */
static int fe_status(struct mon *t, uint32_t type, const void *p, size_t len)
{
	struct ipc_msg m;
	if (fe_ask(t, type, p, len, &m) != 1)
		return -1;
	int r = GRPC_OK;
	if (m.hdr.type == IPC_ERROR) {
		struct ipc_error ie;
		memcpy(&ie, m.payload, sizeof(ie));
		r = (int)ie.grpc_status;
	}
	ipc_msg_release(&m);
	return r;
}

static ssize_t fe_write(struct mon *t, const char *exec_id, const char *data)
{
	uint8_t buf[IPC_ID_MAX + 256] = { 0 };
	snprintf((char *)buf, IPC_ID_MAX, "%s", exec_id);
	size_t n = strlen(data);
	memcpy(buf + IPC_ID_MAX, data, n);
	struct ipc_msg m;
	if (fe_ask(t, IPC_WRITE_STDIN_REQ, buf, IPC_ID_MAX + n, &m) != 1)
		return -1;
	ssize_t r = -1;
	if (m.hdr.type == IPC_WRITE_STDIN_REPLY) {
		struct ipc_stdio_written w;
		memcpy(&w, m.payload, sizeof(w));
		r = (ssize_t)w.len;
	}
	ipc_msg_release(&m);
	return r;
}

/* The channel was closed by the monitor (EOF on our end). */
static int closed_by_peer(int fd)
{
	struct ipc_msg m;
	int r = recv_msg(fd, &m);
	if (r == 1) {
		printf("# got %s instead of EOF\n", ipc_type_name(m.hdr.type));
		ipc_msg_release(&m);
	}
	return r == 0;
}

/* ---- /proc ---- */

static long rss_kb(pid_t pid)
{
	char v[64];
	tu_proc_status(pid, "VmRSS", v, sizeof(v));
	return atol(v);
}

static char proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	char st = '?';
	int pp = 0;
	if (p && sscanf(p + 2, "%c %d", &st, &pp) == 2 && ppid)
		*ppid = pp;
	return st;
}

/* The syscall pid is blocked in and its first argument (/proc/PID/syscall,
 * which names them for a task that sleeps in one); false if it runs. */
static bool proc_syscall(pid_t pid, long *nr, long *arg0)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fscanf(f, "%ld 0x%lx", nr, arg0) == 2;
	fclose(f);
	return ok;
}

/* Bytes pid has written so far (/proc/PID/io wchar), or -1. */
static long long proc_wchar(pid_t pid)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long long v = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "wchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Wait (ms at most) until pid sleeps in write(2) on fd and has written
 * nothing more for 300 ms: whoever reads the other end stopped reading.
 * (A fixed wait before looking lost to a writer slow to get there.) */
static bool stalled_in_write(pid_t pid, int fd, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)ms;
	long long last = -2;
	int still = 0;
	while (tu_now_ms() < end) {
		long nr = -1, a0 = -1;
		long long w = proc_wchar(pid);
		if (proc_syscall(pid, &nr, &a0) && nr == SYS_write && a0 == fd && w == last) {
			if (++still == 3)
				return true;
		} else {
			still = 0;
		}
		last = w;
		usleep(100000);
	}
	return false;
}

/* ---- the tests ---- */

static struct mon M = { .pid = 0, .ex = -1, .fe = -1, .ctl = -1 };
static bool have_root;
/* The tests that use the shared monitor M (started by start_and_confinement). */
#define NEED_MONITOR()                      \
	do {                                \
		if (!have_root)             \
			SKIP("needs root"); \
		REQUIRE(M.pid > 0);         \
	} while (0)

/* A monitor that was to refuse to start: what it wrote on stderr (read
 * from fd, closed here) into buf, and its exit code (-1: not an exit). */
static int refused_with(pid_t pid, int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

TEST(refuses_to_start_without_channels)
{
	const char *bin = getenv("KATA_MONITOR");
	REQUIRE(bin != NULL);
	int p[2];
	REQUIRE(pipe(p) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		close_range(3, ~0u, 0);
		execl(bin, "kata-agent-monitor", "--container-id", CID, (char *)NULL);
		_exit(99);
	}
	close(p[1]);
	char buf[2048];
	CHECK_EQ_INT(refused_with(pid, p[0], buf, sizeof(buf)), 1);
	CHECK(strstr(buf, "no SOCK_SEQPACKET executor channel on fd 3") != NULL);
}

/* A compromised executor (or its X) naming a process that is not the
 * monitor's child as its launcher: the monitor would wait for an exit it
 * can never collect. Refused before anything is read. */
TEST(refuses_a_launcher_that_is_not_its_child)
{
	const char *bin = getenv("KATA_MONITOR");
	REQUIRE(bin != NULL);
	int p[2], em[2], lm[2], fm[2];
	REQUIRE(pipe(p) == 0);
	REQUIRE(tu_seqpacket_pair(em) == 0 && tu_seqpacket_pair(lm) == 0 &&
		tu_seqpacket_pair(fm) == 0);
	char other[24];
	snprintf(other, sizeof(other), "%d", (int)getpid()); /* its parent */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int a = fcntl(em[1], F_DUPFD, 100), b = fcntl(lm[0], F_DUPFD, 100),
		    c = fcntl(fm[1], F_DUPFD, 100), d = fcntl(p[1], F_DUPFD, 100);
		if (a < 0 || b < 0 || c < 0 || d < 0 || dup2(d, 2) < 0 || dup2(a, 3) < 0 ||
		    dup2(b, 4) < 0 || dup2(c, 5) < 0)
			_exit(98);
		close_range(6, ~0u, 0);
		execl(bin, "kata-agent-monitor", "--container-id", CID, "--launcher-pid", other,
		      (char *)NULL);
		_exit(99);
	}
	close(p[1]);
	char buf[2048];
	CHECK_EQ_INT(refused_with(pid, p[0], buf, sizeof(buf)), 1);
	CHECK(strstr(buf, "not our child") != NULL);
	int *fds[] = { em, lm, fm };
	for (unsigned i = 0; i < 3; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

TEST(start_and_confinement)
{
	have_root = geteuid() == 0;
	if (!have_root)
		SKIP("needs root");
	REQUIRE(mon_start(&M) == 0);
	/* The first spawn proves the monitor is up and serving. */
	char msg[IPC_ERROR_MSG_MAX];
	pid_t pid = spawn(&M, "", false, "exec sleep 100", msg);
	CHECK(pid > 0);
	pid_t ppid = 0;
	proc_state(pid, &ppid);
	CHECK_EQ_INT(ppid, M.pid); /* the container process is the monitor's child */
	char v[128];
	tu_proc_status(M.pid, "Uid", v, sizeof(v));
	CHECK_EQ_STR(v, "65534\t65534\t65534\t65534");
	tu_proc_status(M.pid, "CapEff", v, sizeof(v));
	CHECK_EQ_STR(v, "0000000000000020"); /* CAP_KILL */
	tu_proc_status(M.pid, "CapPrm", v, sizeof(v));
	CHECK_EQ_STR(v, "0000000000000020");
	tu_proc_status(M.pid, "CapBnd", v, sizeof(v));
	CHECK_EQ_STR(v, "0000000000000000");
	tu_proc_status(M.pid, "Seccomp", v, sizeof(v));
	CHECK_EQ_STR(v, "2");
	tu_proc_status(M.pid, "NoNewPrivs", v, sizeof(v));
	CHECK_EQ_STR(v, "1");
	/* the same exec id twice */
	CHECK_EQ_INT(spawn(&M, "", false, "true", msg), -1);
	CHECK(strstr(msg, "already exists") != NULL);
}

TEST(output_exit_code_and_eof)
{
	NEED_MONITOR();
	REQUIRE(spawn(&M, "e1", false, "printf hello; printf oops >&2; exit 3", NULL) > 0);
	/* Wait first: the output stays until it is read. */
	CHECK_EQ_INT(fe_wait(&M, "e1"), 3);
	/* Waited: gone for a second wait (upstream removes the process in its
	 * first WaitProcess), still readable until its output is drained. */
	CHECK_EQ_INT(fe_wait(&M, "e1"), -1);
	CHECK_EQ_INT(ex_exited(&M, "e1"), 3);
	char buf[64];
	CHECK_EQ_INT(fe_read_all(&M, "e1", IPC_STREAM_STDOUT, buf, sizeof(buf)), 5);
	CHECK_EQ_STR(buf, "hello");
	CHECK(!has_release(&M, "e1")); /* stderr is not read yet */
	/* The ACK of stderr's last byte (sent with this read) leaves the
	 * process drained but for stderr's EOF answer: no release while that
	 * is owed (however long the next read takes: a host's round trip),
	 * and the next read is EOF, not NOT_FOUND. */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ_INT(fe_read(&M, "e1", IPC_STREAM_STDERR, buf, sizeof(buf), NULL, true), 4);
	CHECK_EQ_STR(buf, "oops");
	CHECK(!ex_released(&M, "e1", 300));
	CHECK_EQ_INT(fe_read(&M, "e1", IPC_STREAM_STDERR, buf, sizeof(buf), NULL, true), 0);
	/* drained: released, and the executor is told */
	CHECK(ex_released(&M, "e1", TIMEOUT_MS));
	CHECK_EQ_INT(fe_read(&M, "e1", IPC_STREAM_STDOUT, buf, sizeof(buf), NULL, true), -1);
	/* unknown exec: an ERROR, the channel stays */
	CHECK_EQ_INT(fe_read(&M, "nope", IPC_STREAM_STDOUT, buf, sizeof(buf), NULL, true), -1);
	/* the id is free again */
	REQUIRE(spawn(&M, "e1", false, "exit 4", NULL) > 0);
	CHECK_EQ_INT(fe_wait(&M, "e1"), 4);
}

TEST(signal_and_wait_killed)
{
	NEED_MONITOR();
	REQUIRE(spawn(&M, "e2", false, "exec sleep 100", NULL) > 0);
	CHECK_EQ_INT(ex_signal(&M, "e2", SIGKILL), IPC_OK);
	CHECK_EQ_INT(fe_wait(&M, "e2"), 128 + SIGKILL);
	CHECK_EQ_INT(ex_exited(&M, "e2"), 128 + SIGKILL);
	CHECK_EQ_INT(ex_signal(&M, "missing", SIGKILL), IPC_ERROR);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* yes(1) prints it with a newline: a period of 63 bytes */
#define WORD "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

TEST(sixteen_mib_checksum)
{
	NEED_MONITOR();
	const size_t total = 16u << 20;
	REQUIRE(spawn(&M, "big", false, "yes " WORD " | head -c 16777216", NULL) > 0);
	const char *pat = WORD "\n";
	size_t ll = strlen(pat);
	uint64_t want = 0xcbf29ce484222325ull, got = want;
	for (size_t off = 0; off < total;) {
		size_t k = total - off < ll ? total - off : ll;
		want = fnv(want, (const uint8_t *)pat, k);
		off += k;
	}
	static uint8_t chunk[IPC_STDIO_CHUNK];
	size_t n = 0;
	uint64_t off = 0, expect_off = 0;
	for (;;) {
		ssize_t r = fe_read(&M, "big", IPC_STREAM_STDOUT, chunk, sizeof(chunk), &off, true);
		if (r <= 0) {
			CHECK_EQ_INT(r, 0);
			break;
		}
		CHECK_EQ_INT(off, expect_off);
		expect_off += (uint64_t)r;
		got = fnv(got, chunk, (size_t)r);
		n += (size_t)r;
	}
	CHECK_EQ_INT(n, total);
	CHECK(got == want);
	CHECK_EQ_INT(fe_wait(&M, "big"), 0);
}

TEST(backpressure_bounds_memory)
{
	NEED_MONITOR();
	long before = rss_kb(M.pid);
	pid_t pid = spawn(&M, "flood", false, "exec head -c 67108864 /dev/zero", NULL);
	REQUIRE(pid > 0);
	/* The flow stopped: the monitor's buffer is full and so is the pipe. */
	bool stalled = stalled_in_write(pid, 1, TIMEOUT_MS);
	long during = rss_kb(M.pid);
	printf("# monitor RSS %ld kB before, %ld kB with a 64 MiB writer nobody reads\n", before,
	       during);
	CHECK(during > 0 && during - before < 3 * 1024);
#ifdef __SANITIZE_ADDRESS__
	/* ASan's shadow memory and quarantine (the monitor is built like this
	 * test) make an absolute bound meaningless: only the growth counts. */
	printf("# sanitizer build: the monitor's absolute RSS is not bounded here\n");
#else
	CHECK(during < 8 * 1024);
#endif
	CHECK_EQ_INT(proc_state(pid, NULL), 'S'); /* blocked in write(), not exited */
	/* Blocked in write(2) on its stdout (the monitor stopped reading the
	 * pipe), not sleeping anywhere else: /proc/PID/syscall names the
	 * syscall a blocked task is in, and its first argument. */
	CHECK(stalled);
	long nr = -1, fd = -1;
	proc_syscall(pid, &nr, &fd);
	CHECK_EQ_INT(nr, SYS_write);
	CHECK_EQ_INT(fd, 1);
	/* Reading resumes the flow: 4 MiB come through. */
	static uint8_t chunk[IPC_STDIO_CHUNK];
	size_t got = 0;
	while (got < (4u << 20)) {
		ssize_t r = fe_read(&M, "flood", IPC_STREAM_STDOUT, chunk, sizeof(chunk), NULL,
				    true);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	CHECK(got >= (4u << 20));
	CHECK_EQ_INT(ex_signal(&M, "flood", SIGKILL), IPC_OK);
	CHECK_EQ_INT(fe_wait(&M, "flood"), 128 + SIGKILL);
}

TEST(stdin_write_and_close)
{
	NEED_MONITOR();
	REQUIRE(spawn(&M, "cat", false, "exec cat", NULL) > 0);
	CHECK_EQ_INT(fe_write(&M, "cat", "ping\n"), 5);
	char buf[64];
	uint64_t off = 1;
	CHECK_EQ_INT(fe_read(&M, "cat", IPC_STREAM_STDOUT, buf, sizeof(buf), &off, true), 5);
	CHECK(memcmp(buf, "ping\n", 5) == 0);
	CHECK_EQ_INT(off, 0);
	/* a resize on a process without a terminal: UNAVAILABLE "no tty", as
	 * upstream tty_win_resize */
	struct ipc_tty_resize rs = { .exec_id = "cat", .rows = 1, .cols = 1 };
	CHECK_EQ_INT(fe_status(&M, IPC_TTY_WIN_RESIZE_REQ, &rs, sizeof(rs)), GRPC_UNAVAILABLE);
	struct ipc_exec_ref x = { .container_id = CID, .exec_id = "cat" };
	CHECK_EQ_INT(fe_simple(&M, IPC_CLOSE_STDIN_REQ, &x, sizeof(x)), IPC_OK);
	CHECK_EQ_INT(fe_write(&M, "cat", "late"), -1); /* stdin is closed: ERROR */
	CHECK_EQ_INT(ex_exited(&M, "cat"), 0);         /* cat saw EOF and exited */
	CHECK_EQ_INT(fe_read(&M, "cat", IPC_STREAM_STDOUT, buf, sizeof(buf), NULL, true), 0);
	CHECK_EQ_INT(fe_wait(&M, "cat"), 0);
	/* waited with its output drained: released, nothing finds it */
	CHECK(ex_released(&M, "cat", TIMEOUT_MS));
	CHECK_EQ_INT(fe_status(&M, IPC_TTY_WIN_RESIZE_REQ, &rs, sizeof(rs)), GRPC_NOT_FOUND);
	CHECK_EQ_INT(fe_read(&M, "cat", IPC_STREAM_STDOUT, buf, sizeof(buf), NULL, true), -1);
}

TEST(resize_on_a_terminal)
{
	NEED_MONITOR();
	/* stty runs only once the resize is answered (it waits for a line on
	 * its terminal, written after): a slow machine cannot reorder them. */
	REQUIRE(spawn(&M, "tty", true, "read x; stty size", NULL) > 0);
	struct ipc_tty_resize rs = { .exec_id = "tty", .rows = 33, .cols = 99 };
	CHECK_EQ_INT(fe_simple(&M, IPC_TTY_WIN_RESIZE_REQ, &rs, sizeof(rs)), IPC_OK);
	CHECK_EQ_INT(fe_write(&M, "tty", "go\n"), 3);
	char buf[256];
	CHECK(fe_read_all(&M, "tty", IPC_STREAM_STDOUT, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "33 99") != NULL);
	CHECK_EQ_INT(fe_read(&M, "tty", IPC_STREAM_STDERR, buf, sizeof(buf), NULL, true), 0);
	CHECK_EQ_INT(fe_wait(&M, "tty"), 0);
}

TEST(frontend_replaced_mid_stream_loses_nothing)
{
	NEED_MONITOR();
	const size_t total = 1u << 20;
	/* The shell keeps stderr open until its stdin closes, so the stderr
	 * read below is still pending when the front-end goes (if the
	 * process had exited, it would rightly be answered EOF first). */
	REQUIRE(spawn(&M, "re", false,
		      "yes " WORD " 2>/dev/null | head -c 1048576; read x || :", NULL) > 0);
	static uint8_t chunk[IPC_STDIO_CHUNK], all[1u << 20];
	size_t got = 0;
	uint64_t off;
	/* 1000 bytes acknowledged, 5000 not. A read answers what the writer
	 * has written so far (on a loaded machine, maybe less than asked):
	 * read until each count is reached. */
	ssize_t r;
	while (got < 1000) {
		r = fe_read(&M, "re", IPC_STREAM_STDOUT, chunk, 1000 - got, &off, true);
		REQUIRE(r > 0);
		CHECK_EQ_INT(off, got);
		memcpy(all + got, chunk, (size_t)r);
		got += (size_t)r;
	}
	for (size_t unacked = 0; unacked < 5000; unacked += (size_t)r) {
		r = fe_read(&M, "re", IPC_STREAM_STDOUT, chunk, 5000 - unacked, &off, false);
		REQUIRE(r > 0);
		CHECK_EQ_INT(off, 1000 + unacked);
	}
	/* A pending read on the old front-end is dropped with it. */
	struct ipc_stdio_read rq = { .exec_id = "re", .stream = IPC_STREAM_STDERR, .max_len = 10 };
	struct kerr e = { 0 };
	CHECK_EQ_INT(ipc_send_fd(M.fe, IPC_READ_STREAM_REQ, 999, &rq, sizeof(rq), -1, &e), 0);
	int old = dup(M.fe);
	REQUIRE(ex_new_frontend(&M) == 0);
	CHECK(closed_by_peer(old)); /* the old channel is gone */
	close(old);
	/* the new one starts at the first unacknowledged byte */
	r = fe_read(&M, "re", IPC_STREAM_STDOUT, chunk, sizeof(chunk), &off, true);
	CHECK_EQ_INT(off, 1000);
	while (r > 0 && got + (size_t)r <= total) {
		memcpy(all + got, chunk, (size_t)r);
		got += (size_t)r;
		if (got == total)
			break;
		r = fe_read(&M, "re", IPC_STREAM_STDOUT, chunk, sizeof(chunk), &off, true);
	}
	CHECK_EQ_INT(got, total);
	struct ipc_exec_ref x = { .container_id = CID, .exec_id = "re" };
	CHECK_EQ_INT(fe_simple(&M, IPC_CLOSE_STDIN_REQ, &x, sizeof(x)), IPC_OK);
	/* Both streams end here; the dropped stderr read (id 999) was never
	 * answered on this channel (fe_read takes only its own id). */
	CHECK_EQ_INT(fe_read(&M, "re", IPC_STREAM_STDOUT, chunk, sizeof(chunk), NULL, true), 0);
	CHECK_EQ_INT(fe_read(&M, "re", IPC_STREAM_STDERR, chunk, sizeof(chunk), NULL, true), 0);
	const char *pat = WORD "\n";
	size_t ll = strlen(pat);
	bool same = true;
	for (size_t i = 0; i < got && same; i++)
		same = all[i] == (uint8_t)pat[i % ll];
	CHECK(same);
	CHECK_EQ_INT(fe_wait(&M, "re"), 0);
}

/* The front-end's ACK carried by its next read (doc/ipc.md): applied
 * before the read, as a READ_STREAM_ACK. Attack: a compromised front-end
 * acknowledging past what it was sent, or behind what it acknowledged,
 * is ignored (the next front-end still gets those bytes); acknowledging
 * bytes it was sent and never passed on drops only output that went
 * through it anyway. */
TEST(read_carries_the_ack)
{
	NEED_MONITOR();
	REQUIRE(spawn(&M, "ca", false, "printf 0123456789abcdefghij", NULL) > 0);
	char buf[64];
	uint64_t off = 99;
	REQUIRE(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 5, &off, false, 0) == 5);
	CHECK(off == 0 && memcmp(buf, "01234", 5) == 0);
	/* Past what was sent (5): ignored; the read is answered. */
	CHECK_EQ_INT(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 5, &off, false, 1000), 5);
	CHECK(off == 5 && memcmp(buf, "56789", 5) == 0);
	/* Within (0, 10]: applied. */
	CHECK_EQ_INT(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 5, &off, false, 5), 5);
	CHECK_EQ_INT(off, 10);
	/* Behind what was acknowledged: ignored. */
	CHECK_EQ_INT(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 1, &off, false, 3), 1);
	CHECK_EQ_INT(off, 15);
	/* A new front-end starts at 5: neither 1000 nor 3 counted. */
	REQUIRE(ex_new_frontend(&M) == 0);
	CHECK_EQ_INT(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 3, &off, false, 0), 3);
	CHECK(off == 5 && memcmp(buf, "567", 3) == 0);
	/* Acknowledging the 3 bytes it just got and 2 it was never sent:
	 * ignored as a whole (10 > 8 sent); applied once 10 was sent. */
	CHECK_EQ_INT(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 2, &off, false, 10), 2);
	CHECK_EQ_INT(off, 8);
	CHECK_EQ_INT(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 2, &off, false, 10), 2);
	CHECK_EQ_INT(off, 10);
	REQUIRE(ex_new_frontend(&M) == 0);
	CHECK_EQ_INT(fe_read_carrying(&M, "ca", IPC_STREAM_STDOUT, buf, 64, &off, true, 0), 10);
	CHECK(off == 10 && memcmp(buf, "abcdefghij", 10) == 0);
	CHECK_EQ_INT(fe_read(&M, "ca", IPC_STREAM_STDOUT, buf, 64, NULL, true), 0);
	CHECK_EQ_INT(fe_wait(&M, "ca"), 0);
}

/* The front-end's read-ahead has up to IPC_STDIO_READS_MAX reads of one
 * stream in flight: the monitor queues them behind the first and answers
 * them in order. Attack: a compromised front-end asking one more gets
 * FAILED_PRECONDITION (the monitor holds IPC_STDIO_READS_MAX at most, so a
 * front-end cannot make it keep an unbounded list) and the stream goes on
 * unharmed; reads queued on a front-end that goes are dropped with it,
 * never answered on the next one, which starts at the first
 * unacknowledged byte. */
TEST(reads_queue_up_to_the_most_and_one_more_is_refused)
{
	NEED_MONITOR();
	REQUIRE(spawn(&M, "q2", false, "exec cat", NULL) > 0);
	struct ipc_stdio_read rq = { .exec_id = "q2", .stream = IPC_STREAM_STDOUT, .max_len = 3 };
	struct kerr e = { 0 };
	const uint32_t most = IPC_STDIO_READS_MAX, refused = 901 + most;
	for (uint32_t id = 901; id <= refused; id++)
		CHECK_EQ_INT(ipc_send_fd(M.fe, IPC_READ_STREAM_REQ, id, &rq, sizeof(rq), -1, &e),
			     0);
	struct ipc_msg m;
	REQUIRE(recv_msg(M.fe, &m) == 1);
	struct kerr failure = { 0 };
	CHECK_EQ_INT(m.hdr.id, refused);
	CHECK(ipc_error_decode(&m, &failure) && kerr_status(&failure) == GRPC_FAILED_PRECONDITION);
	ipc_msg_release(&m);
	static const char text[] = "abcdefghijklmnopqrstuvwxyz";
	char first[sizeof(text)] = { 0 };
	REQUIRE(3 * most + 3 < sizeof(text));
	memcpy(first, text, 3 * most); /* as much as the queued reads take */
	CHECK_EQ_INT(fe_write(&M, "q2", first), (ssize_t)(3 * most));
	for (uint32_t i = 0; i < most; i++) {
		REQUIRE(recv_msg(M.fe, &m) == 1);
		struct ipc_stdio_data h = { 0 };
		memcpy(&h, m.payload, sizeof(h));
		CHECK_EQ_INT(m.hdr.id, 901 + i);
		CHECK_EQ_INT(m.hdr.type, IPC_READ_STREAM_REPLY);
		CHECK_EQ_INT(h.offset, 3 * i);
		CHECK(m.len == sizeof(h) + 3 && memcmp(m.payload + sizeof(h), text + 3 * i, 3) == 0);
		ipc_msg_release(&m);
	}
	/* As many queued again, nothing to answer them with; the front-end
	 * goes, and the rest of the text comes. */
	for (uint32_t id = 1001; id < 1001 + most; id++)
		CHECK_EQ_INT(ipc_send_fd(M.fe, IPC_READ_STREAM_REQ, id, &rq, sizeof(rq), -1, &e),
			     0);
	REQUIRE(ex_new_frontend(&M) == 0);
	CHECK_EQ_INT(fe_write(&M, "q2", text + 3 * most), (ssize_t)(sizeof(text) - 1 - 3 * most));
	size_t total = sizeof(text) - 1;
	char buf[64], all[sizeof(text)];
	uint64_t off = 99;
	size_t got = 0;
	while (got < total) { /* what cat echoed so far, each time */
		ssize_t n = fe_read(&M, "q2", IPC_STREAM_STDOUT, buf, total - got, &off, true);
		REQUIRE(n > 0);
		CHECK_EQ_INT(off, got);
		memcpy(all + got, buf, (size_t)n);
		got += (size_t)n;
	}
	CHECK(memcmp(all, text, total) == 0);
	struct ipc_exec_ref x = { .container_id = CID, .exec_id = "q2" };
	CHECK_EQ_INT(fe_simple(&M, IPC_CLOSE_STDIN_REQ, &x, sizeof(x)), IPC_OK);
	CHECK_EQ_INT(ex_exited(&M, "q2"), 0);
	CHECK_EQ_INT(fe_read(&M, "q2", IPC_STREAM_STDOUT, buf, sizeof(buf), NULL, true), 0);
	CHECK_EQ_INT(fe_wait(&M, "q2"), 0);
}

/* Read a pid the process printed first on stderr. */
static pid_t read_pid(struct mon *t, const char *exec_id)
{
	char buf[32];
	ssize_t n = fe_read(t, exec_id, IPC_STREAM_STDERR, buf, sizeof(buf) - 1, NULL, true);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

/* kubectl exec / exec probes: the shim calls WaitProcess only after both
 * streams hit EOF; a background child holding the pipes must not stall
 * them, and nothing the exec wrote before exiting may be lost, even when
 * it wrote more than the monitor buffers (1 MiB) before anyone read. */
TEST(background_child_does_not_hold_eof)
{
	if (!have_root)
		SKIP("needs root");
	if (M.pid <= 0)
		SKIP("no monitor: start_and_confinement failed");
	REQUIRE(spawn(&M, "bg", false,
		      "sleep 1000 & echo $! >&2; sleep 0.3; head -c 1078576 /dev/zero | tr '\\0' x; "
		      "printf END",
		      NULL) > 0);
	pid_t child = read_pid(&M, "bg");
	CHECK(child > 0);
	/* Nobody reads stdout until the exec has exited with 1 MiB + 30000
	 * bytes written: the buffer is full, the rest waits in the pipe. */
	CHECK_EQ_INT(ex_exited(&M, "bg"), 0);
	static uint8_t chunk[IPC_STDIO_CHUNK];
	size_t got = 0;
	bool xs = true, end = false;
	for (;;) {
		ssize_t r = fe_read(&M, "bg", IPC_STREAM_STDOUT, chunk, sizeof(chunk), NULL, true);
		if (r <= 0) {
			CHECK_EQ_INT(r, 0);
			break;
		}
		for (ssize_t i = 0; i < r; i++)
			if (got + (size_t)i < 1078576)
				xs = xs && chunk[i] == 'x';
		if (got + (size_t)r == 1078576 + 3)
			end = memcmp(chunk + r - 3, "END", 3) == 0;
		got += (size_t)r;
	}
	CHECK_EQ_INT(got, 1078576 + 3);
	CHECK(xs && end);
	char buf[16];
	CHECK_EQ_INT(fe_read(&M, "bg", IPC_STREAM_STDERR, buf, sizeof(buf), NULL, true), 0);
	CHECK_EQ_INT(fe_wait(&M, "bg"), 0);
	CHECK(ex_released(&M, "bg", TIMEOUT_MS));
	CHECK(child > 0 && kill(child, 0) == 0); /* still running, and it did not hold us */
	if (child > 0)
		kill(child, SIGKILL);
}

/* WaitProcess without reading: the output is dropped after
 * MON_DRAIN_IDLE_MS, and the exec released. */
TEST(abandoned_output_is_released)
{
	if (!have_root)
		SKIP("needs root");
	if (M.pid <= 0)
		SKIP("no monitor: start_and_confinement failed");
	REQUIRE(spawn(&M, "ab", false, "head -c 200000 /dev/zero", NULL) > 0);
	CHECK_EQ_INT(fe_wait(&M, "ab"), 0);
	CHECK(!has_release(&M, "ab"));
	CHECK(ex_released(&M, "ab", MON_DRAIN_IDLE_MS_TEST + TIMEOUT_MS));
	char buf[16];
	CHECK_EQ_INT(fe_read(&M, "ab", IPC_STREAM_STDOUT, buf, sizeof(buf), NULL, true), -1);
}

TEST(bad_messages_close_only_that_channel)
{
	NEED_MONITOR();
	REQUIRE(spawn(&M, "b", false, "printf still-here", NULL) > 0);
	/* not in the front-end's table */
	struct ipc_ping p = { 1 };
	struct kerr e = { 0 };
	CHECK_EQ_INT(ipc_send_fd(M.fe, IPC_PING, 1, &p, sizeof(p), -1, &e), 0);
	CHECK(closed_by_peer(M.fe));
	/* the executor channel still works; a new front-end too */
	REQUIRE(ex_new_frontend(&M) == 0);
	/* a malformed payload, crafted by hand */
	struct {
		struct ipc_hdr h;
		struct ipc_stdio_read r;
	} bad = { { IPC_READ_STREAM_REQ, sizeof(struct ipc_stdio_read), 5, 0 },
		  { .exec_id = "b", .stream = 7, .max_len = 10 } };
	CHECK(send(M.fe, &bad, sizeof(bad), 0) == sizeof(bad));
	CHECK(closed_by_peer(M.fe));
	REQUIRE(ex_new_frontend(&M) == 0);
	/* a request without an id */
	struct ipc_exec_ref x = { .container_id = CID, .exec_id = "b" };
	CHECK_EQ_INT(ipc_send_fd(M.fe, IPC_WAIT_PROCESS_REQ, 0, &x, sizeof(x), -1, &e), 0);
	CHECK(closed_by_peer(M.fe));
	REQUIRE(ex_new_frontend(&M) == 0);
	char buf[64];
	/* a wrong container id: INVALID_ARGUMENT (upstream "Invalid container
	 * id"), channel kept */
	struct ipc_exec_ref y = { .container_id = "other", .exec_id = "b" };
	CHECK_EQ_INT(fe_status(&M, IPC_WAIT_PROCESS_REQ, &y, sizeof(y)), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_INT(fe_read_all(&M, "b", IPC_STREAM_STDOUT, buf, sizeof(buf)), 10);
	CHECK_EQ_STR(buf, "still-here");
	CHECK_EQ_INT(fe_wait(&M, "b"), 0);
}

TEST(shutdown_after_kill)
{
	NEED_MONITOR();
	/* init ("") still sleeps: the executor kills, then shuts down. */
	struct kerr e = { 0 };
	CHECK_EQ_INT(ipc_send_fd(M.ex, IPC_MON_SHUTDOWN, 0, NULL, 0, -1, &e), 0);
	int st;
	CHECK(!exited_within(M.pid, 300, &st)); /* init still runs */
	CHECK_EQ_INT(ex_signal(&M, "", SIGTERM), IPC_OK);
	CHECK_EQ_INT(ex_exited(&M, ""), 128 + SIGTERM);
	/* Every container process is reaped; the launcher still runs (as
	 * L does until the executor closes its channel): the monitor stays,
	 * or L and its workers would outlive the container's removal. */
	CHECK(!exited_within(M.pid, 300, &st));
	CHECK_EQ_INT(kill(M.lpid, 0), 0);
	close(M.ctl); /* the launcher exits */
	M.ctl = -1;
	CHECK(exited_within(M.pid, TIMEOUT_MS, &st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (WIFEXITED(st) || WIFSIGNALED(st))
		M.pid = 0;
	/* reaped by the monitor before it exited, not a zombie left behind */
	CHECK(kill(M.lpid, 0) < 0 && errno == ESRCH);
	mon_kill(&M);
}

/* The Kata runtime names the init by the container id (CreateContainer's
 * exec_id = container id, kata_agent.go createContainer) in every later
 * call; "" names it too. */
TEST(init_named_by_container_id)
{
	if (!have_root)
		SKIP("needs root");
	struct mon t;
	REQUIRE(mon_start(&t) == 0);
	REQUIRE(spawn(&t, "", false, "read x; printf got-$x; printf err-$x >&2; exit 7", NULL) > 0);
	CHECK_EQ_INT(fe_write(&t, CID, "abc\n"), 4);
	char buf[64];
	CHECK_EQ_INT(fe_read_all(&t, CID, IPC_STREAM_STDOUT, buf, sizeof(buf)), 7);
	CHECK_EQ_STR(buf, "got-abc");
	CHECK_EQ_INT(fe_read_all(&t, "", IPC_STREAM_STDERR, buf, sizeof(buf)), 7);
	CHECK_EQ_STR(buf, "err-abc");
	CHECK_EQ_INT(fe_wait(&t, CID), 7);
	/* the init is not released: the runtime's stop waits once more */
	CHECK_EQ_INT(fe_wait(&t, ""), 7);
	CHECK_EQ_INT(fe_wait(&t, CID), 7);
	CHECK_EQ_INT(ex_signal(&t, CID, SIGTERM), IPC_OK); /* exited, unwaited-or-not: OK */
	/* an exec may not take the init's name */
	char msg[IPC_ERROR_MSG_MAX];
	CHECK_EQ_INT(spawn(&t, CID, false, "true", msg), -1);
	CHECK(strstr(msg, "names the container's init") != NULL);
	mon_kill(&t);
}

/* Execs as the runtime runs them (ExecProcess, read both streams to EOF,
 * WaitProcess): each is released after its wait, so the monitor's fds are
 * back where they were. */
TEST(execs_release_every_fd)
{
	if (!have_root)
		SKIP("needs root");
	struct mon t;
	REQUIRE(mon_start(&t) == 0);
	REQUIRE(spawn(&t, "", false, "exec sleep 100", NULL) > 0);
	int base = tu_fd_count(t.pid);
	CHECK(base > 0);
	char buf[64], id[32];
	bool all = true;
	for (int i = 0; i < 40 && all; i++) {
		snprintf(id, sizeof(id), "x%d", i);
		all = spawn(&t, id, i % 4 == 3, "printf out; printf err >&2", NULL) > 0 &&
		      fe_read_all(&t, id, IPC_STREAM_STDOUT, buf, sizeof(buf)) >= 3 &&
		      fe_read_all(&t, id, IPC_STREAM_STDERR, buf, sizeof(buf)) >= 0 &&
		      fe_wait(&t, id) == 0 && ex_released(&t, id, TIMEOUT_MS);
		if (!all)
			printf("# exec %s failed\n", id);
	}
	CHECK(all);
	CHECK_EQ_INT(tu_fd_count(t.pid), base);
	CHECK_EQ_INT(fe_wait(&t, "x0"), -1); /* NOT_FOUND once released */
	mon_kill(&t);
}

TEST(executor_violation_keeps_serving)
{
	if (!have_root)
		SKIP("needs root");
	struct mon t;
	REQUIRE(mon_start(&t) == 0);
	REQUIRE(spawn(&t, "", false, "read x; printf got-$x", NULL) > 0);
	/* the executor may not send front-end requests */
	struct ipc_exec_ref x = { .container_id = CID, .exec_id = "" };
	struct kerr e = { 0 };
	CHECK_EQ_INT(ipc_send_fd(t.ex, IPC_WAIT_PROCESS_REQ, 1, &x, sizeof(x), -1, &e), 0);
	CHECK(closed_by_peer(t.ex));
	close(t.ex);
	t.ex = -1;
	/* the container is still served */
	CHECK_EQ_INT(fe_write(&t, "", "abc\n"), 4);
	char buf[64];
	CHECK_EQ_INT(fe_read_all(&t, "", IPC_STREAM_STDOUT, buf, sizeof(buf)), 7);
	CHECK_EQ_STR(buf, "got-abc");
	CHECK_EQ_INT(fe_wait(&t, ""), 0);
	/* no executor, no front-end, nothing runs: the monitor exits */
	close(t.ctl);
	t.ctl = -1;
	close(t.fe);
	t.fe = -1;
	int st;
	CHECK(exited_within(t.pid, TIMEOUT_MS, &st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	t.pid = 0;
	mon_kill(&t);
}

/* MON_PASSFD_ATTACH of fd as stream of exec_id: GRPC_OK, the ERROR's
 * status, or -1. */
static int fe_attach(struct mon *t, const char *exec_id, unsigned stream, int fd)
{
	struct ipc_passfd_attach q = { .stream = stream };
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", exec_id);
	struct kerr e = { 0 };
	uint32_t id = t->next_id++;
	struct ipc_msg m;
	if (ipc_send_fd(t->fe, IPC_MON_PASSFD_ATTACH, id, &q, sizeof(q), fd, &e) < 0 ||
	    recv_msg(t->fe, &m) != 1)
		return -1;
	int r = m.hdr.id != id ? -1 : m.hdr.type == IPC_OK ? GRPC_OK : -1;
	if (m.hdr.id == id && m.hdr.type == IPC_ERROR) {
		struct ipc_error ie;
		memcpy(&ie, m.payload, sizeof(ie));
		r = (int)ie.grpc_status;
	}
	ipc_msg_release(&m);
	return r;
}

/* A compromised front-end hands over what is not a host stream; then a
 * real one (a unix stream pair standing for the vsock connection) carries
 * stdin and stdout, WaitProcess waits for the output, ReadStdout is EOF. */
TEST(passfd_streams_and_what_is_refused)
{
	if (!have_root)
		SKIP("needs root");
	int pp[2], sq[2], out[2], in[2];
	REQUIRE(pipe(pp) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sq) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) == 0);
	int lst = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un auto_name = { .sun_family = AF_UNIX };
	REQUIRE(lst >= 0 && bind(lst, (struct sockaddr *)&auto_name, sizeof(sa_family_t)) == 0 &&
		listen(lst, 1) == 0);
	struct mon t;
	REQUIRE(mon_start(&t) == 0);
	if (spawn(&t, "pf", false, "read x; printf out-$x; exit 5", NULL) <= 0) {
		mon_kill(&t);
		REQUIRE(false);
	}
	/* not a host stream: a pipe, an IPC-like channel, a listener */
	CHECK_EQ_INT(fe_attach(&t, "pf", IPC_STREAM_STDOUT, pp[1]), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_INT(fe_attach(&t, "pf", IPC_STREAM_STDOUT, sq[0]), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_INT(fe_attach(&t, "pf", IPC_PASSFD_STDIN, lst), GRPC_INVALID_ARGUMENT);
	/* a process this monitor does not have */
	CHECK_EQ_INT(fe_attach(&t, "nope", IPC_STREAM_STDOUT, out[0]), GRPC_NOT_FOUND);
	CHECK_EQ_INT(fe_attach(&t, "pf", IPC_STREAM_STDOUT, out[0]), GRPC_OK);
	/* one stream per stdio */
	CHECK_EQ_INT(fe_attach(&t, "pf", IPC_STREAM_STDOUT, sq[1]), GRPC_ALREADY_EXISTS);
	CHECK_EQ_INT(fe_attach(&t, "pf", IPC_PASSFD_STDIN, in[0]), GRPC_OK);
	/* the channel survived every refusal (the OKs above came on it);
	 * the bytes go to the host's stream: nothing to read here */
	char buf[64];
	CHECK_EQ_INT(fe_read(&t, "pf", IPC_STREAM_STDOUT, buf, sizeof(buf), NULL, true), 0);
	close(pp[0]);
	close(pp[1]);
	close(sq[0]);
	close(sq[1]);
	close(lst);
	close(out[0]);
	close(in[0]);
	CHECK(write(in[1], "abc\n", 4) == 4);
	shutdown(in[1], SHUT_WR);
	CHECK_EQ_INT(fe_wait(&t, "pf"), 5);
	/* answered after the output reached the stream: it is all there, and
	 * the stream ends */
	ssize_t n = read(out[1], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(buf, "out-abc");
	CHECK_EQ_INT(read(out[1], buf, sizeof(buf)), 0);
	close(out[1]);
	close(in[1]);
	mon_kill(&t);
}

int main(void)
{
	log_init("test", STDERR_FILENO, LOG_LVL_CRITICAL);
	signal(SIGPIPE, SIG_IGN);
	int r = tap_run();
	mon_kill(&M);
	return r;
}
