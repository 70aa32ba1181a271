/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker_ns.c - a worker's read-only mount namespace (worker_ns.h).
 */
#include "worker_ns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "libc_compat.h"

#define WORKER_NS_KEPT_MAX 4

static const char *const hidden[] = { "/dev", "/run" };

int worker_ns_readonly(const char *const *kept, size_t nkept, struct kerr *err)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	int fd[WORKER_NS_KEPT_MAX];
	if (nkept > WORKER_NS_KEPT_MAX)
		return kerr_set(err, -E2BIG, "%zu files to keep (at most %d)", nkept,
				WORKER_NS_KEPT_MAX);
	if (unshare(CLONE_NEWNS) < 0)
		return kerr_set(err, -errno, "unshare a mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return kerr_set(err, -errno, "make the mount namespace private: %s",
				strerror(errno));
	/* A file missing is left out: the tool says it cannot open it. */
	for (size_t i = 0; i < nkept; i++)
		fd[i] = open_tree(AT_FDCWD, kept[i],
				  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	int r = 0;
	for (size_t i = 0; r == 0 && i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (mount("tmpfs", hidden[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=16k,nr_inodes=16,mode=0755") < 0 &&
		    errno != ENOENT)
			r = kerr_set(err, -errno, "hide %s: %s", hidden[i], strerror(errno));
	for (size_t i = 0; i < nkept; i++) {
		if (fd[i] < 0)
			continue;
		if (r == 0) {
			int f = open(kept[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				     0600);
			if (f < 0 || close(f) < 0 ||
			    move_mount(fd[i], "", AT_FDCWD, kept[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
				r = kerr_set(err, -errno, "put %s back: %s", kept[i],
					     strerror(errno));
		}
		close(fd[i]);
	}
	if (r < 0)
		return r;
	if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)) < 0)
		return kerr_set(err, -errno, "make every mount read-only: %s", strerror(errno));
	if (chdir("/") < 0)
		return kerr_set(err, -errno, "chdir /: %s", strerror(errno));
	return 0;
}
