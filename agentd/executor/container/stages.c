/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stages.c - the launcher's side and the two setup stages of a
 * container process (doc/containers.md "Who clones what", "Setup order").
 *
 * Stage 1 is cloned by the launcher in the guest's pid namespace, where no
 * container can see it. It closes every fd it does not need (closes: a
 * process can be looked into before it execs), joins the namespaces and,
 * for an exec, drops to the process's credentials; only then does it clone
 * stage 2 into the container's pid namespace, hand its pid and pidfd to the
 * launcher and exit. So what a container can see from the first instant of
 * stage 2 holds its stdio and the sync socket, nothing of the launcher, and
 * for an exec no more privilege than the process it becomes. Both stages
 * are not dumpable (inherited from the launcher): no ptrace, no
 * /proc/PID/fd, no pidfd_getfd from a container without CAP_SYS_PTRACE.
 * Their log lines travel over the sync socket (SYNC_LOG): no log fd either.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "container_seccomp.h"
#include "loop.h"
#include "stages.h"
#include "fds.h"
#include "grpc_status.h"
#include "hooks.h"
#include "linux_compat.h"
#include "log.h"
#include "namespaces.h"
#include "process.h"
#include "rootfs.h"
#include "spec_check.h"

/* The sync protocol between the launcher and the setup stages, one
 * SOCK_SEQPACKET message each (the stages share the child's end):
 *   stage 1 -> L   SYNC_CHILD      stage 2 exists: its pid (code), its pidfd
 *   L -> stage 2   SYNC_PID        after the id maps are written; carries
 *                                  stage 2's pid as the launcher sees it
 *   stage 2 -> L   SYNC_HOOKS      (init) mounts done: run prestart and
 *   L -> stage 2   SYNC_HOOKS_DONE createRuntime hooks
 *   stage 2 -> L   SYNC_READY      waiting at the exec point
 *   L -> stage 2   SYNC_START
 *   either -> L    SYNC_LOG        a log line (status: its level)
 *   either -> L    SYNC_ERROR      a struct kerr, then the stage exits
 * The child's end is close-on-exec: EOF after SYNC_START means "exec'ed". */
enum sync_type {
	SYNC_CHILD = 1,
	SYNC_PID,
	SYNC_HOOKS,
	SYNC_HOOKS_DONE,
	SYNC_READY,
	SYNC_START,
	SYNC_LOG,
	SYNC_ERROR,
};

struct sync_msg {
	uint32_t type;
	int32_t code;
	int32_t status;
	char msg[KERR_MSG_MAX];
};

static int sync_send_fd(int fd, uint32_t type, const struct kerr *e, int32_t code, int pass)
{
	struct sync_msg m = { .type = type, .code = code };
	if (e) {
		m.code = e->code;
		m.status = e->status;
		memcpy(m.msg, e->msg, sizeof(m.msg));
		m.msg[sizeof(m.msg) - 1] = '\0';
	}
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (pass >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof(int));
	}
	ssize_t w;
	do
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

static int sync_send(int fd, uint32_t type, const struct kerr *e, int32_t code)
{
	return sync_send_fd(fd, type, e, code, -1);
}

/* 0 on EOF, 1 with a message, negative errno. A passed fd goes to *fdp
 * (-1 if none); without fdp any fd that came along is closed. */
static int sync_recv(int fd, struct sync_msg *m, int *fdp)
{
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	ssize_t r;
	if (fdp)
		*fdp = -1;
	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fdp && *fdp < 0)
				*fdp = got;
			else
				close(got);
		}
	}
	if (r == 0)
		return 0;
	if (r != (ssize_t)sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (fdp && *fdp >= 0)
			close(*fdp), *fdp = -1;
		return -EPROTO;
	}
	m->msg[sizeof(m->msg) - 1] = '\0';
	return 1;
}

/* ---- the stages' side ---------------------------------------------------- */

struct child_plan {
	struct ns_plan ns;
	const char *root; /* resolved Root.Path (init only) */
	bool new_user;
};

static int sync_fd = -1; /* the stages' end, for the log writer */

/* The stages hold no log fd: each line goes to the launcher, which logs
 * it as its own (SYNC_LOG). */
