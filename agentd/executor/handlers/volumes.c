/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volumes.c - the executor's AddSwap and ResizeVolume (front-end side:
 * agentd/frontend/volumes.c; doc/storage-cgroups.md "Devices").
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
 * mounted is grown online to the size asked (0: the whole device) by
 * fs_grow.h, with the kernel's own online-resize ioctls: no tool is run.
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
#include "answer.h"
#include "sandbox.h"
#include "guest.h"
#include "volumes.h"
#include "fs_grow.h"
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
		return kerr_set_status(e,
				       errno == EINVAL  ? GRPC_INVALID_ARGUMENT
				       : errno == EBUSY ? GRPC_FAILED_PRECONDITION
							: GRPC_INTERNAL,
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
		answer_fe_error(x, op->fe_gen, op->fe_id, &e);
	} else {
		answer_fe_ok(x, op->fe_gen, op->fe_id);
	}
	swap_op_free(op);
}

int on_add_swap(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_add_swap_device *a = m->in;
	struct kerr e = { 0 };
	struct dev_query q = { .kind = DEV_BLK_PCI };
	if (pci_path_from_slots(a->slot, a->n, &q.pci, &e) < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	char p[64];
	pci_path_format(&q.pci, p, sizeof(p));
	snprintf(q.label, sizeof(q.label), "swap disk at PCI path %s", p);
	struct swap_op *op = calloc(1, sizeof(*op));
	if (!op) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	*op = (struct swap_op){ .x = x,
				.fe_id = m->hdr.id,
				.fe_gen = x->fe_generation,
				.next = x->swaps };
	x->swaps = op;
	if (dev_batch_new(x->hp, &op->b, &e) < 0 || dev_batch_add(op->b, &q, &e) < 0 ||
	    dev_batch_run(op->b, on_swap_disk, op, &e) < 0) {
		swap_op_free(op);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	return 0;
}

/* ---- ResizeVolume ---- */

static int resize(struct executor *x, const char *path, uint64_t size, struct kerr *e)
{
	struct storage_policy pol;
	const char *roots[1];
	executor_storage_policy(x, &pol, roots);
	struct storage_block blk;
	int r = storage_block_at(path, &pol, &blk, e);
	if (r < 0)
		return r;
	cleanup_close int root = blk.root;
	uint64_t have = 0;
	if ((r = fs_device_bytes(storage_dev_env, blk.dev, &have, e)) < 0)
		return r;
	uint64_t target = size ? size : have;
	if (target > have)
		return kerr_set_status(e, GRPC_FAILED_PRECONDITION, -ENOSPC,
				       "%s: the disk is %llu bytes, less than the %llu asked for "
				       "(resize the disk first)",
				       path, (unsigned long long)have, (unsigned long long)target);
	return fs_grow(root, blk.fstype, target, path, e);
}

int on_resize_volume(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_resize_volume *h = m->in;
	char path[IPC_PATH_MAX];
	size_t len = m->len - sizeof(*h);
	memcpy(path, h->path, len);
	path[len] = '\0';
	struct kerr e = { 0 };
	if (resize(x, path, h->size, &e) < 0) {
		kerr_prefix(&e, "ResizeVolume");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}
