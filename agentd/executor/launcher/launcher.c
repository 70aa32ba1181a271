/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launcher.c - the launcher L of one container: a fork of the executor's
 * spawner (through X), root, without the executor's seccomp filter. It
 * creates every process of its container with stages_spawn()
 * (CLONE_PARENT: the monitor M, its parent, becomes theirs), hands their
 * stdio and pidfd to M (MON_PROCESS_ADD) and only then tells the executor
 * (LAUNCHED). It accepts, from the executor only: LAUNCH_INIT (first, and
 * once: the checked CreateContainerRequest), then LAUNCH_START and
 * LAUNCH_EXEC; it exits when the executor closes its channel.
 *
 * L runs no event loop: it serves one request at a time with blocking
 * calls, so a slow hook or mount stalls this container only, never the
 * executor. That is also where the sealed environment values of the init
 * and of each exec are unsealed through the CDH (sealed_env.h), before the
 * process is spawned, and the sealed files of the init's volumes
 * (sealed_file.h): a failure answers the request and spawns nothing.
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
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "stages.h"
#include "executor.h"
#include "launcher.h"
#include "grpc_status.h"
#include "process.h"
#include "sealed_env.h"
#include "sealed_file.h"

struct launcher {
	const struct launch_ctx *ct;
	int el, lm;
	struct container_launch init_l;
	struct container_child init;
	bool have_init, started;
};

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* child[0..2]: the process's 0/1/2; mon[]: what the monitor gets after the
 * pidfd (pty master, or stdin-w, stdout-r, stderr-r). */
static int make_stdio(bool terminal, const Grpc__Box *size, uint32_t pipe_size, int child[3],
		      int mon[3], unsigned *nmon, struct kerr *err)
{
	child[0] = child[1] = child[2] = mon[0] = mon[1] = mon[2] = -1;
	if (terminal) {
		int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0)
			return kerr_set(err, -errno, "open /dev/ptmx: %s", strerror(errno));
		char name[64];
		if (grantpt(master) < 0 || unlockpt(master) < 0 ||
		    ptsname_r(master, name, sizeof(name)) != 0) {
			int e = errno;
			close(master);
			return kerr_set(err, -e, "prepare the pty: %s", strerror(e));
		}
		/* Process.ConsoleSize: the size the process sees from its
		 * first instruction (later changes come as TtyWinResize). */
		if (size && size->height && size->width) {
			struct winsize ws = { .ws_row = (unsigned short)size->height,
					      .ws_col = (unsigned short)size->width };
			if (ioctl(master, TIOCSWINSZ, &ws) < 0)
				log_warn("set the console size: %s", strerror(errno));
		}
		int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0) {
			int e = errno;
			close(master);
			return kerr_set(err, -e, "open %s: %s", name, strerror(e));
		}
		child[0] = slave;
		child[1] = fcntl(slave, F_DUPFD_CLOEXEC, 3);
		child[2] = fcntl(slave, F_DUPFD_CLOEXEC, 3);
		mon[0] = master;
		*nmon = 1;
		if (child[1] < 0 || child[2] < 0) {
			int e = errno;
			close_all(child, 3);
			close_all(mon, 3);
			return kerr_set(err, -e, "dup the pty: %s", strerror(e));
		}
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			int e = errno;
			close_all(child, 3);
			close_all(mon, 3);
			return kerr_set(err, -e, "pipe for stdio %d: %s", i, strerror(e));
		}
		/* A failed resize keeps the default size: the bigger buffer is
		 * an optimisation, never needed for correctness. */
		if (pipe_size && fcntl(p[0], F_SETPIPE_SZ, (int)pipe_size) < 0)
			log_warn("F_SETPIPE_SZ %u on stdio %d: %s", pipe_size, i, strerror(errno));
		if (i == 0) {
			child[0] = p[0];
			mon[0] = p[1];
		} else {
			child[i] = p[1];
			mon[i] = p[0];
		}
	}
	*nmon = 3;
	return 0;
}

static int recv_reply(int sock, uint32_t want, struct ipc_msg *m, struct kerr *err)
{
	int r = ipc_recv(sock, m, err);
	if (r < 0)
		return r;
	if (r == 0)
		return kerr_set_status(err, GRPC_INTERNAL, -EPIPE, "the monitor went away");
	if (ipc_error_decode(m, err)) {
		ipc_msg_release(m);
		return err->code;
	}
	if (m->hdr.type != want) {
		uint32_t t = m->hdr.type;
		ipc_msg_release(m);
		return kerr_set(err, -EPROTO, "unexpected %s from the monitor", ipc_type_name(t));
	}
	return 0;
}

/* Spawn one process up to its exec point and register it with the monitor.
 * exec_id "" = the init. */