static void log_to_launcher(const char *line, size_t len, void *data)
{
	struct kerr e = { 0 };
	json_t *j = json_loadb(line, len, 0, NULL);
	const char *msg = j ? json_string_value(json_object_get(j, "msg")) : NULL;
	const char *lvl = j ? json_string_value(json_object_get(j, "level")) : NULL;
	snprintf(e.msg, sizeof(e.msg), "%s", msg ? msg : "?");
	int level = LOG_LVL_INFO;
	for (int l = LOG_LVL_CRITICAL; lvl && l <= LOG_LVL_DEBUG; l++)
		if (!strcmp(lvl, log_level_tag((enum log_level)l)))
			level = l;
	e.status = level;
	json_decref(j);
	sync_send(sync_fd, SYNC_LOG, &e, 0);
}

/* Wait for one message of the expected type; anything else ends the stage. */
static void child_expect(int sync, uint32_t type, int32_t *code)
{
	struct sync_msg m;
	int r = sync_recv(sync, &m, NULL);
	if (r <= 0 || m.type != type)
		_exit(127);
	if (code)
		*code = m.code;
}

/* stdio onto 0/1/2 and the sync socket above them; every other fd the
 * launcher had is closed here, before anything of the container can see
 * this process. keep[] holds the other fds still needed (namespaces). */
