/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel_check.c - the system calls the agent needs, probed (kernel_check.h).
 */
#include "kernel_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libc_compat.h"

/* Each call with arguments the kernel refuses before doing anything (fd -1,
 * a size of 0, a reversed range): the only question answered is ENOSYS or
 * not. */
static const struct {
	const char *name;
	long nr;
	long a[3];
} calls[] = {
	/* every read-only rootfs and mount, the workers' read-only namespaces (5.12) */
	{ "mount_setattr", SYS_mount_setattr, { -1, (long)"", AT_EMPTY_PATH } },
	/* every path the host names, resolved beneath its root (5.6) */
	{ "openat2", SYS_openat2, { -1, (long)"", 0 } },
	/* every child's fds closed before it runs anything (5.9) */
	{ "close_range", SYS_close_range, { 1, 0, 0 } },
	/* the container's init born in its cgroup (CLONE_INTO_CGROUP, 5.7) */
	{ "clone3", SYS_clone3, { 0, 0, 0 } },
	{ "pidfd_getfd", SYS_pidfd_getfd, { -1, 0, 0 } },
	/* the new mount API (5.2): mounts made from fds, never from paths */
	{ "open_tree", SYS_open_tree, { -1, (long)"", 0 } },
};

int kernel_check(char *missing, size_t len)
{
	int n = 0;
	size_t used = 0;
	if (len)
		missing[0] = '\0';
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		const long *a = calls[i].a;
		/* the arguments past the third are 0: a NULL or a size of 0 */
		if (syscall(calls[i].nr, a[0], a[1], a[2], 0L, 0L) >= 0 || errno != ENOSYS)
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
