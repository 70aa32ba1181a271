/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volume_ops.c - the executor's AddSwap and ResizeVolume (front-end side:
 * agentd/frontend/devices.c; doc/storage-cgroups.md "Devices").
 *
 * AddSwap (upstream do_add_swap): the disk at the PCI path is found (or
 * waited for, as CreateContainer's devices), its node opened as the kernel
 * named it and checked; it is opened exclusively (a disk that is mounted or
 * already swapped on is refused, EBUSY, before a byte is written), given a
 * swap header as AddSwapPath does (the runtime's mkswap of the image is
 * not relied on) and swapped on through the checked fd.
 *
 * ResizeVolume (upstream answers UNIMPLEMENTED; the runtime sends it for
 * direct-assigned volumes): the filesystem of a block storage this executor
 * mounted is grown online to the size asked (0: the whole device), with
 * the kernel's own online-resize ioctls, EXT4_IOC_RESIZE_FS for ext4 and
 * XFS_IOC_FSGROWFSDATA for xfs, what resize2fs and xfs_growfs do for a
 * mounted filesystem: no tool is run. Shrinking is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "executor.h"
#include "grpc_status.h"
#include "hotplug.h"
#include "linux_compat.h"
#include "probe.h"

/* ---- AddSwap ---- */

struct swap_op {
	struct executor *x;
	uint32_t fe_id, fe_gen;
	struct dev_batch *b;
	struct swap_op *next;
};

static void swap_op_free(struct swap_op *op)
{
	for (struct swap_op **pp = &op->x->swaps; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	dev_batch_free(op->b);
	free(op);
}

void swap_ops_free(struct executor *x)
{
	while (x->swaps)
		swap_op_free(x->swaps);
}

/* The header, then swapon, on the disk f (checked node, exclusive open). */
static int swap_on_disk(struct executor *x, const struct dev_found *f, const char *label,
			struct kerr *e)
{
	cleanup_close int node = dev_node_open(hotplug_env(x->hp), f, e);
	if (node < 0)
		return node == -ENOENT ? kerr_set_status(e, GRPC_NOT_FOUND, -ENOENT,
							 "/dev/%s is gone", f->devname)
				       : node;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", node);
	cleanup_close int rw = open(p, O_RDWR | O_EXCL | O_CLOEXEC);
	if (rw < 0)
		return kerr_set_status(e, errno == EBUSY ? GRPC_FAILED_PRECONDITION : GRPC_INTERNAL,
				       -errno, "/dev/%s: %s%s", f->devname, strerror(errno),
				       errno == EBUSY ? " (mounted, or swapped on already)" : "");
	long ps = sysconf(_SC_PAGESIZE);
	int r = swap_header_write(rw, ps > 0 ? (size_t)ps : 4096u, e);
	if (r < 0)
		return kerr_prefix(e, "/dev/%s", f->devname);
	close(take_fd(&rw)); /* swapon claims the disk itself */
	if (swapon(p, 0) < 0)
		return kerr_set_status(e, errno == EINVAL ? GRPC_INVALID_ARGUMENT
				       : errno == EBUSY ? GRPC_FAILED_PRECONDITION : GRPC_INTERNAL,
				       -errno, "swapon /dev/%s: %s", f->devname, strerror(errno));
	log_info("AddSwap: swapping on /dev/%s (%s)", f->devname, label);
	return 0;
}

static void on_swap_disk(struct dev_batch *b, const struct kerr *failure, void *data)
{
	struct swap_op *op = data;
	struct executor *x = op->x;
	struct kerr e = { 0 };
	int r = -1;
	if (failure)
		e = *failure;
	else
		r = swap_on_disk(x, dev_batch_found(b, 0), "AddSwap", &e);
	if (r < 0) {
		kerr_prefix(&e, "AddSwap");
		log_warn("%s", e.msg);
		exec_err_to_fe(x, op->fe_gen, op->fe_id, &e);
	} else {
		exec_ok_to_fe(x, op->fe_gen, op->fe_id);
	}
	swap_op_free(op);
}

int on_add_swap_device(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	int r = exec_need_id(m, err);
	if (r < 0)
		return r;
	struct ipc_add_swap_device a;
	memcpy(&a, m->payload, sizeof(a));
	struct kerr e = { 0 };
	struct dev_query q = { .kind = DEV_BLK_PCI };
	if (pci_path_from_slots(a.slot, a.n, &q.pci, &e) < 0)
		return exec_fail(c, m->hdr.id, &e, err);
	char p[64];
	pci_path_format(&q.pci, p, sizeof(p));
	snprintf(q.label, sizeof(q.label), "swap disk at PCI path %s", p);
	struct swap_op *op = calloc(1, sizeof(*op));
	if (!op) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		return exec_fail(c, m->hdr.id, &e, err);
	}
	*op = (struct swap_op){ .x = x, .fe_id = m->hdr.id, .fe_gen = x->fe_generation,
				.next = x->swaps };
	x->swaps = op;
	if (dev_batch_new(x->hp, &op->b, &e) < 0 || dev_batch_add(op->b, &q, &e) < 0 ||
	    dev_batch_run(op->b, on_swap_disk, op, &e) < 0) {
		swap_op_free(op);
		return exec_fail(c, m->hdr.id, &e, err);
	}
	return 0;
}

/* ---- ResizeVolume ---- */

/* The kernel's online-resize interfaces (linux/ext4.h is not a uapi header
 * everywhere, xfs_fs.h comes with xfsprogs). */
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
struct xfs_fsop_geom_v1 {
	uint32_t blocksize, rtextsize, agblocks, agcount, logblocks, sectsize, inodesize,
		imaxpct;
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
#define XFS_SUPER_MAGIC 0x58465342

/* The disk's size now, from sysfs (its "size" in 512-byte sectors). */
static int device_bytes(dev_t dev, uint64_t *out, struct kerr *err)
{
	cleanup_close int sysfd = open(storage_dev_env->sysfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char rel[64], buf[32];
	snprintf(rel, sizeof(rel), "dev/block/%u:%u/size", major(dev), minor(dev));
	cleanup_close int fd = sysfd < 0 ? -1
					 : sys_openat2(sysfd, rel, O_RDONLY | O_CLOEXEC,
						       RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
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
				       -errno, "ext4 online resize of %s to %llu blocks: %s%s", path,
				       (unsigned long long)blocks, strerror(errno),
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

static int resize(struct executor *x, const char *path, uint64_t size, struct kerr *e)
{
	struct storage_policy pol;
	const char *roots[1];
	storage_policy_of(x, &pol, roots);
	struct storage_block blk;
	int r = storage_block_at(path, &pol, &blk, e);
	if (r < 0)
		return r;
	cleanup_close int root = blk.root;
	uint64_t have = 0;
	if ((r = device_bytes(blk.dev, &have, e)) < 0)
		return r;
	uint64_t target = size ? size : have;
	if (target > have)
		return kerr_set_status(e, GRPC_FAILED_PRECONDITION, -ENOSPC,
				       "%s: the disk is %llu bytes, less than the %llu asked for "
				       "(resize the disk first)", path, (unsigned long long)have,
				       (unsigned long long)target);
	if (!strcmp(blk.fstype, "ext4"))
		return grow_ext4(root, target, path, e);
	if (!strcmp(blk.fstype, "xfs"))
		return grow_xfs(root, target, path, e);
	return kerr_set_status(e, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
			       "%s: growing a %s filesystem is not supported (ext4 and xfs are)",
			       path, blk.fstype);
}

int on_resize_volume(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	int r = exec_need_id(m, err);
	if (r < 0)
		return r;
	struct ipc_resize_volume h;
	memcpy(&h, m->payload, sizeof(h));
	char path[IPC_PATH_MAX];
	size_t len = m->len - sizeof(h);
	memcpy(path, m->payload + sizeof(h), len);
	path[len] = '\0';
	struct kerr e = { 0 };
	if (resize(x, path, h.size, &e) < 0) {
		kerr_prefix(&e, "ResizeVolume");
		return exec_fail(c, m->hdr.id, &e, err);
	}
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}
