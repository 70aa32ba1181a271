/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sysfs.h - how the device layer walks sysfs: device directories are real
 * directories, so nothing on the way may be a symlink, and nothing may lead
 * above the fd the walk starts from (RESOLVE_SYSDEV); sysfs's own links
 * (class/..., bus/...) stay inside sysfs (RESOLVE_SYSFS).
 *
 * Offers: RESOLVE_SYSDEV, RESOLVE_SYSFS, sysfs_opendir().
 */
#ifndef KATA_DEVICES_SYSFS_H
#define KATA_DEVICES_SYSFS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "linux_compat.h"

#define RESOLVE_SYSDEV (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
#define RESOLVE_SYSFS (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

/* The directory rel below dirfd (RESOLVE_SYSDEV), for readdir; NULL with
 * errno set. */
static inline DIR *sysfs_opendir(int dirfd, const char *rel)
{
	int fd = sys_openat2(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, RESOLVE_SYSDEV);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

#endif
