/* SPDX-License-Identifier: Apache-2.0 */
/*
 * beneath.h - the one way a privileged process writes (or reads for the
 * host) a path that the host or a container can influence (doc/security.md "What the executor
 * writes" lists every such writer).
 *
 * Everything starts at an fd of a trusted directory: beneath_open_root()
 * takes a path from the agent's own options (the shared directory), never
 * from a request. Every lookup below it is
 *
 *   openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 *
 * so ".." cannot climb out and no component may be a symlink, wherever it
 * would lead: a symlink planted on the way (by CopyFile, or by a container
 * that can write there) fails the request instead of redirecting it.
 *
 * Offers:
 *  - beneath_rel_ok(): a relative path made of plain components;
 *  - beneath_open_root(): an O_PATH fd of a trusted directory;
 *  - beneath_open_dir(): an fd of a directory below one, missing components
 *    created with an exact mode (set through the new directory's own fd, so
 *    a name swapped after the mkdir cannot redirect the chmod);
 *  - beneath_mkdir(): one directory, its exact mode when it is new, an fd
 *    of it;
 *  - beneath_open_file(): a regular file, for writing. An existing one is
 *    looked up O_PATH | O_NOFOLLOW first and must be a regular file with
 *    one link (a fifo, device, socket or symlink planted there is refused
 *    without being opened for I/O; a hard link to a file elsewhere is not
 *    written through), then reopened through that very fd; a missing one
 *    is created O_EXCL (never through a symlink) with an exact mode. Always
 *    O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
 *  - beneath_write_file(): the whole content of such a file;
 *  - beneath_read_file(): the first bytes of an existing regular file with
 *    one link, looked up and checked the same way before it is opened for
 *    reading (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC): a fifo is
 *    refused, never read (no blocking read), a device never opened;
 *  - beneath_chown_link(): the owner of a symlink itself (never followed).
 *
 * Errors carry gRPC statuses: PERMISSION_DENIED for a symlink or magic link
 * on the way, a path leaving the directory, or a file with more than one
 * link; INVALID_ARGUMENT for something that is not a regular file (or not
 * a directory) where one is wanted; NOT_FOUND for a missing path not to be
 * created; INTERNAL otherwise. Messages name the path relative to the
 * directory.
 */
#ifndef KATA_COMMON_BENEATH_H
#define KATA_COMMON_BENEATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* rel is relative, at most PATH_MAX - 1 bytes, made of components that are
 * not empty, "." or "..", each at most NAME_MAX bytes. */
bool beneath_rel_ok(const char *rel);

/* An O_PATH fd of the trusted directory dir (absolute; from the options). */
int beneath_open_root(const char *dir, struct kerr *err);

/* An fd (for *at() calls) of directory rel below dirfd; "" is dirfd itself.
 * With create, missing components are made with mode (exactly, the umask
 * undone), as far as rel goes; existing ones keep theirs. */
int beneath_open_dir(int dirfd, const char *rel, bool create, mode_t mode, struct kerr *err);

/* Directory name (one component) in dirfd: made with mode (exactly) when
 * missing; an existing directory is fine, a symlink is not. Returns an
 * O_RDONLY | O_DIRECTORY fd of it; *created (may be NULL) says whether it
 * is new. */
int beneath_mkdir(int dirfd, const char *name, mode_t mode, bool *created, struct kerr *err);

/* The regular file rel below dirfd, opened for writing. flags: O_WRONLY or
 * O_RDWR, plus any of O_CREAT (made with exactly mode when missing), O_EXCL
 * (it must not exist) and O_TRUNC. Returns the fd. */
int beneath_open_file(int dirfd, const char *rel, int flags, mode_t mode, struct kerr *err);

/* At most max bytes from the start of the existing regular file rel below
 * dirfd into buf (the rest of the file is not read). Returns the number
 * read. */
ssize_t beneath_read_file(int dirfd, const char *rel, void *buf, size_t max, struct kerr *err);

/* chown (-1 keeps an id) of the symlink name in dirfd itself; anything
 * else there is INVALID_ARGUMENT. */
int beneath_chown_link(int dirfd, const char *name, uid_t uid, gid_t gid, struct kerr *err);

/* rel below dirfd holds exactly buf[0..len) afterwards (created with mode
 * when missing, truncated otherwise). Returns the file's fd. */
int beneath_write_file(int dirfd, const char *rel, const void *buf, size_t len, mode_t mode,
		       struct kerr *err);

#endif
