/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux_compat.h - thin wrappers for the kernel interfaces glibc 2.36 has no
 * wrapper for (clone3, pivot_root; openat2 is in common/openat2.h), and the
 * clone flags old headers may lack. The new mount API (open_tree, move_mount, fsopen, fsconfig,
 * fsmount, mount_setattr) and close_range/pidfd_* come from glibc itself, or on musl from
 * common/libc_compat.h.
 *
 * struct kclone_args mirrors the kernel's struct clone_args (version 2, 88
 * bytes, with the cgroup field); it has its own name because <linux/sched.h>
 * cannot be included next to glibc's <sched.h> without macro clashes.
 */
#ifndef KATA_CONTAINER_LINUX_COMPAT_H
#define KATA_CONTAINER_LINUX_COMPAT_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "openat2.h" /* sys_openat2 */

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

struct kclone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};
_Static_assert(sizeof(struct kclone_args) == 88, "clone_args v2 is 88 bytes");

/* Fork-like clone3 (no CLONE_VM, no new stack): returns 0 in the child. */
static inline pid_t sys_clone3(struct kclone_args *args)
{
	return (pid_t)syscall(SYS_clone3, args, sizeof(*args));
}

/* A fork-like child with a pidfd, flags from CLONE_* (below 1 << 32, no
 * exit signal: CLONE_PARENT children take their parent's). clone3 first;
 * where a seccomp filter refuses it (Docker's profile answers ENOSYS so
 * that libc falls back), clone(2), whose pidfd comes back through the
 * parent_tid argument (the third, except on s390). */
static inline pid_t sys_clone_pidfd(uint64_t flags, int *pidfd)
{
	struct kclone_args ca = { .flags = flags | CLONE_PIDFD,
				  .pidfd = (uint64_t)(uintptr_t)pidfd };
	pid_t pid = sys_clone3(&ca);
	if (pid >= 0 || (errno != ENOSYS && errno != EPERM))
		return pid;
#if defined(__s390__) || defined(__s390x__)
	return (pid_t)syscall(SYS_clone, 0L, (unsigned long)(flags | CLONE_PIDFD), pidfd, NULL, 0L);
#else
	return (pid_t)syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD), 0L, pidfd, NULL, 0L);
#endif
}

static inline int sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* How every path coming from a spec is resolved against the container root:
 * "/" and ".." stay inside the root, and /proc/self/fd style links, which
 * could jump anywhere, are refused. */
#define RESOLVE_CONTAINER (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

#endif
