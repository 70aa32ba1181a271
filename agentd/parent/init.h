/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init.h - the duties of PID 1, done by the parent (kata-agent) when the
 * kernel starts it as init, as the upstream agent does before it serves:
 *
 *   init_early()        proc, sysfs, devtmpfs, /dev/shm, /dev/pts (+ /dev/ptmx
 *                       link), /run; a session and the console as controlling
 *                       terminal; a PATH. Call first: /proc/cmdline needs it.
 *                       From its first line on, exit() or a return from main
 *                       powers the guest off (see init_poweroff), whatever
 *                       the exit path: an init that exits panics the kernel.
 *   init_late()         after the options are known: the cgroups (fatal:
 *                       v2 at /sys/fs/cgroup with
 *                       systemd.unified_cgroup_hierarchy, else one v1
 *                       hierarchy per enabled controller), then "lo" up
 *                       (127.0.0.1 and ::1 come with it) and the hostname
 *                       (/etc/hostname, else "localhost"; both logged only).
 *   init_poweroff()     the only way PID 1 may end: if init exits, the kernel
 *                       panics. Every fatal path of PID 1 must go through it.
 *   init_note_exit()    the status main() returns, for the power-off's log
 *                       line (the exit handler is atexit's: it gets none).
 *
 * Nothing here is needed when the agent runs as a systemd service or
 * stand-alone: the caller guards each call with getpid() == 1.
 */
#ifndef KATA_PARENT_INIT_H
#define KATA_PARENT_INIT_H

#include <stdbool.h>

#include "err.h"

int init_early(struct kerr *err);
int init_late(bool unified_cgroup_hierarchy, struct kerr *err);

/* Log why, stop every other process (TERM, then KILL), sync and power the
 * machine off. Never returns. */
void init_poweroff(const char *why) __attribute__((noreturn));
/* The status main() is about to return, named in the power-off's log. */
void init_note_exit(int status);

#endif
