/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.h - the storages of CreateSandbox/CreateContainer (Grpc__Storage),
 * mounted in the guest by the executor.
 *
 * Offers: struct storage_policy, struct storage_set, storage_set_new(),
 *         storage_add(), storage_add_dev(), storage_set_free(),
 *         storage_set_count(), storage_block_at(), storage_dev_env.
 *
 * The handler is chosen by driver alone, as upstream (see
 * doc/storage-cgroups.md): "local" (a directory, mode= applied), "ephemeral"
 * (a tmpfs, or a hugetlbfs with its huge pages reserved), "virtio-fs" and
 * "9p", "watchable-bind" (a copy kept in sync, watcher.c), the block
 * devices "blk", "mmioblk", "scsi" and "nvdimm" (found by devices/probe.h,
 * mounted through the fd of the node the kernel named), "overlayfs" (every
 * layer below an allowed root, handed over as an fd), and "bind", our
 * extension: a bind mount of a guest path.  Every
 * path (bind source, mount point) must be below one of the policy's allowed
 * roots and is resolved without leaving it (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS); a mount point may contain no symlink at all
 * (RESOLVE_NO_SYMLINKS, INVALID_ARGUMENT).  Other drivers fail with
 * GRPC_UNIMPLEMENTED naming the driver.
 *
 * Mounts are refcounted by mount point (the directory it resolves to, not
 * its spelling) across every set of the process: the same storage added by
 * two owners (e.g. a "shared" storage used by the sandbox and a container)
 * is mounted once and undone with the last set that holds it, through the
 * mount's own fd.  Not thread-safe (the project has no threads).
 */
#ifndef KATA_EXECUTOR_STORAGE_H
#define KATA_EXECUTOR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>

#include "agent.pb-c.h"
#include "err.h"

struct dev_batch;
struct dev_env;

struct storage_policy {
	/* Absolute, canonical paths: bind sources and mount points must be
	 * under one of these. */
	const char *const *allowed_roots;
	size_t n_allowed_roots;
};

/* The storages one owner (sandbox or container) holds. */
struct storage_set;

int storage_set_new(struct storage_set **out, struct kerr *err);

/* Where the huge page pools are (/sys/kernel/mm/hugepages; tests point it
 * at a fake tree). */
extern const char *storage_hugepages_sysfs;

/* Mount one Grpc__Storage; refcounted by mount point across all sets.
 * On failure nothing is left mounted or created by this call. */
int storage_add(struct storage_set *set, const Grpc__Storage *s,
		const struct storage_policy *pol, struct kerr *err);

/* storage_add for a request whose devices were looked for first
 * (devices/hotplug.h): a block storage takes its device from devs; with
 * devs NULL, or a device not in it, the device is looked for once, now
 * (NOT_FOUND if it is not there: no wait). */
int storage_add_dev(struct storage_set *set, const Grpc__Storage *s,
		    const struct storage_policy *pol, const struct dev_batch *devs,
		    struct kerr *err);

/* Where sysfs and /dev are for block storages (tests point it at fake
 * trees; default devices/probe.h dev_env_real). */
extern const struct dev_env *storage_dev_env;

/* ResizeVolume: the block storage this executor mounted at mount_point
 * (NOT_FOUND otherwise; a raw "bind" volume INVALID_ARGUMENT). root: an
 * fd of the mounted filesystem's root (the caller closes it). */
struct storage_block {
	int root;
	dev_t dev;
	char fstype[32];
};
int storage_block_at(const char *mount_point, const struct storage_policy *pol,
		     struct storage_block *out, struct kerr *err);

/* Number of storages this set holds (tests, logs). */
size_t storage_set_count(const struct storage_set *set);

/* Unmount what this set holds (last reference unmounts), newest first; never
 * fails silently: logs what it could not undo. NULL is allowed. */
void storage_set_free(struct storage_set *set);
/* UpdateEphemeralMounts: reconfigure the tmpfs of an ephemeral storage
 * mounted before (looked up by its mount point; NOT_FOUND otherwise) with
 * s's options (fsgid= skipped, as upstream); other drivers
 * INVALID_ARGUMENT. */
int storage_update_ephemeral(const Grpc__Storage *s, const struct storage_policy *pol,
			     struct kerr *err);

/* RemoveStaleVirtiofsShareMounts: stat (without following) every mount
 * point of this mount namespace below dir, at most STORAGE_MAX_REVALIDATE
 * of them; returns how many were looked up. Failures are only logged. */
#define STORAGE_MAX_REVALIDATE 4096
int storage_revalidate_shares(const char *dir);

/* True when storage_add has a handler for this driver (GetGuestDetails
 * reports the list, as upstream's agent_details.storage_handlers). */
bool storage_driver_known(const char *driver);

#endif
