/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport.h - agent addresses: parse, listen, connect.
 *
 *   vsock://CID:PORT      CID -1 (any) when listening
 *   unix:///abs/path      filesystem unix socket
 *   unix://@name          abstract unix socket
 *   hvsock:///path:PORT   hybrid vsock (Firecracker, Cloud Hypervisor), client
 *                         only: connect the unix socket, send "CONNECT PORT\n",
 *                         expect a line "OK ...\n", then speak ttRPC.
 *
 * All sockets returned are SOCK_STREAM, CLOEXEC; listeners are non-blocking.
 */
#ifndef KATA_COMMON_TRANSPORT_H
#define KATA_COMMON_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum addr_kind { ADDR_VSOCK = 1, ADDR_UNIX, ADDR_HVSOCK };

#define ADDR_PATH_MAX 108

struct addr {
	enum addr_kind kind;
	uint32_t cid;  /* vsock; VMADDR_CID_ANY for -1 */
	uint32_t port; /* vsock, hvsock */
	bool abstract; /* unix: path is an abstract name (without the '@') */
	char path[ADDR_PATH_MAX];
};

int addr_parse(const char *s, struct addr *a, struct kerr *err);
/* Canonical text form, for logs. */
const char *addr_format(const struct addr *a, char *buf, size_t len);
/* Listening socket (backlog 128). A stale filesystem unix socket is
 * replaced; a new one is created mode 0600 whatever the umask. */
int addr_listen(const struct addr *a, struct kerr *err);
/* Connected, blocking socket. timeout_ns bounds the connect and, for hvsock,
 * the handshake; 0 means no timeout. */
int addr_connect(const struct addr *a, uint64_t timeout_ns, struct kerr *err);

#endif
