/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libc_compat.h - the Linux interfaces glibc 2.36 declares and musl 1.2.3
 * does not, for the code built on both (the three daemons are static PIEs
 * on musl with -Dmusl_daemons, their unit tests run on glibc:
 * agentd/meson.build). On glibc it includes glibc's own headers and adds
 * nothing; on musl the syscalls are called through syscall(2), the
 * constants and struct statx come from the kernel's uapi headers.
 *
 * Offers (musl): close_range, statx, the new mount API (open_tree,
 * move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr),
 * pidfd_open, pidfd_send_signal, pidfd_getfd, sigabbrev_np, scandirat
 * (libc_compat.c), and malloc_trim, which empties malloc_cache.h's cache
 * (mallocng gives freed memory back to the kernel itself).
 */
#ifndef KATA_COMMON_LIBC_COMPAT_H
#define KATA_COMMON_LIBC_COMPAT_H

#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#include <sys/pidfd.h>
#else
#include <linux/close_range.h>
#include <linux/mount.h>
#include <linux/stat.h>

#include "malloc_cache.h"

static inline int close_range(unsigned first, unsigned last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

static inline int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)
{
	return (int)syscall(SYS_statx, dirfd, path, flags, mask, buf);
}

static inline int open_tree(int dirfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

static inline int move_mount(int from_dirfd, const char *from_path, int to_dirfd,
			     const char *to_path, unsigned flags)
{
	return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}

static inline int fsopen(const char *fsname, unsigned flags)
{
	return (int)syscall(SYS_fsopen, fsname, flags);
}

static inline int fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
	return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

static inline int fsmount(int fd, unsigned flags, unsigned attr_flags)
{
	return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}

static inline int fspick(int dirfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_fspick, dirfd, path, flags);
}

static inline int mount_setattr(int dirfd, const char *path, unsigned flags,
				struct mount_attr *attr, size_t size)
{
	return (int)syscall(SYS_mount_setattr, dirfd, path, flags, attr, size);
}

static inline int pidfd_open(pid_t pid, unsigned flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

static inline int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned flags)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

static inline int pidfd_getfd(int pidfd, int targetfd, unsigned flags)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, flags);
}

/* mallocng gives freed memory back itself; what is left to give is what
 * the daemons' cache in front of it keeps (malloc_cache.h). */
static inline int malloc_trim(size_t pad)
{
	(void)pad;
	malloc_cache_flush();
	return 1;
}

/* "KILL" for SIGKILL, as glibc's; NULL for a number with no name. */
const char *sigabbrev_np(int sig);

int scandirat(int dirfd, const char *path, struct dirent ***names,
	      int (*filter)(const struct dirent *),
	      int (*compar)(const struct dirent **, const struct dirent **));
#endif

#endif
