/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iptables.c - GetIPTables / SetIPTables: one confined run of the guest's
 * iptables tool per request, driven by the executor's loop (iptables.h).
 *
 * A run ends when its stdout and stderr are closed and it is reaped; the
 * answer goes then. At the deadline, or when stdout outgrows what an
 * answer carries, the run is answered at once and its group killed; its
 * record stays until the child is reaped.
 */
#include "iptables.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "libc_compat.h"
#include "answer.h"
#include "caps.h"
#include "grpc_status.h"
#include "log.h"
#include "worker_ns.h"

enum ipt_tool { IPT_SAVE, IPT_RESTORE, IP6T_SAVE, IP6T_RESTORE, IPT_TOOLS };

static const char *const tool_names[IPT_TOOLS] = { "iptables-save", "iptables-restore",
						   "ip6tables-save", "ip6tables-restore" };

struct ipt_run {
	struct executor *x;
	uint32_t fe_id, fe_gen, reply;
	const char *name;
	pid_t pid;
	int in, out, err; /* our ends; -1 once closed */
	uint8_t *data;    /* SetIPTables data, written to stdin */
	size_t data_len, data_off;
	uint8_t *buf; /* stdout */
	size_t len, cap;
	char emsg[IPT_STDERR_KEEP + 1];
	size_t elen;
	struct loop_timer *timer;
	bool answered, reaped;
	int status;
	struct ipt_run *next;
};

static struct ipt_run *runs;
static unsigned n_runs;

/* ---- the tool and its child ---- */

/* The tool's path: found once, then kept (the guest image does not
 * change under the agent). NULL when none of IPT_DIRS has it. */
static const char *tool_path(enum ipt_tool t)
{
	static char found[IPT_TOOLS][64];
	static const char *const dirs[] = { IPT_DIRS };
	if (found[t][0])
		return found[t];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char p[64];
		snprintf(p, sizeof(p), "%s/%s", dirs[i], tool_names[t]);
		if (access(p, X_OK) == 0)
			return memcpy(found[t], p, sizeof(p));
	}
	return NULL;
}

static int no_tool(enum ipt_tool t, const char *rpc, struct kerr *err)
{
	static const char *const dirs[] = { IPT_DIRS };
	char looked[160] = "";
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		snprintf(looked + strlen(looked), sizeof(looked) - strlen(looked), "%s%s/%s",
			 i ? ", " : "", dirs[i], tool_names[t]);
	return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
			       "%s: no %s in this guest (looked at %s)", rpc, tool_names[t],
			       looked);
}

/* In the child, for a restore (iptables-legacy-restore opens the lock
 * O_RDONLY|O_CREAT and flocks it; the nft tools and the saves take none):
 * the guest's own xtables lock, made while the tree is still writable and
 * readable by group root, the tool's group, so the tool waits on the lock
 * every other iptables user of the guest takes. An empty file: group
 * root gains the right to take the lock, nothing else. On a failure the
 * tool says what it could not open. */
static void ipt_lock_prepare(void)
{
	int fd = open(IPT_LOCK_FILE, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 && st.st_gid == 0 &&
	    !(st.st_mode & S_IRGRP))
		fchmod(fd, (st.st_mode & 07777) | S_IRGRP);
	close(fd);
}

/* What the tool sees of the hidden /dev and /run (worker_ns.h): /dev/null,
 * which shells and tools open for their output, and, for a restore, the
 * guest's xtables lock, so that the tool waits on the lock every other
 * iptables user of the guest takes. */
static const char *const ipt_kept[] = { "/dev/null", IPT_LOCK_FILE };

/* In the child: uid IPT_UID, gid IPT_GID, no supplementary group, and
 * CAP_NET_ADMIN and CAP_NET_RAW only, ambient so that execve keeps them
 * for a uid that is not 0; the bounding set holds those two alone. */
