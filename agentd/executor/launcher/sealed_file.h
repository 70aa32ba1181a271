/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sealed_file.h - sealed secrets in a container's volumes, unsealed
 * through the guest's Confidential Data Hub before the init starts
 * (upstream rpc.rs cdh_handler_sealed_secrets -> confidential_data_hub
 * unseal_file).
 *
 * Which files, as upstream: the sources of the spec's mounts below
 * <shared dir>/shared/containers (where the runtime's CopyFile puts a
 * pod's secret volumes; upstream /run/kata-containers/shared/containers),
 * except those ending in resolv.conf, termination-log, hostname, hosts or
 * serviceaccount; in each such directory, every entry that is a regular
 * file or a symlink to one whose content starts with "sealed.". The
 * plaintext is written beside the file it came from as <file>.unsealed and
 * the entry is replaced (atomically) by a symlink to it, so the kubelet's
 * layout (secret -> ..data/secret, ..data -> ..2024_...) reads the
 * plaintext through the same names.
 *
 * Where ours differs (doc/protocol.md): nothing is followed out of the
 * volume (a symlink leading out of the mount's source is skipped, with a
 * warning, never read or written beside); a path is below the share by
 * components, not by string prefix; a file the CDH cannot unseal fails the
 * create with the CDH's reason (upstream warns and starts the container
 * with the sealed text); the plaintext is never written to a filesystem
 * shared with the host (virtio-fs, 9p); sealed files are read up to
 * SEALED_FILE_MAX bytes. The plaintext is never logged and its buffers are
 * zeroed.
 *
 * Runs in the container's launcher (may block up to agent.cdh_api_timeout
 * per file), never in the executor's loop.
 *
 * Offers: sealed_file_wanted(), sealed_file_unseal().
 */
#ifndef KATA_EXECUTOR_SEALED_FILE_H
#define KATA_EXECUTOR_SEALED_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "err.h"

#define SEALED_FILE_MAX (2u << 20)

/* The mount source upstream's is_sealed_secret_path picks (containers_dir:
 * <shared dir>/shared/containers). *rel: the source below it. */
bool sealed_file_wanted(const char *containers_dir, const char *source, const char **rel);

/* Every sealed file of spec's mounts unsealed as above. No CDH
 * (sealed_env_cdh_present false): nothing is done, as upstream.
 * *n_unsealed (may be NULL): how many files. */
int sealed_file_unseal(const Grpc__Spec *spec, const char *shared_dir, uint64_t api_timeout_ms,
		       size_t *n_unsealed, struct kerr *err);

#endif
