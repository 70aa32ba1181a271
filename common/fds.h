/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fds.h - fd table helpers for the code that runs between a fork and an
 * exec (or instead of one): what a child keeps is decided by closing, not
 * by marking close-on-exec, because a process can be looked into
 * (pidfd_getfd, /proc/PID/fd) before it ever execs.
 *
 * Offers: fd_close_except(), fd_set_cloexec().
 */
#ifndef KATA_COMMON_FDS_H
#define KATA_COMMON_FDS_H

#include <stddef.h>

/* Close every fd above 2 except keep[0..n) (negative entries are ignored;
 * keep is sorted in place). 0 or a negative errno (close_range). */
int fd_close_except(int *keep, size_t n);

/* Set FD_CLOEXEC on fd. 0 or a negative errno. */
int fd_set_cloexec(int fd);

#endif
