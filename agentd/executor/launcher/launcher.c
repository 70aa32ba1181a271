/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launcher.c - the launcher L of one container: a fork of the executor's
 * spawner (through X), root, without the executor's seccomp filter. It
 * creates every process of its container with stages_spawn()
 * (CLONE_PARENT: the monitor M, its parent, becomes theirs), hands their
 * stdio and pidfd to M (MON_PROCESS_ADD) and only then tells the executor
 * (LAUNCHED). It accepts, from the executor only: LAUNCH_INIT (first, and
 * once: the checked CreateContainerRequest), then LAUNCH_START and
 * LAUNCH_EXEC; it exits when the executor closes its channel. The work
 * is done by one worker per request, a CLONE_PARENT copy of L (so also M's
 * child), see "L and its workers" below.
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "stages.h"
#include "executor.h"
#include "launcher.h"
#include "fds.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "process.h"
#include "sealed_env.h"
#include "sealed_file.h"

struct launcher {
	const struct launch_ctx *ct;
	int el, lm;
	struct container_launch init_l;
	struct container_child init;
	bool have_init, started;
	/* LAUNCH_STDIO: the host streams that are to be stdout and stderr of
	 * the process the next request starts (-1: a pipe). */
	struct {
		int fd;
		char exec_id[IPC_ID_MAX];
	} direct[2];
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
 * pidfd (pty master, or stdin-w, stdout-r, stderr-r; -1 for an output
 * whose host stream, direct[i - 1], is the process's own fd: taken). */
static int make_stdio(bool terminal, const Grpc__Box *size, uint32_t pipe_size, int direct[2],
		      int child[3], int mon[3], unsigned *nmon, struct kerr *err)
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
		if (i > 0 && direct[i - 1] >= 0) {
			child[i] = direct[i - 1];
			direct[i - 1] = -1;
			continue;
		}
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

static void direct_drop(struct launcher *la)
{
	for (unsigned i = 0; i < 2; i++)
		if (la->direct[i].fd >= 0) {
			close(la->direct[i].fd);
			la->direct[i].fd = -1;
		}
}

/* LAUNCH_STDIO, kept for the request that follows it. */
static void direct_keep(struct launcher *la, struct ipc_msg *m)
{
	const struct ipc_passfd_attach *a = m->in;
	if (a->stream != IPC_STREAM_STDOUT && a->stream != IPC_STREAM_STDERR) {
		log_error("launcher of %s: LAUNCH_STDIO for stream %u; ignored", la->ct->id,
			  a->stream);
		return;
	}
	unsigned i = a->stream - 1;
	if (la->direct[i].fd >= 0)
		close(la->direct[i].fd);
	la->direct[i].fd = ipc_msg_take_fd(m);
	memcpy(la->direct[i].exec_id, a->exec_id, sizeof(la->direct[i].exec_id));
}

/* The host streams kept for exec_id (taken), -1 for the others (dropped:
 * they were for a request that never came). */
static void direct_take(struct launcher *la, const char *exec_id, int out[2])
{
	for (unsigned i = 0; i < 2; i++) {
		out[i] = -1;
		if (la->direct[i].fd < 0)
			continue;
		if (strcmp(la->direct[i].exec_id, exec_id) == 0) {
			out[i] = la->direct[i].fd;
			la->direct[i].fd = -1;
		} else {
			log_warn("launcher of %s: a host stream for %s, not %s; closed", la->ct->id,
				 la->direct[i].exec_id, exec_id);
		}
	}
	direct_drop(la);
}

/* Spawn one process up to its exec point and register it with the monitor.
 * exec_id "" = the init. */
static int launch(struct launcher *la, struct container_launch *l, const char *exec_id,
		  const Grpc__Process *p, struct container_child *child, struct kerr *err)
{
	const struct launch_ctx *ct = la->ct;
	int cfd[3], mfd[3], direct[2];
	unsigned nm = 0;
	bool terminal = p->terminal;
	direct_take(la, exec_id, direct);
	if (terminal)
		close_all(direct, 2); /* the executor refuses that already */
	uint8_t direct_bits = (uint8_t)((direct[0] >= 0 ? IPC_DIRECT_STDOUT : 0) |
					(direct[1] >= 0 ? IPC_DIRECT_STDERR : 0));
	int r = make_stdio(terminal, p->consolesize, ct->o->pipe_size, direct, cfd, mfd, &nm, err);
	close_all(direct, 2);
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

	struct ipc_process_add a = { .pid = child->pid,
				     .terminal = terminal,
				     .direct = direct_bits };
	snprintf(a.exec_id, sizeof(a.exec_id), "%s", exec_id);
	int fds[4] = { child->pidfd };
	unsigned nfds = 1;
	for (unsigned i = 0; i < nm; i++)
		if (mfd[i] >= 0)
			fds[nfds++] = mfd[i];
	r = ipc_send_fds(la->lm, IPC_MON_PROCESS_ADD, 1, &a, sizeof(a), fds, nfds, err);
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
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESRCH, "container %s is not running",
				la->ct->id);
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

/* The executor's next request on EL (1; 0 when EL closed, -errno), the
 * LAUNCH_STDIO messages sent just before it kept (direct_keep): a
 * worker serves them and their request together. */
static int recv_request(struct launcher *la, struct ipc_msg *m, struct kerr *e)
{
	for (;;) {
		int r = ipc_recv(la->el, m, e);
		if (r == -EINTR)
			continue;
		if (r <= 0 || m->hdr.type != IPC_LAUNCH_STDIO)
			return r;
		direct_keep(la, m);
		ipc_msg_release(m);
	}
}

/* The packed CreateContainerRequest, kept by L in a sealed memfd once the
 * init started, for the workers that launch execs: a few KiB of page cache
 * instead of the decoded request in L's heap. */
static int keep_packed(const struct ipc_msg *m, struct kerr *err)
{
	int fd = memfd_create("launch-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return kerr_set(err, -errno, "memfd_create: %s", strerror(errno));
	for (size_t off = 0; off < m->len;) {
		ssize_t n = write(fd, m->payload + off, m->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return kerr_set(err, -e, "keep the request: %s", strerror(e));
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		int e = errno;
		close(fd);
		return kerr_set(err, -e, "seal the request: %s", strerror(e));
	}
	return fd;
}

static bool init_request_ok(const Grpc__CreateContainerRequest *req, const char *id)
{
	return req && req->oci && req->oci->process && req->oci->root &&
	       strcmp(req->container_id, id) == 0;
}

/* LAUNCH_INIT: the decoded request lives as long as the init worker; its
 * packed form goes to *packed (a sealed memfd) for L. */
static Grpc__CreateContainerRequest *wait_init(struct launcher *la, uint32_t *id, int *packed)
{
	struct ipc_msg m;
	struct kerr e = { 0 };
	int r = recv_request(la, &m, &e);
	if (r <= 0)
		_exit(r == 0 ? 0 : 1);
	if (m.hdr.type != IPC_LAUNCH_INIT) {
		log_error("launcher of %s: %s before LAUNCH_INIT; exiting", la->ct->id,
			  ipc_type_name(m.hdr.type));
		_exit(1);
	}
	*id = m.hdr.id;
	*packed = keep_packed(&m, &e);
	Grpc__CreateContainerRequest *req = *packed >= 0 && ipc_msg_decode(&m, &e) == 0
						    ? ipc_msg_take_in(&m)
						    : NULL;
	ipc_msg_release(&m);
	if (*packed < 0) {
		reply_error(la, *id, &e);
		_exit(1);
	}
	kerr_clear(&e);
	if (!init_request_ok(req, la->ct->id)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"LAUNCH_INIT: not a CreateContainerRequest for %s with a process",
				la->ct->id);
		reply_error(la, *id, &e);
		_exit(1);
	}
	return req;
}

static void init_launch(struct launcher *la, Grpc__CreateContainerRequest *req)
{
	const struct launch_ctx *ct = la->ct;
	la->init_l = (struct container_launch){
		.id = ct->id,
		.bundle = ct->bundle,
		.spec = req->oci,
		.shared_dir = ct->o->shared_dir,
		.cgroup_path = ct->cg ? cg_path(ct->cg) : NULL,
		.process = NULL,
		.join_pidfd = -1,
		.cgroup_fd = -1,
		.stdio = { -1, -1, -1 },
	};
}

/* ---- L and its workers ----
 *
 * L serves the init itself, as the executor's fork X made (serve_init):
 * LAUNCH_INIT, then LAUNCH_START. Once the init started it execs
 * kata-agent-launcher (agentd/launcher/main.c), a few pages that never
 * read a request, holding the packed request (a sealed memfd) and the
 * init's pidfd: what the create dirtied goes with the executor's image.
 * For each later request waiting on EL (LAUNCH_EXEC, a late LAUNCH_START)
 * kata-agent-launcher clones, with CLONE_PARENT (a child of the monitor, as
 * L is), a worker that execs kata-agent-launch-worker (launch_worker.c:
 * this file's code, linked with only what a launch needs; launcher_worker
 * below), decodes the kept request again, serves one
 * request and ends. Its verdict is one byte on a socketpair private to L
 * and the worker: a worker that ends without one (it crashed) ends L, the
 * executor sees EL close and fails what was pending, as when a launcher
 * died.
 * Fds: L's, as kata-agent-launcher: 3 EL, 4 LM, 5 the worker's binary (O_PATH),
 * 6 the packed request, 7 the init's pidfd; a worker's: 3-5 the same,
 * 6 its verdict socket, 7 and 8 the packed request and the init's pidfd. */
enum { WFD_EL = 3, WFD_LM = 4, WFD_EXE = 5, WFD_VERDICT = 6, WFD_PACKED = 7, WFD_PIDFD = 8 };
/* Shared with agentd/launcher/main.c. */
enum { VERDICT_SERVE = 1, VERDICT_EXIT = 2 };
/* How long L, the init started, waits for another request before it
 * becomes kata-agent-launcher: a short-lived container, or a burst of
 * execs, is served without a worker's exec each. */
#define LAUNCHER_IDLE_MS 200

struct resident {
	int packed, pidfd; /* the init's request and pidfd; -1 when its create failed */
};

static __attribute__((noreturn)) void worker_end(int ws, uint8_t verdict)
{
	if (send(ws, &verdict, 1, MSG_NOSIGNAL) < 0)
		log_error("launcher worker: verdict: %s", strerror(errno));
	_exit(0);
}

/* One request of the executor on EL, the init known (or its create
 * failed): VERDICT_SERVE, or VERDICT_EXIT when EL closed or the executor
 * sent what it never sends there. */
static int serve_msg(struct launcher *la)
{
	struct ipc_msg m;
	struct kerr e = { 0 };
	int r = recv_request(la, &m, &e);
	if (r <= 0) {
		if (r < 0)
			log_error("launcher of %s: %s", la->ct->id, e.msg);
		return VERDICT_EXIT;
	}
	int v = VERDICT_SERVE;
	if (m.hdr.type == IPC_LAUNCH_START) {
		on_launch_start(la, m.hdr.id);
	} else if (m.hdr.type == IPC_LAUNCH_EXEC) {
		on_launch_exec(la, &m);
	} else {
		log_error("launcher of %s: %s%s from the executor; exiting", la->ct->id,
			  m.hdr.type == IPC_LAUNCH_INIT ? "a second " : "unexpected ",
			  ipc_type_name(m.hdr.type));
		v = VERDICT_EXIT;
	}
	ipc_msg_release(&m);
	direct_drop(la); /* streams of a request that failed before its launch */
	return v;
}

static __attribute__((noreturn)) void serve_one(struct launcher *la, int ws)
{
	worker_end(ws, (uint8_t)serve_msg(la));
}

/* The packed request L keeps, decoded again (it was checked when it came). */
static Grpc__CreateContainerRequest *unpack_kept(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > (off_t)IPC_MAX_PAYLOAD)
		return NULL;
	cleanup_free uint8_t *buf = malloc((size_t)st.st_size);
	if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		return NULL;
	return grpc__create_container_request__unpack(NULL, (size_t)st.st_size, buf);
}

static __attribute__((noreturn)) void worker_main(struct launcher *la, const struct resident *rs,
						  int ws)
{
	Grpc__CreateContainerRequest *req = rs->packed >= 0 ? unpack_kept(rs->packed) : NULL;
	if (rs->packed >= 0 && !init_request_ok(req, la->ct->id)) {
		log_error("launcher of %s: the kept request does not decode; exiting", la->ct->id);
		worker_end(ws, VERDICT_EXIT);
	}
	if (req) {
		init_launch(la, req);
		la->init.pidfd = rs->pidfd;
		la->have_init = la->started = true;
	}
	serve_one(la, ws);
}

static __attribute__((noreturn)) void become_resident(const struct launch_ctx *ct, int el, int lm,
						      int packed, int pidfd);

/* L's own work, still as the executor's fork: LAUNCH_INIT and what follows
 * until the init started (a failed create: until the executor closes EL).
 * Then L becomes kata-agent-launcher, and what the create dirtied goes with
 * this image. Create + start thus cost no exec more than before. */
static __attribute__((noreturn)) void serve_init(struct launcher *la)
{
	uint32_t create_id = 0;
	int packed = -1;
	Grpc__CreateContainerRequest *req = wait_init(la, &create_id, &packed);
	init_launch(la, req);
	struct kerr e = { 0 };
	if (unseal(la, "init", req->oci->process, &e) < 0 || unseal_files(la, req->oci, &e) < 0 ||
	    launch(la, &la->init_l, "", req->oci->process, &la->init, &e) < 0) {
		log_error("container %s: create: %s", la->ct->id, e.msg);
		reply_error(la, create_id, &e);
	} else {
		la->have_init = true;
		struct ipc_launched out = { .pid = la->init.pid };
		reply(la, IPC_LAUNCHED, create_id, &out, sizeof(out));
	}
	direct_drop(la);
	/* Until the init started: L holds its sync socket. Then, while
	 * requests keep coming (an exec burst, a short-lived container's
	 * removal), L serves them itself; once EL stayed quiet for
	 * LAUNCHER_IDLE_MS it becomes kata-agent-launcher. A failed create
	 * never does: the executor removes the container. */
	for (;;) {
		if (la->started) {
			struct pollfd p = { .fd = la->el, .events = POLLIN };
			int n = poll(&p, 1, LAUNCHER_IDLE_MS);
			if (n == 0)
				break;
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (serve_msg(la) == VERDICT_EXIT) {
			/* The executor let go of the container: a never started
			 * init dies with the sync socket. */
			stages_child_release(&la->init);
			_exit(0);
		}
	}
	become_resident(la->ct, la->el, la->lm, packed, la->init.pidfd);
}

void launcher_main(const struct launch_ctx *ct, int el, int lm)
{
	/* Not dumpable, and neither is what it clones (the flag is copied;
	 * kata-agent-launcher sets it again after its execve): the workers and
	 * the setup stages hold privileges a container's root must not reach
	 * through ptrace, /proc/PID/fd or pidfd_getfd. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct launcher la = { .ct = ct, .el = el, .lm = lm };
	la.init = (struct container_child){ .pid = 0, .pidfd = -1, .sync_fd = -1 };
	la.direct[0].fd = la.direct[1].fd = -1;
	serve_init(&la);
}

/* L, the init started: become kata-agent-launcher with EL at 3, LM at 4,
 * kata-agent-launch-worker at 5 (the workers exec it), the packed request at 6 and the
 * init's pidfd at 7, and the executor's options the workers need on their
 * command line. */
static __attribute__((noreturn)) void become_resident(const struct launch_ctx *ct, int el, int lm,
						      int packed, int pidfd)
{
	int exe = open(ct->o->worker_path, O_PATH | O_CLOEXEC);
	int from[5] = { el, lm, exe, packed, pidfd }, tmp[5];
	/* All above the targets first, so no placement overwrites a source. */
	bool ok = true;
	for (int i = 0; i < 5; i++)
		ok = ok && from[i] >= 0 && (tmp[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 10)) >= 0;
	for (int i = 0; ok && i < 5; i++)
		ok = dup2(tmp[i], WFD_EL + i) >= 0;
	if (!ok) {
		log_error("launcher of %s: place its fds: %s", ct->id, strerror(errno));
		_exit(127);
	}
	close_range(WFD_EL + 5, ~0u, 0);
	const struct executor_opts *o = ct->o;
	char pipe_size[24], cdh[24];
	snprintf(pipe_size, sizeof(pipe_size), "%u", o->pipe_size);
	snprintf(cdh, sizeof(cdh), "%llu", (unsigned long long)o->cdh_api_timeout_ms);
	char *argv[] = {
		(char *)"kata-agent-launcher",
		(char *)"kata-agent-launch-worker",
		(char *)"--log-level",
		(char *)log_level_name(o->level),
		(char *)"--shared-dir",
		(char *)o->shared_dir,
		(char *)"--container-pipe-size",
		pipe_size,
		(char *)"--cdh-api-timeout-ms",
		cdh,
		(char *)"--launch-id",
		(char *)ct->id,
		(char *)"--launch-bundle",
		(char *)ct->bundle,
		(char *)"--launch-cgroups-path",
		(char *)ct->cgroups_path,
		o->cgroup_parent ? (char *)"--cgroup-parent" : NULL,
		(char *)o->cgroup_parent,
		NULL,
	};
	execv(o->launcher_path, argv);
	log_error("launcher of %s: exec %s: %s", ct->id, o->launcher_path, strerror(errno));
	_exit(127);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

int launcher_worker(struct executor *x, const char *phase, const char *id, const char *bundle,
		    const char *cgroups_path)
{
	log_init("launcher", STDERR_FILENO, x->o.level);
	/* They came without close-on-exec (kata-agent-launcher's placement):
	 * nothing this worker execs (hooks) may inherit them. */
	for (int fd = WFD_EL; fd <= WFD_PIDFD; fd++)
		if (fd_open(fd))
			fd_set_cloexec(fd);
	if (strcmp(phase, "serve") != 0 || !ipc_id_valid(id, false) || !fd_open(WFD_EL) ||
	    !fd_open(WFD_LM) || !fd_open(WFD_VERDICT)) {
		log_error("--launch-worker %s: not started by kata-agent-launcher", phase);
		return 2;
	}
	struct launch_ctx c = { .o = &x->o };
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.bundle, sizeof(c.bundle), "%s", bundle);
	snprintf(c.cgroups_path, sizeof(c.cgroups_path), "%s", cgroups_path);
	struct kerr e = { 0 };
	/* The executor made the cgroup; this finds it (and its v2 fd, for
	 * CLONE_INTO_CGROUP), as the spawner does for X. */
	x->cgc.parent = x->o.cgroup_parent;
	if (cg_open(&x->cgc, cgroups_path, id, &c.cg, &e) < 0) {
		log_error("launcher of %s: %s", id, e.msg);
		worker_end(WFD_VERDICT, VERDICT_EXIT);
	}
	struct launcher la = { .ct = &c, .el = WFD_EL, .lm = WFD_LM };
	la.init = (struct container_child){ .pid = 0, .pidfd = -1, .sync_fd = -1 };
	la.direct[0].fd = la.direct[1].fd = -1;
	struct resident rs = {
		.packed = fd_open(WFD_PACKED) ? WFD_PACKED : -1,
		.pidfd = fd_open(WFD_PIDFD) ? WFD_PIDFD : -1,
	};
	worker_main(&la, &rs, WFD_VERDICT);
}
