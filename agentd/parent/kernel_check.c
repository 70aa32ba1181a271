/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel_check.c - the system calls the agent needs, probed (kernel_check.h).
 */
#include "kernel_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libc_compat.h"

/* Each probe returns true when the call exists. The arguments are ones the
 * kernel refuses before doing anything (fd -1, a reversed range), so the
 * only question answered is ENOSYS or not. */
static bool has(long r)
{
	return r >= 0 || errno != ENOSYS;
}

static bool has_mount_setattr(void)
{
	/* every read-only rootfs and mount, the workers' read-only namespaces */
	return has(syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, NULL, 0));
}

static bool has_openat2(void)
{
	/* every path the host names, resolved beneath its root */
	return has(syscall(SYS_openat2, -1, "", NULL, 0));
}

static bool has_close_range(void)
{
	/* every child's fds closed before it runs anything (5.9) */
	return has(syscall(SYS_close_range, 1u, 0u, 0));
}

static bool has_clone3(void)
{
	/* the container's init born in its cgroup (CLONE_INTO_CGROUP, 5.7) */
	return has(syscall(SYS_clone3, NULL, 0));
}

static bool has_pidfd_getfd(void)
{
	return has(syscall(SYS_pidfd_getfd, -1, 0, 0));
}

static bool has_open_tree(void)
{
	/* the new mount API (5.2): mounts made from fds, never from paths */
	return has(syscall(SYS_open_tree, -1, "", 0));
}

static const struct {
	const char *name;
	bool (*probe)(void);
} calls[] = {
	{ "mount_setattr", has_mount_setattr }, { "openat2", has_openat2 },
	{ "close_range", has_close_range },     { "clone3", has_clone3 },
	{ "pidfd_getfd", has_pidfd_getfd },     { "open_tree", has_open_tree },
};

int kernel_check(char *missing, size_t len)
{
	int n = 0;
	size_t used = 0;
	if (len)
		missing[0] = '\0';
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (calls[i].probe())
			continue;
		n++;
		if (used < len) {
			int w = snprintf(missing + used, len - used, "%s%s", used ? ", " : "",
					 calls[i].name);
			used = w < 0 ? len : used + (size_t)w;
		}
	}
	return n;
}
