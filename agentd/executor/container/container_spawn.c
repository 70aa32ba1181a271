/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "container_seccomp.h"
#include "container_spawn.h"
#include "grpc_status.h"
#include "hooks.h"
#include "linux_compat.h"
#include "log.h"
#include "namespaces.h"
#include "process.h"
#include "rootfs.h"
#include "spec_check.h"

/* The sync protocol between the launcher (parent) and the setup child, one
 * SOCK_SEQPACKET message each:
 *   parent -> child  SYNC_PID      after the id maps are written; carries the
 *                                  child's pid as the launcher sees it
 *   child -> parent  SYNC_HOOKS    mounts done: run prestart/createRuntime
 *   parent -> child  SYNC_HOOKS_DONE
 *   child -> parent  SYNC_READY    waiting at the exec point
 *   parent -> child  SYNC_START
 *   child -> parent  SYNC_ERROR    a struct kerr, then the child exits
 * The child's end is close-on-exec: EOF after SYNC_START means "exec'ed". */
enum sync_type {
	SYNC_PID = 1,
	SYNC_HOOKS,
	SYNC_HOOKS_DONE,
	SYNC_READY,
	SYNC_START,
	SYNC_ERROR,
};

struct sync_msg {
	uint32_t type;
	int32_t code;
	int32_t status;
	char msg[KERR_MSG_MAX];
};

