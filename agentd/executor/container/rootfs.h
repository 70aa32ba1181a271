/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rootfs.h - the container's filesystem view, built in the setup child's new
 * mount namespace: root propagation, the rootfs bound onto itself, the spec's
 * mounts, /dev (default devices, Linux.Devices, pts/ptmx and fd links),
 * masked and read-only paths, pivot_root and a read-only root.
 *
 * Every destination from the spec is resolved inside the root with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and mounted onto the
 * opened fd with the new mount API (open_tree/fsmount + move_mount), so a
 * symlink pointing out of the root lands inside it, never on the host.
 * Missing destinations are created one component at a time, each inside a
 * directory already resolved within the root. Bind sources and the rootfs
 * are resolved once, before the first mount, below the trees
 * mount_source.h allows, and what was resolved is what is mounted.
 */
#ifndef KATA_CONTAINER_ROOTFS_H
#define KATA_CONTAINER_ROOTFS_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "oci.pb-c.h"

#define ROOTFS_MAX_MOUNT_OPTIONS 64
#define ROOTFS_MAX_OPTION_LEN 4096

/* Root.Path made absolute (relative paths are taken from bundle) and free of
 * symlinks. A root that is "/" (e.g. a symlink to it) is refused. */
int rootfs_resolve(const char *path, const char *bundle, char **out, struct kerr *err);

bool rootfs_propagation_known(const char *name);
/* Check one mount's type, options and paths (no side effects). idx names it
 * in the message. */
int rootfs_mount_check(const Grpc__Mount *m, size_t idx, struct kerr *err);
/* S_IFCHR etc. for a Linux.Devices type ("c", "u", "b", "p"); -EINVAL. */
int rootfs_device_type(const char *type, mode_t *out);

struct rootfs_ctx {
	const Grpc__Spec *spec;
	const char *root; /* from rootfs_resolve */
	/* Canonical --shared-dir: the root and bind sources are resolved
	 * below it (mount_source.h); NULL allows no source there. */
	const char *shared_dir;
	/* The container's cgroup path relative to the hierarchy roots, for a
	 * "cgroup" mount (v1, and v2 without a cgroup namespace); NULL: none. */
	const char *cgroup_path;
	bool in_userns; /* devices are bound from the host, not created */
	int root_fd;    /* set by rootfs_prepare, closed by rootfs_finish */
};

/* Up to the point where createContainer hooks run: propagation, the root
 * bind, the spec's mounts, devices, the cwd. */
int rootfs_prepare(struct rootfs_ctx *c, struct kerr *err);
/* Masked and read-only paths, pivot_root, chdir to Process.Cwd. */
int rootfs_finish(struct rootfs_ctx *c, const char *cwd, struct kerr *err);
/* After pivot_root (and after sysctls): make "/" read-only. */
int rootfs_make_root_readonly(struct kerr *err);

#endif
