/* SPDX-License-Identifier: Apache-2.0 */
/*
 * quota.h - bounded shares of one resource (bytes of memory, calls in
 * flight) among members (the ttRPC server's connections).
 *
 * Each member has a guaranteed reserve and a limit; what it uses beyond its
 * reserve comes from one shared pool. So the total ever in use is at most
 * (members x reserve) + pool, one member never takes more than its limit,
 * and however much the others took, a member always gets its reserve: a
 * flood on some connections cannot starve the runtime's own connection of
 * the little it needs for a Health check.
 */
#ifndef KATA_COMMON_QUOTA_H
#define KATA_COMMON_QUOTA_H

#include <stdbool.h>
#include <stddef.h>

struct quota_pool {
	size_t used; /* the members' use beyond their reserves, summed */
	size_t limit;
};

struct quota {
	struct quota_pool *pool;
	size_t used, reserve, limit;
};

void quota_init(struct quota *q, struct quota_pool *pool, size_t reserve, size_t limit);
/* Take n units: 0, -ENOSPC when the member would pass its own limit,
 * -EAGAIN when the shared pool has not enough left. Nothing is taken on
 * failure. */
int quota_take(struct quota *q, size_t n);
/* Take n units whatever the limits say (a detached member: nothing).
 * Only for needs that are small and bounded by other means, which must not
 * fail: the caller documents the bound. */
void quota_force(struct quota *q, size_t n);
/* Give back n units taken earlier (at most what is in use). */
void quota_give(struct quota *q, size_t n);
/* The member leaves (its connection closed while calls still hold units):
 * its share of the pool goes back now; later gives only lower its own
 * count, and takes fail. */
void quota_detach(struct quota *q);
/* Whether the member uses at least n units. */
static inline bool quota_above(const struct quota *q, size_t n)
{
	return q->used >= n;
}

#endif