static int ipt_confine(struct kerr *err)
{
	const int keep_caps[] = { CAP_NET_ADMIN, CAP_NET_RAW };
	const uint64_t keep = (1ull << CAP_NET_ADMIN) | (1ull << CAP_NET_RAW);
	for (int c = 0, n = caps_count(); c < n; c++)
		if (!(keep & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return kerr_set(err, -errno, "PR_CAPBSET_DROP %d: %s", c, strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kerr_set(err, -errno, "clear the ambient set: %s", strerror(errno));
	if (setgroups(0, NULL) < 0 || setresgid(IPT_GID, IPT_GID, IPT_GID) < 0)
		return kerr_set(err, -errno, "gid %d, no groups: %s", IPT_GID, strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setresuid(IPT_UID, IPT_UID, IPT_UID) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "uid %d: %s", IPT_UID, strerror(errno));
	if (caps_set(&(struct caps_sets){ .effective = keep,
					  .permitted = keep,
					  .inheritable = keep }) < 0)
		return kerr_set(err, -errno, "capset: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)keep_caps[i], 0, 0) <
		    0)
			return kerr_set(err, -errno, "raise ambient %d: %s", keep_caps[i],
					strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}

static __attribute__((noreturn)) void ipt_child(pid_t executor, const char *path, const char *name,
						bool restore, const int fds[3])
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	loop_signals_unblock();
	signal(SIGPIPE, SIG_DFL); /* the executor ignores it; exec would keep that */
	if (restore)
		ipt_lock_prepare();
	struct kerr e = { 0 };
	if (worker_ns_readonly(ipt_kept, restore ? 2 : 1, &e) < 0 || ipt_confine(&e) < 0) {
		dprintf(2, "%s: %s\n", name, e.msg);
		_exit(126);
	}
	/* the uid change cleared it: again, then whether the executor is
	 * still there to have sent it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != executor)
		_exit(126);
	char *argv[] = { (char *)name, restore ? "--wait" : NULL, IPT_RESTORE_WAIT_S, NULL };
	char *envp[] = { NULL };
	execve(path, argv, envp);
	dprintf(2, "exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

/* ---- a run's life ---- */

static void close_end(struct ipt_run *r, int *fd)
{
	if (*fd < 0)
		return;
	loop_del(r->x->loop, *fd);
	close(*fd);
	*fd = -1;
}

static void run_free(struct ipt_run *r)
{
	for (struct ipt_run **pp = &runs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	n_runs--;
	free(r->data);
	free(r->buf);
	free(r);
}

/* Answered and reaped: nothing refers to it any more. */
static void run_maybe_free(struct ipt_run *r)
{
	if (r->answered && r->reaped)
		run_free(r);
}

static void run_answer_error(struct ipt_run *r, const struct kerr *e)
{
	log_warn("%s", e->msg);
	answer_fe_error(r->x, r->fe_gen, r->fe_id, e);
}

/* Answer now with e, kill what still runs, stop listening. */
static void run_abort(struct ipt_run *r, const struct kerr *e)
{
	if (r->timer)
		loop_timer_cancel(r->x->loop, r->timer);
	r->timer = NULL;
	/* Once the tool is reaped, an output still open means a process of
	 * its group holds it, so the group id is still in use. */
	if (!r->reaped || r->out >= 0 || r->err >= 0)
		kill(-r->pid, SIGKILL);
	close_end(r, &r->in);
	close_end(r, &r->out);
	close_end(r, &r->err);
	r->answered = true;
	run_answer_error(r, e);
	run_maybe_free(r);
}

static void run_answer_data(struct ipt_run *r)
{
	Grpc__GetIPTablesResponse get = GRPC__GET_IPTABLES_RESPONSE__INIT;
	Grpc__SetIPTablesResponse set = GRPC__SET_IPTABLES_RESPONSE__INIT;
	ProtobufCMessage *msg = r->reply == IPC_GET_IPTABLES_REPLY ? &get.base : &set.base;
	get.data = set.data = (ProtobufCBinaryData){ .len = r->len, .data = r->buf };
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *p = malloc(len ? len : 1);
	if (!p) {
		struct kerr e = { 0 };
		kerr_set(&e, -ENOMEM, "%s: out of memory for the answer", r->name);
		run_answer_error(r, &e);
		return;
	}
	protobuf_c_message_pack(msg, p);
	answer_fe(r->x, r->fe_gen, r->reply, r->fe_id, p, len, -1);
	free(p);
}

/* Both outputs closed and the child reaped: answer from its status. */
static void run_maybe_done(struct ipt_run *r)
{
	if (r->answered || r->out >= 0 || r->err >= 0 || !r->reaped)
		return;
	if (r->timer)
		loop_timer_cancel(r->x->loop, r->timer);
	r->timer = NULL;
	close_end(r, &r->in);
	r->answered = true;
	int st = r->status;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		log_info("%s done (%zu bytes out)", r->name, r->len);
		run_answer_data(r);
	} else {
		while (r->elen && (r->emsg[r->elen - 1] == '\n' || r->emsg[r->elen - 1] == ' '))
			r->elen--;
		r->emsg[r->elen] = '\0';
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_INTERNAL, -EIO, "%s failed (%s %d): %s", r->name,
				WIFEXITED(st) ? "exit status" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), r->emsg);
		run_answer_error(r, &e);
	}
	run_free(r);
}

static void on_deadline(struct loop *l, void *data)
{
	struct ipt_run *r = data;
	r->timer = NULL;
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_DEADLINE_EXCEEDED, -ETIME,
			"%s (pid %d) still running after %d ms: killed", r->name, (int)r->pid,
			IPT_DEADLINE_MS);
	run_abort(r, &e);
}

/* read(2) from *end into p: the bytes read; 0 when there is nothing to
 * take now, or at EOF or an error, where *end is closed and the run may
 * end (r is then gone). */
static size_t read_end(struct ipt_run *r, int *end, void *p, size_t len)
{
	ssize_t n = read(*end, p, len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		close_end(r, end);
		run_maybe_done(r);
		return 0;
	}
	return (size_t)n;
}

/* stdout: kept whole, up to what an answer carries. */
static void on_stdout(struct loop *l, int fd, uint32_t events, void *data)
{
	struct ipt_run *r = data;
	if (r->cap - r->len < 65536 && r->cap < IPC_IPTABLES_DATA_MAX + 1) {
		size_t cap = r->cap ? r->cap * 2 : 65536;
		cap = cap > IPC_IPTABLES_DATA_MAX + 1 ? IPC_IPTABLES_DATA_MAX + 1 : cap;
		uint8_t *b = realloc(r->buf, cap);
		if (!b) {
			struct kerr e = { 0 };
			kerr_set(&e, -ENOMEM, "%s: out of memory for its output", r->name);
			run_abort(r, &e);
			return;
		}
		r->buf = b;
		r->cap = cap;
	}
	size_t n = read_end(r, &r->out, r->buf + r->len, r->cap - r->len);
	if (!n)
		return;
	r->len += n;
	if (r->len > IPC_IPTABLES_DATA_MAX) {
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -E2BIG,
				"%s: its output is larger than an answer carries (%u bytes): "
				"killed",
				r->name, IPC_IPTABLES_DATA_MAX);
		run_abort(r, &e);
	}
}

