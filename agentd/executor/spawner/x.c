/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x.c - create the processes of one container. The executor asks the
 * spawner (spawner.c: its fork without the executor's seccomp filter) for
 * X, with the ends of the executor-launcher (EL), executor-monitor (EM)
 * and front-end-monitor (FM) channels; the spawner clones X as the
 * executor's child. X makes the launcher-monitor channel (LM), forks the
 * launcher L (executor code, root, keeps only EL, LM and the cgroup fd),
 * becomes a child subreaper and execs kata-agent-monitor with its channels
 * at fds 3 (executor), 4 (launcher), 5 (front-end). L is X's child, so
 * once X is the monitor, the monitor reaps L; the container processes L
 * clones with CLONE_PARENT are the monitor's children.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "executor.h"
#include "containers.h"
#include "x.h"
#include "spawner.h"
#include "launcher.h"
#include "fds.h"
#include "grpc_status.h"

static int pair(int sp[2], const char *what, struct kerr *err)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return kerr_set(err, -errno, "socketpair %s: %s", what, strerror(errno));
	return 0;
}

/* Put fd at number to, without close-on-exec (dup2 clears it). */
static int place(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) < 0 ? -1 : 0;
}

void x_main(const struct launch_ctx *c, int el_l, int em_m, int fm_m)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int lm[2];
	struct kerr e = { 0 };
	if (pair(lm, "launcher-monitor", &e) < 0) {
		log_error("container %s: %s", c->id, e.msg);
		_exit(127);
	}
	/* Orphans of the container (e.g. a daemon's double fork) come to the
	 * monitor, not to the executor. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		log_error("container %s: PR_SET_CHILD_SUBREAPER: %s", c->id, strerror(errno));
		_exit(127);
	}
	pid_t l = fork();
	if (l < 0) {
		log_error("container %s: fork the launcher: %s", c->id, strerror(errno));
		_exit(127);
	}
	if (l == 0) {
		log_init("launcher", STDERR_FILENO, c->o->level);
		/* Not the executor's other channels: an extra copy of another
		 * container's launcher end would keep that launcher from ever
		 * seeing EOF, and the front-end's is not the launcher's to use. */
		int keep[3] = { el_l, lm[0], cg_v2_fd(c->cg) };
		fd_close_except(keep, 3);
		launcher_main(c, el_l, lm[0]);
	}
	/* Move the three channels to 3, 4, 5 via numbers above them, so no
	 * placement overwrites a source not yet moved. */
	int a = fcntl(em_m, F_DUPFD_CLOEXEC, 10), b = fcntl(lm[1], F_DUPFD_CLOEXEC, 10),
	    d = fcntl(fm_m, F_DUPFD_CLOEXEC, 10);
	if (a < 0 || b < 0 || d < 0 || place(a, 3) < 0 || place(b, 4) < 0 || place(d, 5) < 0) {
		log_error("container %s: place the monitor's fds: %s", c->id, strerror(errno));
		_exit(127);
	}
	close_range(6, ~0u, 0);
	char uid[24], gid[24];
	snprintf(uid, sizeof(uid), "%lu", c->o->monitor_uid);
	snprintf(gid, sizeof(gid), "%lu", c->o->monitor_gid);
	char *argv[] = {
		(char *)"kata-agent-monitor",
		(char *)"--container-id", (char *)c->id,
		(char *)"--uid", uid,
		(char *)"--gid", gid,
		(char *)"--log-level", (char *)log_level_name(c->o->level),
		/* the monitor enforces [endpoints] on the front-end too */
		c->o->endpoints ? (char *)"--endpoints" : NULL, (char *)c->o->endpoints,
		NULL,
	};
	execv(c->o->monitor_path, argv);
	log_error("container %s: exec %s: %s", c->id, c->o->monitor_path, strerror(errno));
	_exit(127);
}

int x_spawn(struct container *ct, int *el_out, int *em_out, int *fm_out,
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
	if ((r = pair(el, "executor-launcher", err)) < 0 ||
	    (r = pair(em, "executor-monitor", err)) < 0 ||
	    (r = pair(fm, "front-end-monitor", err)) < 0)
		goto out;
	int fds[3] = { el[1], em[1], fm[1] };
	pid_t pid = 0;
	if ((r = spawner_x(ct->x, &s, fds, &pid, err)) < 0)
		goto out;
	container_set_xpid(ct, pid);
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
