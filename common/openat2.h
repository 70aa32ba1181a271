/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openat2.h - openat2(2), which glibc 2.36 does not wrap, for every process
 * that resolves a path it was given below a directory it trusts
 * (RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS, ...).
 *
 * Offers: sys_openat2() (no mode: it never creates; create with openat and
 * O_NOFOLLOW below a directory fd resolved this way).
 */
#ifndef KATA_COMMON_OPENAT2_H
#define KATA_COMMON_OPENAT2_H

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

static inline int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

#endif