/* stderr: the first IPT_STDERR_KEEP bytes for the error, the rest read
 * and dropped (the tool must never block on it). */
static void on_stderr(struct loop *l, int fd, uint32_t events, void *data)
{
	struct ipt_run *r = data;
	char tmp[4096];
	size_t n = read_end(r, &r->err, tmp, sizeof(tmp));
	if (!n)
		return;
	size_t keep = IPT_STDERR_KEEP - r->elen < n ? IPT_STDERR_KEEP - r->elen : n;
	memcpy(r->emsg + r->elen, tmp, keep);
	r->elen += keep;
}

/* stdin: the rule set, then EOF. A tool that exits without reading it
 * closes the pipe (EPIPE): its exit status says why. */
static void on_stdin(struct loop *l, int fd, uint32_t events, void *data)
{
	struct ipt_run *r = data;
	size_t left = r->data_len - r->data_off;
	ssize_t n = left ? write(fd, r->data + r->data_off, left < 65536 ? left : 65536) : 0;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		r->data_off += (size_t)n;
	if (n < 0 || r->data_off == r->data_len)
		close_end(r, &r->in);
}

/* ---- start ---- */

/* pipes[0] stdin, [1] stdout, [2] stderr: the child's end at [i][0]. */
static int make_pipes(int p[3][2], struct kerr *err)
{
	for (int i = 0; i < 3; i++)
		p[i][0] = p[i][1] = -1;
	int r = 0;
	for (int i = 0; i < 3 && !r; i++) {
		int q[2];
		if (pipe2(q, O_CLOEXEC) < 0) {
			r = kerr_set(err, -errno, "pipe: %s", strerror(errno));
			break;
		}
		p[i][0] = i == 0 ? q[0] : q[1];
		p[i][1] = i == 0 ? q[1] : q[0];
		if (fcntl(p[i][1], F_SETFL, O_NONBLOCK) < 0)
			r = kerr_set(err, -errno, "O_NONBLOCK: %s", strerror(errno));
	}
	return r;
}

static void close_pipes(int p[3][2], int side)
{
	for (int i = 0; i < 3; i++)
		if (p[i][side] >= 0) {
			close(p[i][side]);
			p[i][side] = -1;
		}
}

