/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-launcher - the resident launcher L of one container, a few
 * pages: it exists so that every process of the container is a child of
 * the container's monitor M (doc/containers.md). The executor's fork that
 * X made before exec'ing the monitor serves the container's create and
 * start itself (launcher.c), then execs this binary, so L keeps none of
 * the executor's memory; it never reads a request. For each request that
 * waits on its executor channel it clones, with CLONE_PARENT (so the clone
 * is M's child as L is), a worker that execs kata-agent-launch-worker
 * (agentd/executor/launch_worker.c, launcher.c), which serves the
 * request (the setup stages it clones with CLONE_PARENT are M's children
 * too) and ends. L waits for it (its pidfd) and reads its verdict.
 *
 * Started with (0-2 and these, without close-on-exec):
 *   fd 3  EL: the executor's channel (only polled and peeked here)
 *   fd 4  LM: the monitor's channel (the workers' to use)
 *   fd 5  kata-agent-launch-worker (O_PATH), exec'd by each worker
 *   fd 6  the packed CreateContainerRequest (a sealed memfd)
 *   fd 7  the init's pidfd
 *   argv  kata-agent-launcher WORKER_ARGV... (the worker's argv;
 *         "--launch-worker serve" is appended)
 * Each worker gets fds 3-5, its end of a socketpair private to L and it at
 * fd 6 (its verdict), the packed request at 7 and the init's pidfd at 8.
 *
 * Root, all capabilities (the workers need them), no seccomp filter (the
 * container's processes must get exactly their spec's), not dumpable.
 * Its only inputs: readiness of EL, and one byte from each of its workers.
 *
 * Built by default as a static PIE on musl (agentd/meson.build: a few
 * pages per container), else on glibc: only what both libcs offer is used
 * (close_range through syscall(2): musl 1.2.3 has no wrapper).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "relro.h"

enum { FD_EL = 3, FD_LM = 4, FD_EXE = 5, FD_KEPT_PACKED = 6, FD_KEPT_PIDFD = 7 };
/* in a worker */
enum { FD_VERDICT = 6, FD_PACKED = 7, FD_PIDFD = 8 };
/* The verdict of a worker (launcher.c: VERDICT_*). */
enum { VERDICT_SERVE = 1, VERDICT_EXIT = 2 };
#define MAX_ARGS 64

struct state {
	int packed, pidfd; /* the init's request and pidfd (copies above 8) */
};

static void say(const char *what)
{
	/* No stdio: the binary stays small, and this rare line is plain text
	 * on the executor's stderr, as a crash message would be. */
	char num[16];
	int e = errno, i = (int)sizeof(num);
	num[--i] = '\n';
	do
		num[--i] = (char)('0' + e % 10);
	while ((e /= 10) && i > 0);
	struct iovec v[4] = {
		{ (void *)"kata-agent-launcher: ", 21 },
		{ (void *)what, strlen(what) },
		{ (void *)": errno ", 8 },
		{ num + i, sizeof(num) - (size_t)i },
	};
	(void)!writev(STDERR_FILENO, v, 4);
}

/* 1: a request waits on EL; 0: EL was closed (or failed). */
static int wait_request(void)
{
	for (;;) {
		struct pollfd p = { .fd = FD_EL, .events = POLLIN };
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return 0;
		char b;
		ssize_t n = recv(FD_EL, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n > 0)
			return 1;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return 0;
	}
}

/* Put fd at number to, without close-on-exec. */
static int place(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) < 0 ? -1 : 0;
}

static __attribute__((noreturn)) void worker(const struct state *st, int ws, char **argv)
{
	/* Above every target first, so no placement overwrites a source. */
	int v = fcntl(ws, F_DUPFD_CLOEXEC, 16);
	if (v < 0 || place(FD_EL, FD_EL) < 0 || place(FD_LM, FD_LM) < 0 ||
	    place(FD_EXE, FD_EXE) < 0 || place(v, FD_VERDICT) < 0 ||
	    place(st->packed, FD_PACKED) < 0 || place(st->pidfd, FD_PIDFD) < 0)
		_exit(127);
	syscall(SYS_close_range, FD_PIDFD + 1, ~0U, 0);
	syscall(SYS_execveat, FD_EXE, "", argv, environ, AT_EMPTY_PATH);
	_exit(127);
}

/* The worker's verdict once it ended; VERDICT_EXIT when it gave none (it
 * crashed: ending L closes EL, and the executor fails what was pending). */
static int verdict(int ws, int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	uint8_t v = 0;
	ssize_t n = recv(ws, &v, 1, MSG_DONTWAIT);
	if (n != 1 || (v != VERDICT_SERVE && v != VERDICT_EXIT)) {
		errno = EPROTO;
		say("a worker ended without a verdict; exiting");
		return VERDICT_EXIT;
	}
	return v;
}

int main(int argc, char **argv)
{
	if (relro_seal() < 0) {
		say("make the relocated data read-only");
		return 1;
	}
	/* execve made us dumpable again: not for a root process a container
	 * must not ptrace (the workers and setup stages inherit the flag). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc < 2 || argc > MAX_ARGS - 3 || fcntl(FD_EL, F_GETFD) < 0 ||
	    fcntl(FD_LM, F_GETFD) < 0 || fcntl(FD_EXE, F_GETFD) < 0 ||
	    fcntl(FD_KEPT_PACKED, F_GETFD) < 0 || fcntl(FD_KEPT_PIDFD, F_GETFD) < 0) {
		static const char usage[] = "Usage: kata-agent-launcher WORKER_ARGV... (fds 3-5 "
					    "as the executor gives them; not by hand)\n";
		(void)!write(STDERR_FILENO, usage, sizeof(usage) - 1);
		return 2;
	}
	char *wargv[MAX_ARGS];
	for (int i = 1; i < argc; i++)
		wargv[i - 1] = argv[i];
	wargv[argc - 1] = (char *)"--launch-worker";
	wargv[argc] = (char *)"serve";
	wargv[argc + 1] = NULL;
	/* Above the numbers a worker's fds take, so that placing them
	 * overwrites none of these. */
	struct state st = { .packed = fcntl(FD_KEPT_PACKED, F_DUPFD_CLOEXEC, 16),
			    .pidfd = fcntl(FD_KEPT_PIDFD, F_DUPFD_CLOEXEC, 16) };
	if (st.packed < 0 || st.pidfd < 0) {
		say("keep the init's fds");
		return 1;
	}
	close(FD_KEPT_PACKED);
	close(FD_KEPT_PIDFD);
	while (wait_request()) {
		int ws[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ws) < 0) {
			say("socketpair");
			break;
		}
		int pidfd = -1;
		struct clone_args ca = { .flags = CLONE_PARENT | CLONE_PIDFD,
					 .pidfd = (uint64_t)(uintptr_t)&pidfd };
		pid_t w = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (w == 0) {
			close(ws[0]);
			worker(&st, ws[1], wargv);
		}
		close(ws[1]);
		if (w < 0) {
			say("clone a worker");
			close(ws[0]);
			break;
		}
		int v = verdict(ws[0], pidfd);
		close(ws[0]);
		close(pidfd);
		if (v == VERDICT_EXIT)
			break;
	}
	return 0;
}
