/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spawner.c - the executor's fork made before the executor loads its
 * seccomp filter (executor_seccomp.c), so that what it starts does not inherit
 * that filter: a filter cannot be removed, and every child (fork, clone,
 * execve) keeps its parent's. Two kinds of process must not carry it:
 *  - a container's processes: X (the future monitor), the launcher, the
 *    setup stages and the container itself, which must get exactly the
 *    syscalls its spec allows (SPAWN_X);
 *  - modprobe, which loads modules with finit_module, denied to the
 *    executor (SPAWN_MODPROBE).
 * Everything else the executor starts (the pod's namespace holder, the
 * poststop runner and its hooks) carries the executor's filter.
 *
 * The spawner holds only fds 0-2 and its channel to the executor (fd
 * SPAWNER_FD). It takes requests from the executor only, one at a time,
 * blocking, and makes each new process with CLONE_PARENT: the executor is
 * its parent, reaps it and sees its exit as before. It reads no file,
 * parses no protobuf, and exits when the executor closes the channel (or
 * dies: parent-death signal).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "executor.h"
#include "loop.h"
#include "x.h"
#include "spawner.h"
#include "fds.h"
#include "grpc_status.h"
#include "linux_compat.h"

_Static_assert(CG_PATH_MAX <= IPC_CGPATH_MAX, "a cgroups path fits SPAWN_X");

/* A child of the executor: CLONE_PARENT from the spawner (its exit signal
 * is the spawner's own, SIGCHLD). */
static pid_t clone_for_executor(void)
{
	struct kclone_args ca = { .flags = CLONE_PARENT };
	return sys_clone3(&ca);
}

static void reply_error(int sock, uint32_t id, const struct kerr *e)
{
	struct kerr e2 = { 0 };
	if (ipc_send_error(sock, id, e, GRPC_INTERNAL, &e2) < 0)
		log_error("spawner: reply: %s", e2.msg);
}

static void reply_pid(int sock, uint32_t id, pid_t pid)
{
	struct ipc_launched out = { .pid = pid };
	struct kerr e = { 0 };
	if (ipc_send_fd(sock, IPC_SPAWNED, id, &out, sizeof(out), -1, &e) < 0)
		log_error("spawner: reply: %s", e.msg);
}

static void on_spawn_x(struct executor *x, int sock, struct ipc_msg *m)
{
	struct ipc_spawn_x s;
	memcpy(&s, m->payload, sizeof(s));
	struct launch_ctx c = { .o = &x->o };
	snprintf(c.id, sizeof(c.id), "%s", s.container_id);
	snprintf(c.bundle, sizeof(c.bundle), "%s", s.bundle);
	snprintf(c.cgroups_path, sizeof(c.cgroups_path), "%s", s.cgroups_path);
	struct kerr e = { 0 };
	/* The executor made the cgroup; this finds it (and its v2 fd, for
	 * CLONE_INTO_CGROUP) without touching it. */
	if (cg_open(&x->cgc, s.cgroups_path, s.container_id, &c.cg, &e) < 0) {
		kerr_prefix(&e, "container %s", s.container_id);
		reply_error(sock, m->hdr.id, &e);
		return;
	}
	pid_t pid = clone_for_executor();
	if (pid == 0) {
		close(sock);
		x_main(&c, m->fds[0], m->fds[1], m->fds[2]);
	}
	int err = errno;
	cg_forget(c.cg);
	if (pid < 0) {
		kerr_set(&e, -err, "container %s: clone3 (X): %s", s.container_id, strerror(err));
		reply_error(sock, m->hdr.id, &e);
		return;
	}
	reply_pid(sock, m->hdr.id, pid);
}

static void on_spawn_modprobe(int sock, struct ipc_msg *m)
{
	/* NUL-separated strings, the last one terminated (checked by ipc). */
	char *argv[64];
	size_t n = 0;
	for (size_t off = 0; off < m->len && n < 63; off += strlen((char *)m->payload + off) + 1)
		argv[n++] = (char *)m->payload + off;
	argv[n] = NULL;
	pid_t pid = clone_for_executor();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(m->fds[0], 1) < 0 ||
		    dup2(m->fds[0], 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		loop_signals_unblock();
		execv(argv[0], argv + 1);
		_exit(127);
	}
	if (pid < 0) {
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_INTERNAL, -errno, "clone modprobe: %s", strerror(errno));
		reply_error(sock, m->hdr.id, &e);
		return;
	}
	reply_pid(sock, m->hdr.id, pid);
}

static __attribute__((noreturn)) void spawner_main(struct executor *x, int sock)
{
	log_init("spawner", STDERR_FILENO, x->o.level);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int keep[1] = { sock };
	fd_close_except(keep, 1);
	for (;;) {
		struct ipc_msg m;
		struct kerr e = { 0 };
		int r = ipc_recv(sock, &m, &e);
		if (r == 0)
			_exit(0);
		if (r < 0) {
			if (r == -EINTR)
				continue;
			log_error("spawner: %s; exiting", e.msg);
			_exit(1);
		}
		if (m.hdr.type == IPC_SPAWN_X)
			on_spawn_x(x, sock, &m);
		else if (m.hdr.type == IPC_SPAWN_MODPROBE)
			on_spawn_modprobe(sock, &m);
		else {
			log_error("spawner: unexpected %s; exiting", ipc_type_name(m.hdr.type));
			_exit(1);
		}
		ipc_msg_release(&m);
	}
}

