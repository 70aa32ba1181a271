/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_source.h - where a container's bind sources may come from, and the
 * one way to resolve them: lexically first (absolute, no ".."), then once,
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from an fd of the
 * guest tree the path names. The caller mounts what the returned fd is
 * (open_tree on it), never the path again.
 *
 * The trees are what the Kata runtime sends as bind sources (kata_agent.go
 * createContainer, handleShm, handleEphemeralStorage, handleLocalStorage,
 * handleHugepages, handleBlkOCIMounts; container.go mountSharedDirMounts):
 *  - the shared dir (--shared-dir, /run/kata-containers): container rootfs,
 *    files shared by the host, sandbox shm, ephemeral/local/block storages;
 *  - /dev: device nodes and /dev directories the runtime leaves as they are
 *    (isHostDevice);
 *  - /sys: "system mounts" the runtime leaves as they are (isSystemMount),
 *    bound read-only whatever the spec says.
 * /proc (the other system mount) and anything else: PERMISSION_DENIED.
 *
 * Offers: enum msrc_tree, msrc_normalize(), msrc_open().
 */
#ifndef KATA_CONTAINER_MOUNT_SOURCE_H
#define KATA_CONTAINER_MOUNT_SOURCE_H

#include "err.h"

enum msrc_tree { MSRC_SHARED = 1, MSRC_DEV, MSRC_SYS };

/* in made canonical lexically: "//" and "." collapsed; relative paths and
 * ".." components are refused (INVALID_ARGUMENT). *out is malloc'd. */
int msrc_normalize(const char *what, const char *in, char **out, struct kerr *err);

/* Open path (O_PATH | O_CLOEXEC) below the tree it names; shared_dir is
 * canonical (realpath'd). Symlinks inside the tree are followed, ones that
 * lead out of it fail (EXDEV), /proc magic links fail (ELOOP). The tree's
 * root itself is refused. *tree (may be NULL) says which tree it is in.
 * Returns the fd. */
int msrc_open(const char *shared_dir, const char *what, const char *path, enum msrc_tree *tree,
	      struct kerr *err);

#endif
