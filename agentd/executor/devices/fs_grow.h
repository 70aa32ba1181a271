/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_grow.h - growing a mounted filesystem online, for ResizeVolume.
 *
 * With the kernel's own interfaces, what resize2fs and xfs_growfs do for a
 * mounted filesystem: EXT4_IOC_RESIZE_FS (the new block count) and
 * XFS_IOC_FSGROWFSDATA (the new data block count, after
 * XFS_IOC_FSGEOMETRY); no tool is run. Shrinking is refused
 * (INVALID_ARGUMENT), another filesystem is UNIMPLEMENTED.
 *
 * Offers: fs_device_bytes(), fs_grow().
 */
#ifndef KATA_DEVICES_FS_GROW_H
#define KATA_DEVICES_FS_GROW_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "probe.h"

/* The size of the disk dev now (sysfs dev/block/M:m/size, in sectors). */
int fs_device_bytes(const struct dev_env *env, dev_t dev, uint64_t *out, struct kerr *err);

/* Grow the fstype filesystem whose root is the fd root to target bytes
 * (rounded down to its blocks); what names it in errors. */
int fs_grow(int root, const char *fstype, uint64_t target, const char *what, struct kerr *err);

#endif
