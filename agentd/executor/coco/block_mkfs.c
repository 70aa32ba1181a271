/* SPDX-License-Identifier: Apache-2.0 */
/*
 * block_mkfs.c - mkfs.ext4 on a block storage's device, run from a
 * confined worker (block_mkfs.h).
 */
#include "block_mkfs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "probe.h"

#define OUT_KEEP 200 /* bytes of each stream kept for the error */

struct out {
	int fd;
	char buf[OUT_KEEP + 1];
	size_t len;
};

static int find_mkfs(char *path, size_t len)
{
	static const char *const dirs[] = { BLOCK_MKFS_DIRS };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, len, "%s/mkfs.ext4", dirs[i]);
		if (access(path, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static __attribute__((noreturn)) void run_child(const char *prog, int node, int o, int e)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || dup2(node, 3) < 0)
		_exit(127);
	close_range(4, ~0u, 0);
	char *const argv[] = { "mkfs.ext4", BLOCK_MKFS_ARGS, "/proc/self/fd/3", NULL };
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	execve(prog, argv, envp);
	_exit(127);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read both streams until they close or the deadline passes; keep the
 * first OUT_KEEP bytes of each. False at the deadline. */
static bool collect(struct out o[2], uint64_t deadline)
{
	while (o[0].fd >= 0 || o[1].fd >= 0) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return false;
		struct pollfd p[2] = { { .fd = o[0].fd, .events = POLLIN },
				       { .fd = o[1].fd, .events = POLLIN } };
		int n = poll(p, 2, (int)(deadline - now));
		if (n < 0 && errno != EINTR)
			return false;
		for (int i = 0; n > 0 && i < 2; i++) {
			if (o[i].fd < 0 || !p[i].revents)
				continue;
			char tmp[4096];
			ssize_t r = read(o[i].fd, tmp, sizeof(tmp));
			if (r <= 0) {
				close(o[i].fd);
				o[i].fd = -1;
				continue;
			}
			size_t k = OUT_KEEP - o[i].len < (size_t)r ? OUT_KEEP - o[i].len
								   : (size_t)r;
			memcpy(o[i].buf + o[i].len, tmp, k);
			o[i].len += k;
		}
	}
	return true;
}

static void status_text(int st, char *out, size_t len)
{
	if (WIFEXITED(st))
		snprintf(out, len, "exit status: %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, len, "signal: %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(out, len, "wait status 0x%x", (unsigned)st);
}

int block_mkfs_ext4(const struct dev_env *env, const struct dev_found *f, uint64_t timeout_ms,
		    struct kerr *err)
{
	char prog[64];
	if (find_mkfs(prog, sizeof(prog)) < 0)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
				       "run mkfs.ext4 for /dev/%s: no mkfs.ext4 in /usr/sbin, /sbin, "
				       "/usr/bin or /bin",
				       f->devname);
	cleanup_close int node = dev_node_open(env, f, err);
	if (node == -ENOENT)
		return kerr_set_status(err, GRPC_NOT_FOUND, -ENOENT, "/dev/%s is gone", f->devname);
	if (node < 0)
		return node;
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0)
		return kerr_set(err, -errno, "pipe: %s", strerror(errno));
	if (pipe2(pe, O_CLOEXEC) < 0) {
		int e = errno;
		close(po[0]);
		close(po[1]);
		return kerr_set(err, -e, "pipe: %s", strerror(e));
	}
	pid_t pid = fork();
	if (pid == 0)
		run_child(prog, node, po[1], pe[1]);
	int fe = errno;
	close(po[1]);
	close(pe[1]);
	struct out o[2] = { { .fd = po[0] }, { .fd = pe[0] } };
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return kerr_set(err, -fe, "run mkfs.ext4 for /dev/%s: fork: %s", f->devname,
				strerror(fe));
	}
	bool in_time = collect(o, now_ms() + timeout_ms);
	if (!in_time)
		kill(pid, SIGKILL);
	for (int i = 0; i < 2; i++)
		if (o[i].fd >= 0)
			close(o[i].fd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!in_time)
		return kerr_set_status(err, GRPC_DEADLINE_EXCEEDED, -ETIME,
				       "mkfs.ext4 for /dev/%s did not finish within %llu ms: killed",
				       f->devname, (unsigned long long)timeout_ms);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char stext[64];
	status_text(st, stext, sizeof(stext));
	return kerr_set_status(err, GRPC_INTERNAL, -EIO,
			       "mkfs.ext4 failed for /dev/%s: status=%s, stdout=%s, stderr=%s",
			       f->devname, stext, o[0].buf, o[1].buf);
}