/* ---- executor side ---- */

int spawner_start(struct executor *x, struct kerr *err)
{
	int sv[2];
	int r = ipc_pair(sv, "spawner", err);
	if (r < 0)
		return r;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return kerr_set(err, -e, "fork the spawner: %s", strerror(e));
	}
	if (pid == 0) {
		close(sv[0]);
		spawner_main(x, sv[1]);
	}
	close(sv[1]);
	x->spawner_fd = sv[0];
	x->spawner_pid = pid;
	return 0;
}

/* One request, one answer: SPAWNED {pid} or ERROR. */
static int ask(struct executor *x, uint32_t type, const void *p, size_t len, const int *fds,
	       unsigned nfds, pid_t *pid, struct kerr *err)
{
	if (x->spawner_fd < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -EPIPE, "the spawner is gone");
	uint32_t id = ++x->spawner_next_id ? x->spawner_next_id : ++x->spawner_next_id;
	int r = ipc_send_fds(x->spawner_fd, type, id, p, len, fds, nfds, err);
	if (r < 0)
		return err->status = GRPC_INTERNAL, r;
	struct ipc_msg m;
	do
		r = ipc_recv(x->spawner_fd, &m, err);
	while (r == -EINTR);
	if (r <= 0) {
		if (r == 0)
			kerr_set(err, -EPIPE, "the spawner closed its channel");
		err->status = GRPC_INTERNAL;
		return r ? r : -EPIPE;
	}
	if (m.hdr.id != id || (m.hdr.type != IPC_SPAWNED && m.hdr.type != IPC_ERROR)) {
		ipc_msg_release(&m);
		return kerr_set_status(err, GRPC_INTERNAL, -EPROTO, "the spawner answered %s #%u",
				       ipc_type_name(m.hdr.type), m.hdr.id);
	}
	if (ipc_error_decode(&m, err)) {
		ipc_msg_release(&m);
		return err->code;
	}
	*pid = ((const struct ipc_launched *)m.in)->pid;
	ipc_msg_release(&m);
	return 0;
}

int spawner_x(struct container *ct, pid_t *pid_out, int *el_out, int *em_out, int *fm_out,
	      struct kerr *err)
{
	int el[2] = { -1, -1 }, em[2] = { -1, -1 }, fm[2] = { -1, -1 };
	int r;
	struct ipc_spawn_x s;
	memset(&s, 0, sizeof(s));
	snprintf(s.container_id, sizeof(s.container_id), "%s", ct->id);
	snprintf(s.bundle, sizeof(s.bundle), "%s", ct->bundle);
	const Grpc__Linux *lx = ct->req->oci->linux;
	if (lx && strlen(lx->cgroupspath) >= sizeof(s.cgroups_path))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
				       "container %s: cgroupsPath too long", ct->id);
	snprintf(s.cgroups_path, sizeof(s.cgroups_path), "%s", lx ? lx->cgroupspath : "");
	if ((r = ipc_pair(el, "executor-launcher", err)) < 0 ||
	    (r = ipc_pair(em, "executor-monitor", err)) < 0 ||
	    (r = ipc_pair(fm, "front-end-monitor", err)) < 0)
		goto out;
	int fds[3] = { el[1], em[1], fm[1] };
	pid_t pid = 0;
	if ((r = ask(ct->x, IPC_SPAWN_X, &s, sizeof(s), fds, 3, &pid, err)) < 0)
		goto out;
	*pid_out = pid;
	*el_out = el[0];
	*em_out = em[0];
	*fm_out = fm[0];
	el[0] = em[0] = fm[0] = -1;
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (el[i] >= 0)
			close(el[i]);
		if (em[i] >= 0)
			close(em[i]);
		if (fm[i] >= 0)
			close(fm[i]);
	}
	return r;
}

int spawner_modprobe(struct executor *x, const char *const *argv, int out_fd, pid_t *pid,
		     struct kerr *err)
{
	char buf[IPC_MODPROBE_ARGS_MAX];
	size_t len = 0;
	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;
		if (len + l > sizeof(buf) || i >= 62)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
					       "modprobe: arguments too long");
		memcpy(buf + len, argv[i], l);
		len += l;
	}
	return ask(x, IPC_SPAWN_MODPROBE, buf, len, &out_fd, 1, pid, err);
}

bool spawner_reaped(struct executor *x, pid_t pid, int status)
{
	if (pid <= 0 || pid != x->spawner_pid)
		return false;
	x->spawner_pid = 0;
	log_error("the spawner (pid %d) exited (wait status 0x%x): no container or module can "
		  "be started any more; exiting",
		  (int)pid, status);
	x->exit_code = 1;
	loop_quit(x->loop);
	return true;
}

void spawner_stop(struct executor *x)
{
	if (x->spawner_fd >= 0)
		close(x->spawner_fd);
	x->spawner_fd = -1;
}
