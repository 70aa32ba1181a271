/* SPDX-License-Identifier: Apache-2.0 */
/*
 * procfs.h - small readers of /proc for the processes that look at their
 * children (the parent's teardown, the executor's namespace holder).
 *
 * Offers: procfs_ppid().
 */
#ifndef KATA_COMMON_PROCFS_H
#define KATA_COMMON_PROCFS_H

#include <sys/types.h>

/* The parent pid of pid, from /proc/PID/stat (read after the last ')':
 * the command may hold anything); -1 if it cannot be read. */
pid_t procfs_ppid(pid_t pid);

#endif
