/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.h - the storages of CreateSandbox/CreateContainer (Grpc__Storage),
 * mounted in the guest by the executor.
 *
 * Offers: struct storage_policy, struct storage_set, storage_set_new(),
 *         storage_add(), storage_add_dev(), storage_set_free(),
 *         storage_set_count(), storage_block_at(), storage_dev_env,
 *         storage_secure_begin(), storage_secure_begin_dev(),
 *         storage_secure_adopt(), storage_secure_abandon(),
 *         storage_secure_mounted(),
 *         storage_mkfs_check(), storage_device_unused(),
 *         storage_sandbox_check().
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
int storage_add(struct storage_set *set, const Grpc__Storage *s, const struct storage_policy *pol,
		struct kerr *err);

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

/* Secure storages (upstream block_handler.rs handle_block_storage): a
 * "blk", "mmioblk" or "scsi" storage with the driver option
 * "encryption_key=ephemeral" (which requires "create_filesystem") is not
 * mounted by the executor but by the CDH's SecureMount (secure_storage.h),
 * in three steps:
 *  - storage_secure_begin: 0 when s is no such storage, or its mount point
 *    is held already (storage_add_dev then takes another reference, as for
 *    any storage); 1 with *out: the device found as for any block storage
 *    (its numbers are what the CDH is told, never a host path) and unused
 *    (storage_device_unused), the mount point checked as for any storage
 *    (below an allowed root, no symlink, not a mount point already) and its
 *    missing directories made. storage_secure_begin_dev does the same for a
 *    device found otherwise (the trusted image storage: s is made by the
 *    executor, node is f's node opened by dev_node_open).
 *  - storage_secure_adopt, once the CDH answered: a filesystem no storage
 *    holds must be mounted there now (INTERNAL otherwise); it is held by
 *    set from then on, like any storage (refcounted, detached through its
 *    fd with the last reference, fsGroup applied as upstream's
 *    set_ownership); ss is freed;
 *  - storage_secure_abandon on any failure, or once the call of a
 *    container that went meanwhile has ended: a mount the CDH left there
 *    detached (true then), the directories made removed, ss freed (NULL
 *    allowed).
 * Between begin and adopt/abandon the mount point and the device are
 * pending: a storage at, below or above that mount point, or on that
 * device, is refused (FAILED_PRECONDITION), so a mount the CDH makes late
 * never lands under another storage, and two calls never format one
 * device.
 *
 * "create_filesystem" alone (upstream ensure_ext4_filesystem): before the
 * storage is added, the executor formats its device with mkfs.ext4 in a
 * worker (secure_storage.h); storage_mkfs_check says whether s needs that:
 * 1 with *f (the device found as above, unused) and label; 0 when s has no
 * such option, or its mount point is held already (formatted and mounted
 * for another container of the pod); INVALID_ARGUMENT for an fstype other
 * than ext4 (upstream's message).
 *
 * Either option on a storage of another driver ("local", "bind", ...) is
 * INVALID_ARGUMENT, here and in storage_add_dev (upstream ignores them). */
#define STORAGE_OPT_EPHEMERAL_KEY "encryption_key=ephemeral"
#define STORAGE_OPT_CREATE_FS "create_filesystem"
struct storage_secure;
struct dev_found;
int storage_secure_begin(const Grpc__Storage *s, const struct storage_policy *pol,
			 const struct dev_batch *devs, struct storage_secure **out,
			 struct kerr *err);
int storage_secure_begin_dev(const Grpc__Storage *s, const struct storage_policy *pol, int node,
			     const struct dev_found *f, const char *label,
			     struct storage_secure **out, struct kerr *err);
const char *storage_secure_mount_point(const struct storage_secure *ss);
const char *storage_secure_device_id(const struct storage_secure *ss); /* "major:minor" */
int storage_secure_adopt(struct storage_set *set, struct storage_secure *ss, const Grpc__Storage *s,
			 struct kerr *err);
bool storage_secure_abandon(struct storage_secure *ss);
/* Whether a mount no storage holds is at ss's mount point now (reached
 * without a symlink): the CDH's, for a call given up on (secure_storage.h
 * keeps such an ss pending and asks again). */
bool storage_secure_mounted(const struct storage_secure *ss);
int storage_mkfs_check(const Grpc__Storage *s, const struct storage_policy *pol,
		       const struct dev_batch *devs, struct dev_found *f, char *label,
		       size_t label_len, struct kerr *err);

/* CreateSandbox's storages: either option is INVALID_ARGUMENT there.
 * Upstream's add_storages would act on it, but neither runtime sends a
 * block storage in CreateSandbox (Go setupStorages, runtime-rs
 * get_storage_for_sandbox: the shared filesystem and /dev/shm only), and
 * a CreateSandbox answered only after a CDH call or a mkfs would need the
 * create's worker path; refused rather than mounted as a plain block
 * storage, which would mean something else than asked. */
int storage_sandbox_check(const Grpc__Storage *s, struct kerr *err);

/* Whether the device f (node: its O_PATH fd) may be formatted or handed
 * to the CDH: not the device of the guest's root filesystem, not in use
 * (an exclusive open succeeds: no filesystem in any mount namespace, no
 * device-mapper, md or swap on it or a partition of it), not a block
 * storage of this executor, not pending. FAILED_PRECONDITION naming it. */
int storage_device_unused(int node, const struct dev_found *f, const char *label, struct kerr *err);

/* True when storage_add has a handler for this driver (GetGuestDetails
 * reports the list, as upstream's agent_details.storage_handlers). */
bool storage_driver_known(const char *driver);

#endif
