/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_sock.h - is this fd a host stream of fd-passthrough stdio
 * (agent.passfd_listener_port)? Called by the processes that take such an
 * fd from the front-end, which they do not trust: the executor (before a
 * stream becomes a process's stdout/stderr) and the monitor (before it
 * relays a pty or stdin through one).
 *
 * Offers: stream_sock_check().
 */
#ifndef KATA_COMMON_STREAM_SOCK_H
#define KATA_COMMON_STREAM_SOCK_H

#include "err.h"

/* 0 when fd is a socket of family (AF_VSOCK or AF_UNIX; 0: either),
 * SOCK_STREAM, not listening and connected (it has a peer). Else
 * INVALID_ARGUMENT with what it is instead. */
int stream_sock_check(int fd, int family, struct kerr *err);

#endif
