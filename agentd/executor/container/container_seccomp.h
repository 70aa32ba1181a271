/* SPDX-License-Identifier: Apache-2.0 */
/*
 * container_seccomp.h - the container's seccomp filter from the spec's
 * Linux.Seccomp, built with libseccomp: default action, architectures, flags,
 * and per-syscall rules with argument comparisons.
 *
 * Names libseccomp does not know on this architecture are skipped with a log
 * line (as runc does): specs list syscalls of every architecture at once.
 * Unknown actions, operators, architectures and flags are errors.
 */
#ifndef KATA_CONTAINER_SECCOMP_H
#define KATA_CONTAINER_SECCOMP_H

#include <seccomp.h>

#include "err.h"
#include "oci.pb-c.h"

/* Check names (actions, ops, arches, flags) and bounds; no filter is built. */
int container_seccomp_check(const Grpc__LinuxSeccomp *sc, struct kerr *err);

/* Build a filter; release with seccomp_release(). It is not loaded. */
int container_seccomp_build(const Grpc__LinuxSeccomp *sc, scmp_filter_ctx *out, struct kerr *err);

/* Load into the calling process. */
int container_seccomp_load(scmp_filter_ctx ctx, struct kerr *err);

#endif
