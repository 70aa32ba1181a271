/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_group.h - a mounted volume handed to a group (Kubernetes fsGroup), as
 * upstream's set_ownership / recursive_ownership_change: every file and
 * directory gets the group and g+rw (g+r read-only), directories also g+x
 * and setgid; symlinks are skipped. With OnRootMismatch nothing is done
 * when the root already has the group, the mode bits and setgid.
 *
 * Unlike upstream's path walk, the tree is walked through fds: each entry
 * is opened O_NOFOLLOW and changed through that fd, so a container that
 * already uses the volume and swaps a file for a symlink cannot redirect a
 * chown or chmod out of it; other filesystems mounted inside are not
 * entered. It runs in the executor's loop: the walk is bounded
 * (FS_GROUP_MAX_ENTRIES entries, FS_GROUP_MAX_DEPTH levels), a larger tree
 * fails RESOURCE_EXHAUSTED.
 *
 * Offers: fs_group_apply().
 */
#ifndef KATA_EXECUTOR_FS_GROUP_H
#define KATA_EXECUTOR_FS_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define FS_GROUP_MAX_ENTRIES 1000000u
#define FS_GROUP_MAX_DEPTH 128u

/* root: an fd of the volume's root (O_PATH is fine); what names it in
 * errors and logs. */
int fs_group_apply(int root, uint32_t gid, bool on_root_mismatch, bool read_only, const char *what,
		   struct kerr *err);

#endif