static int sync_send(int fd, uint32_t type, const struct kerr *e, int32_t code)
{
	struct sync_msg m = { .type = type, .code = code };
	if (e) {
		m.code = e->code;
		m.status = e->status;
		memcpy(m.msg, e->msg, sizeof(m.msg));
		m.msg[sizeof(m.msg) - 1] = '\0';
	}
	ssize_t w;
	do
		w = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

/* 0 on EOF, 1 with a message, negative errno. */
static int sync_recv(int fd, struct sync_msg *m)
{
	ssize_t r;
	do
		r = recv(fd, m, sizeof(*m), 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (r != (ssize_t)sizeof(*m))
		return -EPROTO;
	m->msg[sizeof(m->msg) - 1] = '\0';
	return 1;
}

/* Wait for one message of the expected type; anything else ends the child. */
static int child_expect(int sync, uint32_t type, int32_t *code)
{
	struct sync_msg m;
	int r = sync_recv(sync, &m);
	if (r <= 0 || m.type != type)
		_exit(127);
	if (code)
		*code = m.code;
	return 0;
}

/* ---- child side ---------------------------------------------------------- */

struct child_plan {
	struct ns_plan ns;
	const char *root; /* resolved Root.Path (init only) */
	bool new_user;
};

static int setup_stdio(const struct container_launch *l, struct kerr *err)
{
	int tmp[3] = { -1, -1, -1 };
	/* Log lines of the setup code must not end up in the container's
	 * stderr: the executor logs to its stderr, keep a private copy. */
	int lfd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (lfd >= 0)
		log_set_fd(lfd);
	for (int i = 0; i < 3; i++)
		if (l->stdio[i] >= 0 && (tmp[i] = fcntl(l->stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
			return kerr_set(err, -errno, "dup stdio %d: %s", i, strerror(errno));
	for (int i = 0; i < 3; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
			return kerr_set(err, -errno, "dup2 stdio %d: %s", i, strerror(errno));
	/* Whatever else the launcher had open must not reach the container. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return kerr_set(err, -errno, "close_range: %s", strerror(errno));
	return 0;
}

static int spec_ns_flags(const Grpc__Spec *s)
{
	int flags = 0;
	for (size_t i = 0; s->linux && i < s->linux->n_namespaces; i++)
		flags |= ns_flag_from_name(s->linux->namespaces[i]->type);
	return flags;
}

static bool spec_has_ns(const Grpc__Spec *s, int flag)
{
	return spec_ns_flags(s) & flag;
}

static int exec_join_flags(const Grpc__Spec *s)
{
	int flags = spec_ns_flags(s);
	/* pid (and time) only apply to children: the launcher took care of pid. */
	return flags & ~(CLONE_NEWPID | CLONE_NEWTIME);
}

static void reset_signals(void)
{
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
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

static int child_setup(const struct container_launch *l, const struct child_plan *cp, int sync,
		       struct kerr *err)
{
	const Grpc__Spec *s = l->spec;
	const Grpc__Process *p = l->process ? l->process : s->process;
	bool is_exec = l->join_pidfd >= 0;
	scmp_filter_ctx filter = NULL;
	cleanup_free char *exe = NULL;
	int32_t host_pid = 0;
	int r;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return kerr_set(err, -errno, "PR_SET_PDEATHSIG: %s", strerror(errno));
	if ((r = setup_stdio(l, err)) < 0)
		return r;
	child_expect(sync, SYNC_PID, &host_pid);
	if (cp->new_user) {
		/* Become the namespace's root, now that the maps exist. */
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			return kerr_set(err, -errno,
					"become root in the user namespace (is 0 mapped?): %s",
					strerror(errno));
	}
	if (is_exec) {
		int flags = exec_join_flags(s);
		if (flags && setns(l->join_pidfd, flags) < 0)
			return kerr_set(err, -errno, "join the container's namespaces: %s",
					strerror(errno));
	} else if ((r = ns_join(&cp->ns, err)) < 0) {
		return r;
	}
	if (p->oomscoreadj && (r = process_set_oom_score_adj(p->oomscoreadj, err)) < 0)
		return r;
	/* Built early so a bad filter fails before anything is mounted. */
	if (s->linux->seccomp && (r = cseccomp_build(s->linux->seccomp, &filter, err)) < 0)
		return r;

	if (!is_exec) {
		struct rootfs_ctx rc = { .spec = s, .root = cp->root, .in_userns = cp->new_user,
					 .shared_dir = l->shared_dir, .cgroup_path = l->cgroup_path };
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
	} else if (chdir(p->cwd[0] ? p->cwd : "/") < 0) {
		return kerr_set(err, -errno, "chdir to Process.Cwd %s: %s", p->cwd, strerror(errno));
	}

	if ((r = process_set_rlimits(p, err)) < 0)
		return r;
	if (setsid() < 0)
		return kerr_set(err, -errno, "setsid: %s", strerror(errno));
	if (p->terminal && ioctl(0, TIOCSCTTY, 0) < 0)
		return kerr_set(err, -errno, "make stdin the controlling terminal: %s",
				strerror(errno));
	if (p->nonewprivileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (filter && !p->nonewprivileges && (r = cseccomp_load(filter, err)) < 0)
		return r;
	if ((r = process_drop_bounding(p->capabilities, err)) < 0)
		return r;
	if ((r = process_set_user(p->user, err)) < 0)
		return r;
	/* As the container user: the environment (HOME from its passwd) and
	 * args[0] on its PATH, before the capabilities go. */
	char **env = NULL;
	if ((r = process_env(p, &env, err)) < 0)
		return r;
	Grpc__Process with_env = *p;
	for (with_env.n_env = 0; env[with_env.n_env]; with_env.n_env++)
		;
	with_env.env = env;
	if ((r = process_lookup(&with_env, &exe, err)) < 0)
		return r;
	if ((r = process_set_caps(p->capabilities, err)) < 0)
		return r;
	/* A uid change cleared it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	if (sync_send(sync, SYNC_READY, NULL, 0) < 0)
		_exit(127);
	child_expect(sync, SYNC_START, NULL);

	if (!is_exec &&
	    (r = run_child_hooks(l, HOOK_START_CONTAINER, "created", host_pid, err)) < 0)
		return r;
	reset_signals();
	if (filter && p->nonewprivileges && (r = cseccomp_load(filter, err)) < 0)
		return r;
	return process_exec(exe, p, env, err);
}

static __attribute__((noreturn)) void child_main(const struct container_launch *l,
						 const struct child_plan *cp, int sync)
{
	struct kerr err = { 0 };
	child_setup(l, cp, sync, &err);
	if (!err.code)
		kerr_set(&err, -EIO, "container setup failed");
	sync_send(sync, SYNC_ERROR, &err, 0);
	_exit(127);
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
	container_child_release(c);
}

void container_child_release(struct container_child *c)
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

int container_spawn(const struct container_launch *l, struct container_child *out,
		    struct kerr *err)
{
	struct child_plan cp = { .ns = { .pid_join_fd = -1 } };
	cleanup_free char *root = NULL;
	bool is_exec = l->join_pidfd >= 0;
	int saved_pidns = -1, sv[2], r;

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
		goto out_plan;
	}

	uint64_t flags = CLONE_PIDFD | (uint64_t)(unsigned)cp.ns.clone_flags;
	if (l->flags & CONTAINER_SPAWN_CLONE_PARENT)
		flags |= CLONE_PARENT;
	if (l->flags & CONTAINER_SPAWN_INTO_CGROUP)
		flags |= CLONE_INTO_CGROUP;

	/* The pid namespace is chosen at clone time, by the parent. */
	if (!is_exec && cp.ns.pid_join_fd >= 0)
		r = ns_enter_pid_for_children(cp.ns.pid_join_fd, &saved_pidns, err);
	else if (is_exec && spec_has_ns(l->spec, CLONE_NEWPID))
		r = ns_enter_pid_for_children(l->join_pidfd, &saved_pidns, err);
	else
		r = 0;
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
		goto out_plan;
	}

	int pidfd = -1;
	struct kclone_args ca = {
		.flags = flags,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = (l->flags & CONTAINER_SPAWN_CLONE_PARENT) ? 0 : SIGCHLD,
		.cgroup = (l->flags & CONTAINER_SPAWN_INTO_CGROUP) ? (uint64_t)l->cgroup_fd : 0,
	};
	pid_t pid = sys_clone3(&ca);
	int clone_errno = errno;
	if (pid == 0) {
		close(sv[0]);
		child_main(l, &cp, sv[1]);
	}
	struct kerr restore_err = { 0 };
	if (ns_restore_pid_for_children(&saved_pidns, &restore_err) < 0)
		log_error("%s", restore_err.msg);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		r = kerr_set(err, -clone_errno, "clone3 container %s: %s", l->id,
			     strerror(clone_errno));
		goto out_plan;
	}
	out->pid = pid;
	out->pidfd = pidfd;
	out->sync_fd = sv[0];

	if (cp.new_user && (r = ns_write_id_maps(pid, l->spec->linux, err)) < 0)
		goto fail;
	if (sync_send(out->sync_fd, SYNC_PID, NULL, pid) < 0) {
		r = kerr_set(err, -EPIPE, "container %s: setup process died", l->id);
		goto fail;
	}
	for (;;) {
		struct sync_msg m;
		r = sync_recv(out->sync_fd, &m);
		if (r < 0) {
			r = kerr_set(err, r, "container %s: sync socket: %s", l->id, strerror(-r));
			goto fail;
		}
		if (r == 0) {
			r = kerr_set(err, -ECHILD, "container %s: setup process exited early", l->id);
			goto fail;
		}
		if (m.type == SYNC_READY)
			break;
		if (m.type == SYNC_ERROR) {
			r = kerr_set_status(err, m.status, m.code < 0 ? m.code : -EIO, "%s", m.msg);
			goto fail;
		}
		if (m.type != SYNC_HOOKS) {
			r = kerr_set(err, -EPROTO, "container %s: unexpected sync message %u", l->id,
				     m.type);
			goto fail;
		}
		if ((r = run_launcher_hooks(l, pid, err)) < 0)
			goto fail;
		if (sync_send(out->sync_fd, SYNC_HOOKS_DONE, NULL, 0) < 0) {
			r = kerr_set(err, -EPIPE, "container %s: setup process died", l->id);
			goto fail;
		}
	}
	ns_plan_close(&cp.ns);
	return 0;
fail:
	child_kill_reap(out, l);
	out->pid = -1;
out_plan:
	ns_plan_close(&cp.ns);
	return r;
}

int container_start(const struct container_launch *l, struct container_child *c,
		    struct kerr *err)
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
	r = sync_recv(c->sync_fd, &m);
	if (r < 0) {
		r = kerr_set(err, r, "container %s: sync socket: %s", l->id, strerror(-r));
	} else if (r == 1 && m.type == SYNC_ERROR) {
		r = kerr_set_status(err, m.status, m.code < 0 ? m.code : -EIO, "%s", m.msg);
	} else if (r == 1) {
		r = kerr_set(err, -EPROTO, "container %s: unexpected sync message %u", l->id, m.type);
	} else {
		r = 0; /* EOF: the close-on-exec end went away in execve */
	}
out:
	close(c->sync_fd);
	c->sync_fd = -1;
	if (r < 0 || l->join_pidfd >= 0)
		return r;
	cleanup_free char *state = hooks_state_json(l->spec, l->id, "running", c->pid, l->bundle);
	struct kerr herr = { 0 };
	if (state && hooks_run(l->spec->hooks, HOOK_POSTSTART, state, &herr) < 0)
		log_warn("container %s: %s", l->id, herr.msg);
	return 0;
}
