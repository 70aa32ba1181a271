/* SPDX-License-Identifier: Apache-2.0 */
/*
 * executor_seccomp.h - the executor's own seccomp filter: a deny-list of what
 * the executor and the children it forks after loading it (the pod's
 * namespace holder, the poststop runner and its hooks) never need. Denied
 * calls fail with EPERM; everything else is allowed (the executor mounts,
 * makes cgroups and namespaces, sets the clock, swaps on, talks netlink:
 * an allow-list would be most of the syscall table). bpf is allowed only
 * for what the v2 device program needs (BPF_PROG_LOAD, _ATTACH, _DETACH).
 *
 * What must not carry it (the container processes, which get exactly
 * their spec's filter, and modprobe) is started by the spawner, forked
 * before the filter is loaded (spawner.c, doc/security.md).
 *
 * Offers: executor_seccomp_denied (the list), executor_seccomp_load().
 */
#ifndef KATA_EXECUTOR_SECCOMP_H
#define KATA_EXECUTOR_SECCOMP_H

#include <stddef.h>

#include "err.h"

/* Syscall names denied outright (those this architecture lacks are
 * skipped). */
extern const char *const executor_seccomp_denied[];
extern const size_t executor_seccomp_n_denied;

/* Load the filter into the calling process (and, through fork and
 * execve, everything it starts from then on). No no_new_privs: the
 * executor has CAP_SYS_ADMIN, and its hooks keep the usual execve
 * semantics. */
int executor_seccomp_load(struct kerr *err);

#endif
