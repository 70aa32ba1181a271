/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iovec.h - a payload in pieces (struct iovec arrays), as the IPC layer
 * (common/ipc.c) and the ttRPC server (common/ttrpc_server.c) send them
 * straight from their callers' bytes and copy only what must wait.
 *
 *   iovec_total(iov, niov)                   bytes in all the pieces
 *   iovec_copy(dst, iov, niov, skip, n)      up to n of them, from the
 *                                            skip-th on, into dst; returns
 *                                            how many (SIZE_MAX n: the rest)
 */
#ifndef KATA_COMMON_IOVEC_H
#define KATA_COMMON_IOVEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

static inline size_t iovec_total(const struct iovec *iov, unsigned niov)
{
	size_t n = 0;
	for (unsigned i = 0; i < niov; i++)
		n += iov[i].iov_len;
	return n;
}

static inline size_t iovec_copy(void *dst, const struct iovec *iov, unsigned niov, size_t skip,
				size_t n)
{
	uint8_t *p = dst;
	size_t done = 0;
	for (unsigned i = 0; i < niov && done < n; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		size_t k = len - skip < n - done ? len - skip : n - done;
		memcpy(p + done, (const uint8_t *)iov[i].iov_base + skip, k);
		done += k;
		skip = 0;
	}
	return done;
}

#endif
