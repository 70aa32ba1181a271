/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker_ns.h - the mount namespace of a worker the executor forks to run
 * a tool on input the host controls (iptables-restore's rule set, the
 * device mkfs.ext4 formats): nothing it could write, and no device node or
 * unix socket of the guest it could open or connect to (a read-only mount
 * stops neither; opening /dev/vda or connecting to the CDH's socket is
 * not a write to their filesystem).
 *
 * Offers: worker_ns_readonly().
 */
#ifndef KATA_EXECUTOR_WORKER_NS_H
#define KATA_EXECUTOR_WORKER_NS_H

#include <stddef.h>

#include "err.h"

/* In the forked worker, while it still has CAP_SYS_ADMIN: a mount
 * namespace of its own, private (nothing reaches the guest's); /dev and
 * /run, where a guest keeps its device nodes and unix sockets (the CDH's,
 * the attestation agent's), covered by empty tmpfs mounts; each file of
 * kept[] that existed put back there (the same file, bind-mounted over an
 * empty one; each must be directly in /dev or /run); then every mount
 * read-only and the cwd "/". */
int worker_ns_readonly(const char *const *kept, size_t nkept, struct kerr *err);

#endif
