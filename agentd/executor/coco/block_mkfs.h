/* SPDX-License-Identifier: Apache-2.0 */
/*
 * block_mkfs.h - the "create_filesystem" driver option of a plain block
 * storage (upstream block_handler.rs ensure_ext4_filesystem): mkfs.ext4 on
 * the storage's device, run by a confined worker (cdh_job.h,
 * cdh_job_start_ns: its own mount namespace, no network, no capability,
 * no_new_privs, the executor's seccomp filter) so the executor's loop
 * never waits for it.
 *
 * The device is the one the kernel announced for the storage (storage.h
 * storage_mkfs_check), opened again in the worker below /dev without a
 * symlink and checked to be that device (devices/probe.h dev_node_open);
 * mkfs.ext4 gets it as /proc/self/fd/3, never as a path a request named.
 * The program is looked for in fixed directories (BLOCK_MKFS_DIRS), not in
 * $PATH.
 *
 * Offers: block_mkfs_ext4(), BLOCK_MKFS_OPTS, BLOCK_MKFS_TIMEOUT_MS.
 */
#ifndef KATA_EXECUTOR_BLOCK_MKFS_H
#define KATA_EXECUTOR_BLOCK_MKFS_H

#include <stdint.h>

#include "err.h"

struct dev_env;
struct dev_found;

/* upstream "-F" + BLOCK_EMPTYDIR_EXT4_MKFS_OPTS */
#define BLOCK_MKFS_ARGS "-F", "-O", "^has_journal", "-m", "0", "-i", "163840", "-I", "128"
/* Upstream waits as long as it takes; a CreateContainer is given 60 s by
 * the Go runtime (createContainerRequestTimeout). */
#define BLOCK_MKFS_TIMEOUT_MS 60000
#define BLOCK_MKFS_DIRS "/usr/sbin", "/sbin", "/usr/bin", "/bin"

/* In the worker: mkfs.ext4 on f (below env->dev), at most timeout_ms.
 * Failures as upstream's: "mkfs.ext4 failed for /dev/X: status=exit
 * status: 1, stdout=..., stderr=..." (INTERNAL); DEADLINE_EXCEEDED when it
 * was killed at the timeout; FAILED_PRECONDITION without mkfs.ext4. */
int block_mkfs_ext4(const struct dev_env *env, const struct dev_found *f, uint64_t timeout_ms,
		    struct kerr *err);

#endif
