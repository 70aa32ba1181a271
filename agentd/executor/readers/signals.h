/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signals.h - what SignalProcess needs to know about a process, read by the
 * executor (the monitor, which signals, has no /proc):
 *
 *  - proc_sigmask_parse(): the parent and the blocked, ignored and caught
 *    signal masks of a /proc/PID/status text;
 *  - proc_signal_handled(): whether the container's init blocks, ignores or
 *    catches a signal (upstream rpc.rs is_signal_handled, which turns a
 *    SIGTERM the init would not act on into SIGKILL: an init with no handler
 *    ignores SIGTERM from outside its pid namespace).
 *
 * Pid reuse: the answer only chooses which signal goes out; the signal
 * itself always goes through the monitor's pidfd of the real process, so a
 * reused pid can never receive it. The status read must also name the
 * monitor as parent, or the answer is "cannot tell" (the signal is left as
 * asked).
 */
#ifndef KATA_EXECUTOR_SIGNALS_H
#define KATA_EXECUTOR_SIGNALS_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct proc_sigmask {
	pid_t ppid;
	uint64_t blk, ign, cgt; /* bit (sig - 1) set: blocked / ignored / caught */
};

/* Parse the PPid, SigBlk, SigIgn and SigCgt lines of a status text (each
 * taken from the start of a line; the last one wins, after the Name line a
 * process controls). -EINVAL when one is missing or malformed. */
int proc_sigmask_parse(const char *text, size_t len, struct proc_sigmask *out);

/* 1: the process pid (whose parent must be parent) blocks, ignores or
 * catches sig (1..64); 0: none of them; negative with err: cannot tell (no
 * such process, another parent, unreadable status). proc_root is "/proc"
 * outside the unit tests. */
int proc_signal_handled(const char *proc_root, pid_t pid, pid_t parent, unsigned sig,
			struct kerr *err);

#endif