static int watch(struct ipt_run *r, struct kerr *err)
{
	struct loop *l = r->x->loop;
	if (loop_add(l, r->out, EPOLLIN, on_stdout, r, err) < 0 ||
	    loop_add(l, r->err, EPOLLIN, on_stderr, r, err) < 0)
		return err->code;
	if (r->data_len == 0) {
		close(r->in);
		r->in = -1;
	} else if (loop_add(l, r->in, EPOLLOUT, on_stdin, r, err) < 0) {
		return err->code;
	}
	r->timer = loop_timer_add(l, loop_now_ns() + (uint64_t)IPT_DEADLINE_MS * 1000000ull,
				  on_deadline, r);
	return r->timer ? 0 : kerr_set(err, -ENOMEM, "out of memory");
}

/* Fork the child for r; on success r is in the list and owns our ends. */
static int spawn(struct ipt_run *r, const char *path, bool restore, struct kerr *err)
{
	int p[3][2];
	int rc = make_pipes(p, err);
	if (rc < 0) {
		close_pipes(p, 0);
		close_pipes(p, 1);
		return rc;
	}
	pid_t self = getpid(), pid = fork();
	if (pid == 0)
		ipt_child(self, path, r->name, restore, (int[3]){ p[0][0], p[1][0], p[2][0] });
	int e = errno;
	close_pipes(p, 0);
	if (pid > 0)
		setpgid(pid, pid); /* also here: a kill(-pid) may come first */
	if (pid < 0) {
		close_pipes(p, 1);
		return kerr_set(err, -e, "fork: %s", strerror(e));
	}
	r->pid = pid;
	r->in = p[0][1];
	r->out = p[1][1];
	r->err = p[2][1];
	r->next = runs;
	runs = r;
	n_runs++;
	if (watch(r, err) < 0) {
		run_abort(r, err);
		return 1; /* answered */
	}
	log_info("%s started (pid %d)", r->name, (int)pid);
	return 0;
}

/* Start tool t for the front-end's request m; data (may be NULL) is copied.
 * 1 when the run has answered already, 0 when it will. */
static int ipt_start(struct executor *x, const struct ipc_msg *m, enum ipt_tool t,
		     const ProtobufCBinaryData *data, uint32_t reply, const char *rpc,
		     struct kerr *err)
{
	if (n_runs >= IPT_MAX_RUNS)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -EBUSY,
				       "%s: %u iptables runs already going", rpc, IPT_MAX_RUNS);
	const char *path = tool_path(t);
	if (!path)
		return no_tool(t, rpc, err);
	struct ipt_run *r = malloc(sizeof(*r));
	if (!r)
		return kerr_set(err, -ENOMEM, "%s: out of memory", rpc);
	*r = (struct ipt_run){ .x = x,
			       .fe_id = m->hdr.id,
			       .fe_gen = x->fe_generation,
			       .reply = reply,
			       .name = tool_names[t],
			       .in = -1,
			       .out = -1,
			       .err = -1 };
	if (data && data->len) {
		if (!(r->data = malloc(data->len))) {
			free(r);
			return kerr_set(err, -ENOMEM, "%s: out of memory", rpc);
		}
		memcpy(r->data, data->data, data->len);
		r->data_len = data->len;
	}
	int rc = spawn(r, path, t == IPT_RESTORE || t == IP6T_RESTORE, err);
	if (rc < 0) {
		free(r->data);
		free(r);
		kerr_prefix(err, "%s: %s", rpc, tool_names[t]);
	}
	return rc;
}

int on_get_iptables(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	const Grpc__GetIPTablesRequest *q = m->in;
	struct kerr e = { 0 };
	if (ipt_start(data, m, q->is_ipv6 ? IP6T_SAVE : IPT_SAVE, NULL, IPC_GET_IPTABLES_REPLY,
		      "GetIPTables", &e) < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	return 0;
}

int on_set_iptables(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	const Grpc__SetIPTablesRequest *q = m->in;
	struct kerr e = { 0 };
	/* checked again: the front-end may be compromised */
	if (q->data.len > IPC_IPTABLES_DATA_MAX) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -E2BIG,
				"SetIPTables: %zu bytes of data (at most %u)", q->data.len,
				IPC_IPTABLES_DATA_MAX);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (ipt_start(data, m, q->is_ipv6 ? IP6T_RESTORE : IPT_RESTORE, &q->data,
		      IPC_SET_IPTABLES_REPLY, "SetIPTables", &e) < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	return 0;
}

bool iptables_reaped(struct executor *x, pid_t pid, int status)
{
	(void)x;
	for (struct ipt_run *r = runs; r; r = r->next) {
		if (r->pid != pid || r->reaped)
			continue;
		r->reaped = true;
		r->status = status;
		if (r->answered)
			run_maybe_free(r);
		else
			run_maybe_done(r);
		return true;
	}
	return false;
}
