/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_grow.c - online growth of ext4 and xfs (fs_grow.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs_grow.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "log.h"
#include "sysfs.h"

/* The kernel's online-resize interfaces (linux/ext4.h is not a uapi header
 * everywhere, xfs_fs.h comes with xfsprogs). */
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
struct xfs_fsop_geom_v1 {
	uint32_t blocksize, rtextsize, agblocks, agcount, logblocks, sectsize, inodesize, imaxpct;
	uint64_t datablocks, rtblocks, rtextents, logstart;
	unsigned char uuid[16];
	uint32_t sunit, swidth;
	int32_t version;
	uint32_t flags, logsectsize, rtsectsize, dirblocksize;
};
struct xfs_growfs_data {
	uint64_t newblocks;
	uint32_t imaxpct;
};
#define XFS_IOC_FSGEOMETRY_V1 _IOR('X', 100, struct xfs_fsop_geom_v1)
#define XFS_IOC_FSGROWFSDATA _IOW('X', 110, struct xfs_growfs_data)

/* The disk's size now, from sysfs (its "size" in 512-byte sectors). */
int fs_device_bytes(const struct dev_env *env, dev_t dev, uint64_t *out, struct kerr *err)
{
	cleanup_close int sysfd = open(env->sysfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char rel[64], buf[32];
	snprintf(rel, sizeof(rel), "dev/block/%u:%u/size", major(dev), minor(dev));
	cleanup_close int fd = sysfd < 0 ? -1
					 : sys_openat2(sysfd, rel, O_RDONLY | O_CLOEXEC,
						       RESOLVE_SYSFS);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return kerr_set(err, n < 0 ? -errno : -EIO, "/sys/%s: %s", rel,
				n < 0 ? strerror(errno) : "empty");
	buf[n] = '\0';
	*out = strtoull(buf, NULL, 10) * 512;
	return 0;
}

static int grow_ext4(int root, uint64_t target, const char *path, struct kerr *err)
{
	struct statfs sf;
	if (fstatfs(root, &sf) < 0)
		return kerr_set(err, -errno, "statfs %s: %s", path, strerror(errno));
	uint64_t blocks = target / (uint64_t)sf.f_bsize;
	if (ioctl(root, EXT4_IOC_RESIZE_FS, &blocks) < 0)
		return kerr_set_status(err, errno == EINVAL ? GRPC_INVALID_ARGUMENT : GRPC_INTERNAL,
				       -errno, "ext4 online resize of %s to %llu blocks: %s%s",
				       path, (unsigned long long)blocks, strerror(errno),
				       errno == EINVAL ? " (a filesystem cannot shrink)" : "");
	log_info("ResizeVolume: %s (ext4) is %llu blocks of %ld bytes", path,
		 (unsigned long long)blocks, (long)sf.f_bsize);
	return 0;
}

static int grow_xfs(int root, uint64_t target, const char *path, struct kerr *err)
{
	struct xfs_fsop_geom_v1 g;
	if (ioctl(root, XFS_IOC_FSGEOMETRY_V1, &g) < 0)
		return kerr_set(err, -errno, "xfs geometry of %s: %s", path, strerror(errno));
	struct xfs_growfs_data d = { .newblocks = target / g.blocksize, .imaxpct = g.imaxpct };
	if (d.newblocks < g.datablocks)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s (xfs) has %llu blocks: it cannot shrink to %llu", path,
				       (unsigned long long)g.datablocks,
				       (unsigned long long)d.newblocks);
	if (d.newblocks > g.datablocks && ioctl(root, XFS_IOC_FSGROWFSDATA, &d) < 0)
		return kerr_set(err, -errno, "xfs online grow of %s to %llu blocks: %s", path,
				(unsigned long long)d.newblocks, strerror(errno));
	log_info("ResizeVolume: %s (xfs) is %llu blocks of %u bytes", path,
		 (unsigned long long)d.newblocks, g.blocksize);
	return 0;
}

int fs_grow(int root, const char *fstype, uint64_t target, const char *what, struct kerr *err)
{
	if (!strcmp(fstype, "ext4"))
		return grow_ext4(root, target, what, err);
	if (!strcmp(fstype, "xfs"))
		return grow_xfs(root, target, what, err);
	return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
			       "%s: growing a %s filesystem is not supported (ext4 and xfs are)",
			       what, fstype);
}