static int launch(struct launcher *la, struct container_launch *l, const char *exec_id,
		  const Grpc__Process *p, struct container_child *child, struct kerr *err)
{
	const struct launch_ctx *ct = la->ct;
	int cfd[3], mfd[3];
	unsigned nm = 0;
	bool terminal = p->terminal;
	int r = make_stdio(terminal, p->consolesize, ct->o->pipe_size, cfd, mfd, &nm, err);
	if (r < 0)
		return r;
	l->stdio[0] = cfd[0];
	l->stdio[1] = cfd[1];
	l->stdio[2] = cfd[2];
	l->flags = CONTAINER_SPAWN_CLONE_PARENT;
	l->cgroup_fd = cg_v2_fd(ct->cg);
	if (l->cgroup_fd >= 0)
		l->flags |= CONTAINER_SPAWN_INTO_CGROUP;
	r = stages_spawn(l, child, err);
	close_all(cfd, 3);
	l->stdio[0] = l->stdio[1] = l->stdio[2] = -1;
	if (r < 0) {
		close_all(mfd, 3);
		return r;
	}
	if (l->cgroup_fd < 0 && (r = cg_add_pid(ct->cg, child->pid, err)) < 0)
		goto fail;

	struct ipc_process_add a = { .pid = child->pid, .terminal = terminal };
	snprintf(a.exec_id, sizeof(a.exec_id), "%s", exec_id);
	int fds[4] = { child->pidfd, mfd[0], mfd[1], mfd[2] };
	r = ipc_send_fds(la->lm, IPC_MON_PROCESS_ADD, 1, &a, sizeof(a), fds, 1 + nm, err);
	close_all(mfd, 3);
	if (r < 0)
		goto fail;
	struct ipc_msg m;
	if ((r = recv_reply(la->lm, IPC_OK, &m, err)) < 0)
		goto fail;
	ipc_msg_release(&m);
	return 0;
fail:
	close_all(mfd, 3);
	/* Closing the sync socket ends the waiting child; its parent, the
	 * monitor, reaps it. */
	stages_child_release(child);
	return r;
}

static void reply_error(struct launcher *la, uint32_t id, const struct kerr *e)
{
	struct kerr e2 = { 0 };
	if (ipc_send_error(la->el, id, e, GRPC_INTERNAL, &e2) < 0)
		log_error("launcher: reply to the executor: %s", e2.msg);
}

static void reply(struct launcher *la, uint32_t type, uint32_t id, const void *p, size_t len)
{
	struct kerr e = { 0 };
	if (ipc_send_fd(la->el, type, id, p, len, -1, &e) < 0)
		log_error("launcher: reply to the executor: %s", e.msg);
}

static void on_launch_start(struct launcher *la, uint32_t id)
{
	struct kerr e = { 0 };
	if (!la->have_init || la->started) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EALREADY,
				"container %s: the init is not waiting to start", la->ct->id);
		reply_error(la, id, &e);
		return;
	}
	if (stages_start(&la->init_l, &la->init, &e) < 0) {
		log_error("container %s: start: %s", la->ct->id, e.msg);
		reply_error(la, id, &e);
		return;
	}
	la->started = true;
	reply(la, IPC_OK, id, NULL, 0);
}

/* Sealed env values, before anything is spawned for p. */
static int unseal(struct launcher *la, const char *what, Grpc__Process *p, struct kerr *e)
{
	size_t n = 0;
	int r = sealed_env_unseal(p, la->ct->o->cdh_api_timeout_ms, &n, e);
	if (r < 0)
		return kerr_prefix(e, "container %s", la->ct->id);
	if (n)
		log_info("container %s: %s: %zu sealed environment value(s) unsealed by the CDH",
			 la->ct->id, what, n);
	return 0;
}

/* Sealed files in the init's volumes, after its env as upstream. */
static int unseal_files(struct launcher *la, const Grpc__Spec *spec, struct kerr *e)
{
	size_t n = 0;
	int r = sealed_file_unseal(spec, la->ct->o->shared_dir, la->ct->o->cdh_api_timeout_ms, &n,
				   e);
	if (r < 0)
		return kerr_prefix(e, "container %s", la->ct->id);
	if (n)
		log_info("container %s: %zu sealed file(s) unsealed by the CDH", la->ct->id, n);
	return 0;
}

