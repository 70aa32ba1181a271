/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secure_storage.h - CreateContainer's storages a worker prepares before
 * they are held like any other (storage.h):
 *  - encrypted block storages ("encryption_key=ephemeral" with
 *    "create_filesystem"): the guest's Confidential Data Hub formats the
 *    device with a key only it knows and mounts it (upstream
 *    block_handler.rs handle_block_storage -> rpc.rs cdh_secure_mount ->
 *    SecureMountService.SecureMount);
 *  - the trusted image storage: a spec device /dev/trusted_store is
 *    SecureMounted at <shared dir>/image/ before the storages (upstream
 *    rpc.rs cdh_handler_trusted_storage, KATA_IMAGE_WORK_DIR), once per
 *    sandbox, held by the sandbox (sb.trusted) until DestroySandbox;
 *  - plain block storages with "create_filesystem": mkfs.ext4 on the
 *    device (block_mkfs.h), then the storage is added as any block storage.
 *
 * The calls are made by workers (cdh_job.h), never in the executor's loop.
 * SecureMount gets upstream's arguments: volume_type "block-device",
 * options deviceId (the "major:minor" of the device the executor found),
 * sourceType "empty", targetType "fileSystem", filesystemType "ext4",
 * mkfsOpts ("-O ^has_journal -m 0 -i 163840 -I 128" for an emptyDir, "-E
 * lazy_journal_init" for the trusted storage), encryptionType "luks2",
 * dataIntegrity (agent.secure_storage_integrity, "true" or "false"), no
 * flags, mount_point the storage's (checked and made by the executor
 * first).
 *
 * A container that goes while its SecureMount runs (RemoveContainer,
 * DestroySandbox) does not stop the call: the CDH would finish it anyway.
 * The job stays, owned by this module, until the worker ends (the CDH's
 * answer, or the call's timeout): then the mount the CDH made is detached
 * and its mount point removed; meanwhile its mount point and device are
 * refused to any other storage (storage.h). DestroySandbox waits for them
 * (secure_storage_orphans). A mkfs is killed at once (nothing is made
 * before it ends).
 *
 * A SecureMount whose answer never came (the call's timeout, a worker
 * killed or ended without a result), whether its container is still there
 * or not: the CDH got the call and may still mount, later. Its mount point
 * and device stay pending (refused to every storage: no storage of the
 * host ever lands under or over what the CDH mounts late, no second call
 * formats the device) and are looked at again, every
 * agent.cdh_api_timeout (at least 1 s) SECURE_STORAGE_WATCH_CHECKS times,
 * then at each RemoveContainer (secure_storage_recheck) and at
 * DestroySandbox and the executor's exit (secure_storage_release): once a
 * mount no storage holds is there, it is detached through an fd reached
 * without a symlink, the directories made removed and the reservation
 * dropped. At most SECURE_STORAGE_MAX_WATCHED at once: a further
 * SecureMount is RESOURCE_EXHAUSTED.
 *
 * Offers: secure_storage_begin(), secure_storage_trusted_begin(),
 *         secure_storage_abort(), secure_storage_orphans(),
 *         secure_storage_recheck(), secure_storage_release(),
 *         secure_storage_shutdown(), secure_storage_options().
 */
#ifndef KATA_EXECUTOR_SECURE_STORAGE_H
#define KATA_EXECUTOR_SECURE_STORAGE_H

#include <stdbool.h>

#include "agent.pb-c.h"
#include "cdh_client.h"
#include "err.h"

#define SECURE_STORAGE_N_OPTIONS 7
#define SECURE_STORAGE_WATCH_CHECKS 12
#define SECURE_STORAGE_MAX_WATCHED 32

struct container;
struct executor;
struct storage_set;
struct storage_policy;

/* upstream block_handler.rs BLOCK_EMPTYDIR_EXT4_MKFS_OPTS, joined */
#define SECURE_STORAGE_MKFS_OPTS "-O ^has_journal -m 0 -i 163840 -I 128"
/* upstream rpc.rs TRUSTED_IMAGE_STORAGE_DEVICE, cdh_handler_trusted_storage */
#define SECURE_STORAGE_TRUSTED_DEVICE "/dev/trusted_store"
#define SECURE_STORAGE_TRUSTED_DIR "image"
#define SECURE_STORAGE_TRUSTED_MKFS_OPTS "-E lazy_journal_init"

/* The SecureMount options for this device, as upstream's cdh_secure_mount
 * builds them, in its order (the strings are static or the arguments). */
static inline void secure_storage_options(const char *device_id, bool integrity,
					  const char *mkfs_opts,
					  struct cdh_option o[SECURE_STORAGE_N_OPTIONS])
{
	o[0] = (struct cdh_option){ "deviceId", device_id };
	o[1] = (struct cdh_option){ "sourceType", "empty" };
	o[2] = (struct cdh_option){ "targetType", "fileSystem" };
	o[3] = (struct cdh_option){ "filesystemType", "ext4" };
	o[4] = (struct cdh_option){ "mkfsOpts", mkfs_opts };
	o[5] = (struct cdh_option){ "encryptionType", "luks2" };
	o[6] = (struct cdh_option){ "dataIntegrity", integrity ? "true" : "false" };
}

/* Storage s of ct's CreateContainer, to be held by owner: 0 when no worker
 * is needed (the caller adds it as any storage); 1 when a SecureMount was
 * started: done(ct, failure) runs from the loop once it is mounted and
 * held (failure NULL) or failed (nothing left mounted or made);
 * SECURE_STORAGE_AGAIN when mkfs was started: once done(ct, NULL) ran, the
 * caller asks again for the same s (0 then) and adds it; < 0 on error
 * (nothing started). */
#define SECURE_STORAGE_AGAIN 2
typedef void (*secure_storage_done)(struct container *ct, const struct kerr *failure);
int secure_storage_begin(struct container *ct, struct storage_set *owner, const Grpc__Storage *s,
			 const struct storage_policy *pol, secure_storage_done done,
			 struct kerr *err);

/* Before ct's storages: 0 when its spec has no /dev/trusted_store, or the
 * sandbox holds that device's mount already; 1 when a SecureMount was
 * started (done as above); < 0 on error: the device is not the one the
 * kernel announced for the request's /dev/trusted_store device entry
 * (PERMISSION_DENIED when the request has none), it is in use or the root
 * disk (storage_device_unused), or the sandbox's trusted storage is
 * another device (FAILED_PRECONDITION). ct->devs must still be there. */
int secure_storage_trusted_begin(struct container *ct, secure_storage_done done, struct kerr *err);

/* ct goes while its worker runs: done is never called. A mkfs worker is
 * killed; a SecureMount goes on as described above. False when none
 * runs. */
bool secure_storage_abort(struct container *ct);

/* SecureMounts of containers that went, not ended yet. */
unsigned secure_storage_orphans(void);
/* Called with the executor each time an orphaned call ends (main.c sets the
 * sandbox's sandbox_container_gone: DestroySandbox waits for them), so that
 * this layer calls nothing of the handlers above it. */
void secure_storage_set_orphan_hook(void (*hook)(struct executor *x));

/* SecureMounts given up on: what the CDH mounted since is detached and
 * the reservation dropped (RemoveContainer). */
void secure_storage_recheck(void);
/* Every one given up on: detached if mounted, released (DestroySandbox,
 * the executor's exit); why goes to the log. */
void secure_storage_release(const char *why);

/* The executor stops: every worker killed, what the CDH mounted so far
 * detached, every reservation released. */
void secure_storage_shutdown(void);

#endif
