/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_io.h - the mem-agent's file access: fixed kernel paths below the
 * environment's root (memagent.h), read and written whole, never through
 * a symlink (O_NOFOLLOW; cgroup directories by openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS from the cgroup root).
 */
#ifndef KATA_EXECUTOR_MA_IO_H
#define KATA_EXECUTOR_MA_IO_H

#include <stddef.h>
#include <stdint.h>

/* root + fixed into out; -ENAMETOOLONG. */
int ma_path(char *out, size_t len, const char *root, const char *fixed);
/* The text of root + fixed (at most max bytes, NUL-terminated, malloc'd
 * into *out); -EFBIG past max. */
int ma_read_text(const char *root, const char *fixed, size_t max, char **out);
/* The same for name in directory dfd, into buf (len, NUL-terminated). */
int ma_read_at(int dfd, const char *name, char *buf, size_t len);
/* Write s to root + fixed in one write. */
int ma_write_text(const char *root, const char *fixed, const char *s);
/* The directory rel ("/" or "/a/b") below dirfd root, O_RDONLY. */
int ma_open_below(int rootfd, const char *rel);
/* memory.pressure + io.pressure "some" totals of directory dfd (us), as
 * upstream's psi.rs (both summed); -errno. */
int ma_psi_dir(int dfd, uint64_t *total);
/* The same less what dfd's child directories hold (upstream's
 * include_child = false), never below 0. */
int ma_psi_dir_own(int dfd, uint64_t *total);

#endif
