/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x.c - X, the first process of a container. The executor asks the
 * spawner (spawner.c: its fork without the executor's seccomp filter) for
 * X, with the ends of the executor-launcher (EL), executor-monitor (EM)
 * and front-end-monitor (FM) channels (spawner_x); the spawner clones X as
 * the executor's child and runs x_main there. X makes the launcher-monitor channel (LM), forks the
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

#include "libc_compat.h"
#include "cleanup.h"
#include "executor.h"
#include "loop.h"
#include "x.h"
#include "launcher.h"
#include "fds.h"
#include "grpc_status.h"

/* Put fd at number to, without close-on-exec (dup2 clears it). */
static int place(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) < 0 ? -1 : 0;
}

void x_main(const struct launch_ctx *c, int el_l, int em_m, int fm_m)
{
	loop_signals_unblock();
	int lm[2];
	struct kerr e = { 0 };
	if (ipc_pair(lm, "launcher-monitor", &e) < 0) {
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
	char uid[24], gid[24], lpid[24];
	snprintf(lpid, sizeof(lpid), "%d", (int)l);
	snprintf(uid, sizeof(uid), "%lu", c->o->monitor_uid);
	snprintf(gid, sizeof(gid), "%lu", c->o->monitor_gid);
	char *argv[] = {
		(char *)"kata-agent-monitor",
		(char *)"--container-id",
		(char *)c->id,
		(char *)"--uid",
		uid,
		(char *)"--gid",
		gid,
		(char *)"--log-level",
		(char *)log_level_name(c->o->level),
		/* the monitor exits only after L (and so every worker) ended */
		(char *)"--launcher-pid",
		lpid,
		/* the monitor enforces [endpoints] on the front-end too */
		c->o->monitor_blocked[0] ? (char *)"--endpoints-blocked" : NULL,
		(char *)c->o->monitor_blocked,
		NULL,
	};
	execv(c->o->monitor_path, argv);
	log_error("container %s: exec %s: %s", c->id, c->o->monitor_path, strerror(errno));
	_exit(127);
}
