/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confine.h - how an unprivileged agent process (the front-end, each
 * container's monitor) gives up everything it does not need, once, before it
 * reads an untrusted byte. One implementation for every such process; what
 * differs between them is a profile: the capabilities kept, and the syscalls
 * added to the common seccomp allow-list. Both profiles live in confine.c so
 * a reviewer reads every filter of the agent in one file.
 *
 * Offers: struct confine_profile, the three profiles, confine_self(),
 *         confine_load_built_filter().
 */
#ifndef KATA_COMMON_CONFINE_H
#define KATA_COMMON_CONFINE_H

#include <sys/types.h>

#include "err.h"

#define CONFINE_IOCTL_GAP 64

struct confine_profile {
	const char *who;      /* "front-end", "monitor": for messages */
	const int *keep_caps; /* kept in permitted + effective; nothing else */
	unsigned nkeep;
	const char *const *syscalls; /* allowed in addition to the base; NULL-terminated */
	/* ioctl requests allowed, ascending, 0-terminated (NULL: none); any
	 * other ioctl fails ENOTTY (isatty probes). Neighbours at most
	 * CONFINE_IOCTL_GAP apart (the refusal is spelled value by value
	 * between them: libseccomp takes one comparison per argument). */
	const unsigned long *ioctl_allow;
	/* SOL_SOCKET options setsockopt may set, 0-terminated (NULL: none);
	 * any other setsockopt kills, as an unlisted syscall. */
	const int *sockopt_allow;
};

/* Front-end: no capabilities; sockets (accept, peer names), sealed memfds
 * for big IPC payloads. */
extern const struct confine_profile confine_frontend;
/* Monitor: CAP_KILL (signal container processes of any uid, only through
 * pidfds it was handed); signalfd, waitid, pidfd_send_signal, TIOCSWINSZ;
 * SO_SNDBUF on the host streams of fd-passthrough stdio. */
extern const struct confine_profile confine_monitor;

/* Irreversibly: empty read-only root (an unattached tmpfs), securebits
 * locked, bounding and ambient sets emptied, setgroups(0) + setresgid/uid to
 * uid/gid (never 0), permitted = effective = the profile's capabilities,
 * inheritable empty, everything verified; parent-death signal re-armed when
 * parent_pid > 0 (and the parent checked), not dumpable, no core,
 * no_new_privs, then the seccomp allow-list (default: kill the process). */
/* Policy process: no capabilities; sealed memfds for big verdicts. */
extern const struct confine_profile confine_policy;

int confine_self(const struct confine_profile *p, uid_t uid, gid_t gid, pid_t parent_pid,
		 struct kerr *err);

/* Writes a seccomp filter as BPF to fd (seccomp_export_bpf); 0 or a
 * negative errno with err filled. */
typedef int confine_filter_builder(const void *arg, int fd, struct kerr *err);
/* Load into the calling process the filter build(arg, ...) writes, built
 * in a forked child: libseccomp's rule database (about 100 KiB of small
 * blocks) never enters this process's heap, where its freed holes would be
 * where every later allocation lands, a page each (the executor's heap was
 * 136 KiB idle, a monitor's 96; doc/benchmarks.md "Issue 14, memory
 * part"). Loaded as seccomp_load would: no flags; without no_new_privs the
 * caller needs CAP_SYS_ADMIN. build runs in the child: a pid it needs
 * (a tgkill rule) is the caller's, passed in arg. */
int confine_load_built_filter(confine_filter_builder *build, const void *arg, struct kerr *err);

/* Step 1 alone: an empty, read-only, unattached tmpfs as the root and the
 * cwd (needs CAP_SYS_ADMIN). For a process others can look into (the pod's
 * namespace holder): its /proc/PID/root and cwd lead nowhere. */
int confine_empty_root(struct kerr *err);

#endif