static void on_launch_exec(struct launcher *la, struct ipc_msg *m)
{
	struct kerr e = { 0 };
	uint32_t id = m->hdr.id;
	const Grpc__ExecProcessRequest *req = ipc_msg_decode(m, &e) == 0 ? m->in : NULL;
	if (!req || !req->process) {
		kerr_clear(&e);
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"LAUNCH_EXEC: not an ExecProcessRequest with a process");
		goto fail;
	}
	if (!la->have_init || !la->started || la->init.pidfd < 0) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESRCH,
				"container %s is not running", la->ct->id);
		goto fail;
	}
	if (unseal(la, "exec", req->process, &e) < 0)
		goto fail;
	/* What the runtime leaves out of an exec comes from the container's
	 * process (process_exec_inherit). */
	Grpc__Process proc;
	process_exec_inherit(&proc, req->process, la->init_l.spec->process);
	struct container_launch l = la->init_l;
	l.process = &proc;
	l.join_pidfd = la->init.pidfd;
	struct container_child c = { .pid = 0, .pidfd = -1, .sync_fd = -1 };
	if (launch(la, &l, req->exec_id, &proc, &c, &e) < 0) {
		/* The init exited while the executor's record still said
		 * running (its MON_EXITED is on the way): say so, not ESRCH. */
		struct pollfd p = { .fd = la->init.pidfd, .events = POLLIN };
		if (poll(&p, 1, 0) == 1) {
			kerr_clear(&e);
			kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESRCH,
					"container %s is not running (its init exited)",
					la->ct->id);
		}
		goto fail;
	}
	if (stages_start(&l, &c, &e) < 0) {
		/* Registered with the monitor already: kill it there, the
		 * monitor reports its exit. */
		if (c.pidfd >= 0)
			syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, NULL, 0);
		stages_child_release(&c);
		goto fail;
	}
	struct ipc_launched out = { .pid = c.pid };
	stages_child_release(&c);
	reply(la, IPC_LAUNCHED, id, &out, sizeof(out));
	return;
fail:
	log_error("container %s: exec: %s", la->ct->id, e.msg);
	reply_error(la, id, &e);
}

/* LAUNCH_INIT: the decoded request lives as long as the launcher. */
static Grpc__CreateContainerRequest *wait_init(struct launcher *la, uint32_t *id)
{
	struct ipc_msg m;
	struct kerr e = { 0 };
	int r;
	do
		r = ipc_recv(la->el, &m, &e);
	while (r == -EINTR);
	if (r <= 0)
		_exit(r == 0 ? 0 : 1);
	if (m.hdr.type != IPC_LAUNCH_INIT) {
		log_error("launcher of %s: %s before LAUNCH_INIT; exiting", la->ct->id,
			  ipc_type_name(m.hdr.type));
		_exit(1);
	}
	*id = m.hdr.id;
	Grpc__CreateContainerRequest *req =
		ipc_msg_decode(&m, &e) == 0 ? ipc_msg_take_in(&m) : NULL;
	ipc_msg_release(&m);
	kerr_clear(&e);
	if (!req || !req->oci || !req->oci->process || !req->oci->root ||
	    strcmp(req->container_id, la->ct->id)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"LAUNCH_INIT: not a CreateContainerRequest for %s with a process",
				la->ct->id);
		reply_error(la, *id, &e);
		_exit(1);
	}
	return req;
}

void launcher_main(const struct launch_ctx *ct, int el, int lm)
{
	struct launcher la = { .ct = ct, .el = el, .lm = lm };
	/* Not dumpable, and neither is what it clones (the flag is copied):
	 * the setup stages hold privileges a container's root must not reach
	 * through ptrace, /proc/PID/fd or pidfd_getfd. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	la.init = (struct container_child){ .pid = 0, .pidfd = -1, .sync_fd = -1 };
	uint32_t create_id = 0;
	Grpc__CreateContainerRequest *req = wait_init(&la, &create_id);
	Grpc__Spec *spec = req->oci;
	la.init_l = (struct container_launch){
		.id = ct->id,
		.bundle = ct->bundle,
		.spec = spec,
		.shared_dir = ct->o->shared_dir,
		.cgroup_path = ct->cg ? cg_path(ct->cg) : NULL,
		.process = NULL,
		.join_pidfd = -1,
		.cgroup_fd = -1,
		.stdio = { -1, -1, -1 },
	};
	struct kerr e = { 0 };
	if (unseal(&la, "init", spec->process, &e) < 0 || unseal_files(&la, spec, &e) < 0 ||
	    launch(&la, &la.init_l, "", spec->process, &la.init, &e) < 0) {
		log_error("container %s: create: %s", ct->id, e.msg);
		reply_error(&la, create_id, &e);
	} else {
		la.have_init = true;
		struct ipc_launched out = { .pid = la.init.pid };
		reply(&la, IPC_LAUNCHED, create_id, &out, sizeof(out));
	}
	for (;;) {
		struct ipc_msg m;
		struct kerr re = { 0 };
		int r = ipc_recv(el, &m, &re);
		if (r == 0)
			break;
		if (r < 0) {
			if (r == -EINTR)
				continue;
			log_error("launcher of %s: %s", ct->id, re.msg);
			break;
		}
		switch (m.hdr.type) {
		case IPC_LAUNCH_INIT:
			log_error("launcher of %s: a second LAUNCH_INIT; exiting", ct->id);
			_exit(1);
		case IPC_LAUNCH_START:
			on_launch_start(&la, m.hdr.id);
			break;
		case IPC_LAUNCH_EXEC:
			on_launch_exec(&la, &m);
			break;
		default:
			log_error("launcher of %s: unexpected %s from the executor; exiting", ct->id,
				  ipc_type_name(m.hdr.type));
			ipc_msg_release(&m);
			_exit(1);
		}
		ipc_msg_release(&m);
	}
	/* The executor let go of the container: a never started init dies
	 * with the sync socket. */
	stages_child_release(&la.init);
	_exit(0);
}