static int setup_fds(const struct container_launch *l, int *sync, int *keep, size_t nkeep,
		     struct kerr *err)
{
	int tmp[3] = { -1, -1, -1 };
	if (*sync < 3 && (*sync = fcntl(*sync, F_DUPFD_CLOEXEC, 3)) < 0)
		return kerr_set(err, -errno, "dup the sync socket: %s", strerror(errno));
	for (int i = 0; i < 3; i++)
		if (l->stdio[i] >= 0 && (tmp[i] = fcntl(l->stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
			return kerr_set(err, -errno, "dup stdio %d: %s", i, strerror(errno));
	for (int i = 0; i < 3; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
			return kerr_set(err, -errno, "dup2 stdio %d: %s", i, strerror(errno));
	keep[nkeep++] = *sync;
	int r = fd_close_except(keep, nkeep);
	if (r < 0)
		return kerr_set(err, r, "close the launcher's fds: %s", strerror(-r));
	return 0;
}

static int spec_ns_flags(const Grpc__Spec *s)
{
	int flags = 0;
	for (size_t i = 0; s->linux && i < s->linux->n_namespaces; i++)
		flags |= ns_flag_from_name(s->linux->namespaces[i]->type);
	return flags;
}

static void reset_signals(void)
{
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	loop_signals_unblock();
}

static int run_child_hooks(const struct container_launch *l, enum hook_stage stage,
			   const char *status, pid_t pid, struct kerr *err)
{
	size_t n;
	if (!hooks_of_stage(l->spec->hooks, stage, &n) || n == 0)
		return 0;
	cleanup_free char *state = hooks_state_json(l->spec, l->id, status, pid, l->bundle);
	if (!state)
		return kerr_set(err, -ENOMEM, "out of memory");
	return hooks_run(l->spec->hooks, stage, state, err);
}

/* The process's own credentials and limits, in runc's order: rlimits
 * (raising a hard limit needs CAP_SYS_RESOURCE), no_new_privs, the seccomp
 * filter without no_new_privs (needs CAP_SYS_ADMIN: before the drop), the
 * bounding set, user and groups, args[0] looked up as that user, then the
 * capability sets. */
static int process_setup(const Grpc__Process *p, scmp_filter_ctx filter, char **exe, char ***envp,
			 struct kerr *err)
{
	int r;
	if ((r = process_set_rlimits(p, err)) < 0)
		return r;
	if (p->nonewprivileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (filter && !p->nonewprivileges && (r = container_seccomp_load(filter, err)) < 0)
		return r;
	if ((r = process_drop_bounding(p->capabilities, err)) < 0)
		return r;
	if ((r = process_set_user(p->user, err)) < 0)
		return r;
	/* As the container user: the environment (HOME from its passwd) and
	 * args[0] on its PATH, before the capabilities go. */
	if ((r = process_env(p, envp, err)) < 0)
		return r;
	Grpc__Process with_env = *p;
	for (with_env.n_env = 0; (*envp)[with_env.n_env]; with_env.n_env++)
		;
	with_env.env = *envp;
	if ((r = process_lookup(&with_env, exe, err)) < 0)
		return r;
	return process_set_caps(p->capabilities, err);
}

static int new_session(const Grpc__Process *p, struct kerr *err)
{
	if (setsid() < 0)
		return kerr_set(err, -errno, "setsid: %s", strerror(errno));
	if (p->terminal && ioctl(0, TIOCSCTTY, 0) < 0)
		return kerr_set(err, -errno, "make stdin the controlling terminal: %s",
				strerror(errno));
	return 0;
}

/* The last steps of both: ready, wait for start, startContainer hooks
 * (init), execve. The seccomp filter with no_new_privs goes on before the
 * hooks: they run with nothing more than the process itself has (runc's
 * order too). */
static int execve_point(const struct container_launch *l, const Grpc__Process *p,
			scmp_filter_ctx filter, const char *exe, char **env, pid_t host_pid,
			int sync, struct kerr *err)
{
	int r;
	/* A uid change cleared it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (sync_send(sync, SYNC_READY, NULL, 0) < 0)
		_exit(127);
	child_expect(sync, SYNC_START, NULL);
	reset_signals();
	if (filter && p->nonewprivileges && (r = container_seccomp_load(filter, err)) < 0)
		return r;
	if (l->join_pidfd < 0 &&
	    (r = run_child_hooks(l, HOOK_START_CONTAINER, "created", host_pid, err)) < 0)
		return r;
	return process_exec(exe, p, env, err);
}

/* Stage 2 of the init: the container's mounts, then the process. */
static int stage2_init(const struct container_launch *l, const struct child_plan *cp, int sync,
		       struct kerr *err)
{
	const Grpc__Spec *s = l->spec;
	const Grpc__Process *p = s->process;
	scmp_filter_ctx filter = NULL;
	cleanup_free char *exe = NULL;
	int32_t host_pid = 0;
	int r;

	child_expect(sync, SYNC_PID, &host_pid);
	if (cp->new_user && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return kerr_set(err, -errno, "become root in the user namespace (is 0 mapped?): %s",
				strerror(errno));
	/* Built early so a bad filter fails before anything is mounted. */
	if (s->linux->seccomp && (r = container_seccomp_build(s->linux->seccomp, &filter, err)) < 0)
		return r;
	struct rootfs_ctx rc = { .spec = s,
				 .root = cp->root,
				 .in_userns = cp->new_user,
				 .shared_dir = l->shared_dir,
				 .cgroup_path = l->cgroup_path };
	size_t n1, n2;
	if ((r = rootfs_prepare(&rc, err)) < 0)
		return r;
	hooks_of_stage(s->hooks, HOOK_PRESTART, &n1);
	hooks_of_stage(s->hooks, HOOK_CREATE_RUNTIME, &n2);
	if (n1 + n2) {
		if (sync_send(sync, SYNC_HOOKS, NULL, 0) < 0)
			_exit(127);
		child_expect(sync, SYNC_HOOKS_DONE, NULL);
	}
	if ((r = run_child_hooks(l, HOOK_CREATE_CONTAINER, "creating", host_pid, err)) < 0)
		return r;
	/* Before the readonly paths (/proc/sys among them), as upstream. */
	if ((r = process_apply_sysctl(s->linux, rc.root_fd, err)) < 0)
		return r;
	if ((r = rootfs_finish(&rc, p->cwd, err)) < 0)
		return r;
	if (s->hostname[0] && (r = process_set_hostname(s->hostname, err)) < 0)
		return r;
	if (s->root->readonly && (r = rootfs_make_root_readonly(err)) < 0)
		return r;
	char **env = NULL;
	if ((r = new_session(p, err)) < 0 || (r = process_setup(p, filter, &exe, &env, err)) < 0)
		return r;
	return execve_point(l, p, filter, exe, env, host_pid, sync, err);
}

/* Stage 2 of an exec: born with the process's credentials (stage 1 set
 * them), it only waits to be started. */
static int stage2_exec(const struct container_launch *l, const Grpc__Process *p,
		       scmp_filter_ctx filter, const char *exe, char **env, int sync,
		       struct kerr *err)
{
	int32_t host_pid = 0;
	child_expect(sync, SYNC_PID, &host_pid);
	int r = new_session(p, err);
	if (r < 0)
		return r;
	return execve_point(l, p, filter, exe, env, host_pid, sync, err);
}

static __attribute__((noreturn)) void stage_fail(int sync, struct kerr *err)
{
	if (!err->code)
		kerr_set(err, -EIO, "container setup failed");
	sync_send(sync, SYNC_ERROR, err, 0);
	_exit(127);
}

/* Stage 1: in the guest's pid namespace (invisible to every container),
 * the launcher's fds closed, the namespaces joined, and for an exec the
 * process's credentials taken; then stage 2 is cloned where the container
 * lives, its pid and pidfd go to the launcher, and stage 1 exits. */
static int stage1(const struct container_launch *l, struct child_plan *cp, int sync,
		  struct kerr *err)
{
	const Grpc__Spec *s = l->spec;
	bool is_exec = l->join_pidfd >= 0;
	const Grpc__Process *p = is_exec ? l->process : s->process;
	scmp_filter_ctx filter = NULL;
	cleanup_free char *exe = NULL;
	char **env = NULL;
	int keep[NS_MAX + 3], nkeep = 0, r;

	/* Inherited from the launcher already; said again, as it is what
	 * keeps a container's root from looking into this process. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return kerr_set(err, -errno, "PR_SET_PDEATHSIG: %s", strerror(errno));
	if (is_exec) {
		keep[nkeep++] = l->join_pidfd;
	} else {
		for (int i = 0; i < cp->ns.n_join; i++)
			keep[nkeep++] = cp->ns.join_fd[i];
		keep[nkeep++] = cp->ns.pid_join_fd;
	}
	if ((r = setup_fds(l, &sync, keep, (size_t)nkeep, err)) < 0)
		return r;
	sync_fd = sync;
	log_set_writer(log_to_launcher, NULL);

	/* Before any namespace is joined, while /proc is the guest's: once an
	 * exec has joined the container's mount namespace, /proc is the
	 * container's, where this process (in the guest's pid namespace) has
	 * no /proc/self. Stage 2 and the process inherit the value. */
	if (p->oomscoreadj && (r = process_set_oom_score_adj(p->oomscoreadj, err)) < 0)
		return r;
	if (is_exec) {
		/* Every namespace of the init in one step; pid and time take
		 * effect for stage 2. */
		int flags = spec_ns_flags(s);
		if (flags && setns(l->join_pidfd, flags) < 0)
			return kerr_set(err, -errno, "join the container's namespaces: %s",
					strerror(errno));
		close(l->join_pidfd);
	} else {
		if ((r = ns_join(&cp->ns, err)) < 0)
			return r;
		ns_plan_close(&cp->ns);
	}

	uint64_t flags = CLONE_PARENT;
	if (is_exec) {
		if (s->linux->seccomp &&
		    (r = container_seccomp_build(s->linux->seccomp, &filter, err)) < 0)
			return r;
		if (chdir(p->cwd[0] ? p->cwd : "/") < 0)
			return kerr_set(err, -errno, "chdir to Process.Cwd %s: %s", p->cwd,
					strerror(errno));
		if ((r = process_setup(p, filter, &exe, &env, err)) < 0)
			return r;
	} else {
		flags |= (uint64_t)(unsigned)cp->ns.clone_flags;
	}
	int pidfd = -1;
	pid_t pid = sys_clone_pidfd(flags, &pidfd);
	if (pid < 0)
		return kerr_set(err, -errno, "clone the container process: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(127);
		r = is_exec ? stage2_exec(l, p, filter, exe, env, sync, err)
			    : stage2_init(l, cp, sync, err);
		stage_fail(sync, err);
	}
	if (sync_send_fd(sync, SYNC_CHILD, NULL, pid, pidfd) < 0)
		_exit(127);
	_exit(0);
}

static __attribute__((noreturn)) void stage1_main(const struct container_launch *l,
						  struct child_plan *cp, int sync)
{
	struct kerr err = { 0 };
	stage1(l, cp, sync, &err);
	stage_fail(sync, &err);
}

/* ---- launcher side ------------------------------------------------------- */

static void child_kill_reap(struct container_child *c, const struct container_launch *l)
{
	if (c->pidfd >= 0) {
		pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
		if (!(l->flags & CONTAINER_SPAWN_CLONE_PARENT)) {
			siginfo_t si;
			while (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED) < 0 && errno == EINTR)
				;
		}
	}
	stages_child_release(c);
}

void stages_child_release(struct container_child *c)
{
	if (c->sync_fd >= 0)
		close(c->sync_fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->sync_fd = c->pidfd = -1;
}

static int run_launcher_hooks(const struct container_launch *l, pid_t pid, struct kerr *err)
{
	cleanup_free char *state = hooks_state_json(l->spec, l->id, "creating", pid, l->bundle);
	if (!state)
		return kerr_set(err, -ENOMEM, "out of memory");
	int r = hooks_run(l->spec->hooks, HOOK_PRESTART, state, err);
	if (r == 0)
		r = hooks_run(l->spec->hooks, HOOK_CREATE_RUNTIME, state, err);
	return r;
}

/* A stage's log line, logged by the launcher as its own. */
static void relay_log(const struct container_launch *l, const struct sync_msg *m)
{
	int lvl = m->status >= LOG_LVL_CRITICAL && m->status <= LOG_LVL_DEBUG ? m->status
									      : LOG_LVL_INFO;
	log_msg((enum log_level)lvl, "container %s setup: %s", l->id, m->msg);
}

/* Next message from the stages that is not a log line; 0 on EOF. */
static int sync_next(const struct container_launch *l, int sync, struct sync_msg *m, int *fdp,
		     struct kerr *err)
{
	for (;;) {
		int r = sync_recv(sync, m, fdp);
		if (r < 0)
			return kerr_set(err, r, "container %s: sync socket: %s", l->id,
					strerror(-r));
		if (r == 0 || m->type != SYNC_LOG)
			return r;
		relay_log(l, m);
	}
}

static int stage_error(const struct container_launch *l, const struct sync_msg *m, int r,
		       const char *when, struct kerr *err)
{
	if (r == 0)
		return kerr_set(err, -ECHILD, "container %s: setup process exited %s", l->id, when);
	if (m->type == SYNC_ERROR)
		return kerr_set_status(err, m->status, m->code < 0 ? m->code : -EIO, "%s", m->msg);
	return kerr_set(err, -EPROTO, "container %s: unexpected sync message %u %s", l->id, m->type,
			when);
}

/* Stage 1's report: stage 2's pid and pidfd. Stage 1 dying without one
 * (while stage 2, holding the other end, waits) is seen on its pidfd. */
static int wait_stage1(const struct container_launch *l, int sync, int s1_pidfd,
		       struct container_child *out, struct kerr *err)
{
	for (;;) {
		struct pollfd pf[2] = { { .fd = sync, .events = POLLIN },
					{ .fd = s1_pidfd, .events = POLLIN } };
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return kerr_set(err, -errno, "poll: %s", strerror(errno));
		}
		if (!pf[0].revents) {
			return kerr_set(err, -ECHILD, "container %s: setup stage 1 exited early",
					l->id);
		}
		struct sync_msg m;
		int fd = -1;
		int r = sync_recv(sync, &m, &fd);
		if (r == 1 && m.type == SYNC_LOG) {
			relay_log(l, &m);
			continue;
		}
		if (r == 1 && m.type == SYNC_CHILD && fd >= 0 && m.code > 0) {
			out->pid = m.code;
			out->pidfd = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		if (r < 0)
			return kerr_set(err, r, "container %s: sync socket: %s", l->id,
					strerror(-r));
		return stage_error(l, &m, r, "before it started the container process", err);
	}
}

static void reap_stage1(const struct container_launch *l, int *pidfd)
{
	if (*pidfd < 0)
		return;
	/* With CLONE_PARENT stage 1 is the monitor's child: the monitor reaps
	 * it. Otherwise (tests) it is ours. */
	if (!(l->flags & CONTAINER_SPAWN_CLONE_PARENT)) {
		siginfo_t si;
		while (waitid(P_PIDFD, (id_t)*pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
	}
	close(*pidfd);
	*pidfd = -1;
}

/* From SYNC_PID to SYNC_READY: the init's hooks in the launcher, log
 * lines, errors. */
static int wait_ready(const struct container_launch *l, struct container_child *out,
		      struct kerr *err)
{
	bool hooks_done = l->join_pidfd >= 0; /* an exec has no launcher hooks */
	for (;;) {
		struct sync_msg m;
		int r = sync_next(l, out->sync_fd, &m, NULL, err);
		if (r < 0)
			return r;
		if (r == 1 && m.type == SYNC_READY)
			return 0;
		if (r == 0 || m.type != SYNC_HOOKS || hooks_done)
			return stage_error(l, &m, r, "during setup", err);
		hooks_done = true;
		if ((r = run_launcher_hooks(l, out->pid, err)) < 0)
			return r;
		if (sync_send(out->sync_fd, SYNC_HOOKS_DONE, NULL, 0) < 0)
			return kerr_set(err, -EPIPE, "container %s: setup process died", l->id);
	}
}

int stages_spawn(const struct container_launch *l, struct container_child *out, struct kerr *err)
{
	struct child_plan cp = { .ns = { .pid_join_fd = -1 } };
	cleanup_free char *root = NULL;
	bool is_exec = l->join_pidfd >= 0;
	int sv[2], r;

	out->pid = -1;
	out->pidfd = out->sync_fd = -1;
	if ((r = spec_check(l->spec, l->id, err)) < 0)
		return r;
	if (is_exec && (r = spec_check_process(l->process, "Process", err)) < 0)
		return r;
	if (!is_exec) {
		if ((r = rootfs_resolve(l->spec->root->path, l->bundle, &root, err)) < 0)
			return r;
		cp.root = root;
		if ((r = ns_plan_open(l->spec->linux, &cp.ns, err)) < 0)
			return r;
		cp.new_user = cp.ns.clone_flags & CLONE_NEWUSER;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = kerr_set(err, -errno, "socketpair: %s", strerror(errno));
		ns_plan_close(&cp.ns);
		return r;
	}

	/* Stage 1 is born in the container's cgroup (v2), so stage 2 is too
	 * without holding the cgroup's fd. */
	int s1_pidfd = -1;
	bool cparent = l->flags & CONTAINER_SPAWN_CLONE_PARENT;
	struct kclone_args ca = {
		.flags = CLONE_PIDFD | (cparent ? CLONE_PARENT : 0) |
			 ((l->flags & CONTAINER_SPAWN_INTO_CGROUP) ? CLONE_INTO_CGROUP : 0),
		.pidfd = (uint64_t)(uintptr_t)&s1_pidfd,
		.exit_signal = cparent ? 0 : SIGCHLD,
		.cgroup = (l->flags & CONTAINER_SPAWN_INTO_CGROUP) ? (uint64_t)l->cgroup_fd : 0,
	};
	pid_t pid = sys_clone3(&ca);
	int clone_errno = errno;
	if (pid == 0) {
		close(sv[0]);
		stage1_main(l, &cp, sv[1]);
	}
	close(sv[1]);
	ns_plan_close(&cp.ns);
	if (pid < 0) {
		close(sv[0]);
		return kerr_set(err, -clone_errno, "clone3 container %s: %s", l->id,
				strerror(clone_errno));
	}
	out->sync_fd = sv[0];
	r = wait_stage1(l, out->sync_fd, s1_pidfd, out, err);
	if (r < 0)
		pidfd_send_signal(s1_pidfd, SIGKILL, NULL, 0);
	reap_stage1(l, &s1_pidfd);
	if (r < 0)
		goto fail;
	if (cp.new_user && (r = ns_write_id_maps(out->pid, l->spec->linux, err)) < 0)
		goto fail;
	if (sync_send(out->sync_fd, SYNC_PID, NULL, out->pid) < 0) {
		r = kerr_set(err, -EPIPE, "container %s: setup process died", l->id);
		goto fail;
	}
	if ((r = wait_ready(l, out, err)) < 0)
		goto fail;
	return 0;
fail:
	child_kill_reap(out, l);
	out->pid = -1;
	return r;
}

int stages_start(const struct container_launch *l, struct container_child *c, struct kerr *err)
{
	struct sync_msg m;
	int r;

	if (c->sync_fd < 0)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EALREADY,
				       "container %s: already started", l->id);
	if (sync_send(c->sync_fd, SYNC_START, NULL, 0) < 0) {
		r = kerr_set(err, -EPIPE, "container %s: the process is gone", l->id);
		goto out;
	}
	r = sync_next(l, c->sync_fd, &m, NULL, err);
	if (r == 1)
		r = stage_error(l, &m, r, "at start", err);
	/* r == 0: EOF, the close-on-exec end went away in execve */
out:
	close(c->sync_fd);
	c->sync_fd = -1;
	size_t nhooks;
	if (r < 0 || l->join_pidfd >= 0 ||
	    !hooks_of_stage(l->spec->hooks, HOOK_POSTSTART, &nhooks) || nhooks == 0)
		return r;
	/* Only with poststart hooks: the state's JSON is on the start's path. */
	cleanup_free char *state = hooks_state_json(l->spec, l->id, "running", c->pid, l->bundle);
	struct kerr herr = { 0 };
	if (state && hooks_run(l->spec->hooks, HOOK_POSTSTART, state, &herr) < 0)
		log_warn("container %s: %s", l->id, herr.msg);
	return 0;
}
