/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secure_storage.h - CreateContainer's encrypted block storages
 * ("encryption_key=ephemeral" with "create_filesystem", storage.h): the
 * guest's Confidential Data Hub formats the device with a key only it
 * knows and mounts it (upstream block_handler.rs handle_block_storage ->
 * rpc.rs cdh_secure_mount -> SecureMountService.SecureMount).
 *
 * The call is made by a CDH worker (cdh_job.h), never in the executor's
 * loop, with upstream's arguments: volume_type "block-device", options
 * deviceId (the "major:minor" of the device the executor found for the
 * storage), sourceType "empty", targetType "fileSystem", filesystemType
 * "ext4", mkfsOpts "-O ^has_journal -m 0 -i 163840 -I 128", encryptionType
 * "luks2", dataIntegrity (agent.secure_storage_integrity, "true" or
 * "false"), no flags, mount_point the storage's (checked and made by the
 * executor first). The storage is then held like any other.
 *
 * Offers: secure_storage_begin(), secure_storage_abort(),
 *         secure_storage_options().
 */
#ifndef KATA_EXECUTOR_SECURE_STORAGE_H
#define KATA_EXECUTOR_SECURE_STORAGE_H

#include <stdbool.h>

#include "agent.pb-c.h"
#include "cdh_client.h"
#include "err.h"

#define SECURE_STORAGE_N_OPTIONS 7

struct container;
struct storage_set;
struct storage_policy;

/* upstream block_handler.rs BLOCK_EMPTYDIR_EXT4_MKFS_OPTS, joined */
#define SECURE_STORAGE_MKFS_OPTS "-O ^has_journal -m 0 -i 163840 -I 128"

/* The SecureMount options for this device, as upstream's cdh_secure_mount
 * builds them, in its order (the strings are static or device_id). */
static inline void secure_storage_options(const char *device_id, bool integrity,
					  struct cdh_option o[SECURE_STORAGE_N_OPTIONS])
{
	o[0] = (struct cdh_option){ "deviceId", device_id };
	o[1] = (struct cdh_option){ "sourceType", "empty" };
	o[2] = (struct cdh_option){ "targetType", "fileSystem" };
	o[3] = (struct cdh_option){ "filesystemType", "ext4" };
	o[4] = (struct cdh_option){ "mkfsOpts", SECURE_STORAGE_MKFS_OPTS };
	o[5] = (struct cdh_option){ "encryptionType", "luks2" };
	o[6] = (struct cdh_option){ "dataIntegrity", integrity ? "true" : "false" };
}

/* Storage s of ct's CreateContainer, to be held by owner: 0 when it is not
 * one the CDH mounts (the caller adds it as any storage); 1 when a
 * SecureMount was started: done(ct, failure) runs from the loop once it is
 * mounted and held (failure NULL) or failed (nothing left mounted or
 * made); < 0 on error (nothing started). */
typedef void (*secure_storage_done)(struct container *ct, const struct kerr *failure);
int secure_storage_begin(struct container *ct, struct storage_set *owner, const Grpc__Storage *s,
			 const struct storage_policy *pol, secure_storage_done done,
			 struct kerr *err);

/* ct goes while its SecureMount runs: the worker is killed, what was made
 * undone, done never called. False when none runs. */
bool secure_storage_abort(struct container *ct);

#endif
