/* SPDX-License-Identifier: Apache-2.0 */
/*
 * quota.c - shares of a pool with a reserve per member (quota.h).
 */
#include "quota.h"

#include <errno.h>

void quota_init(struct quota *q, struct quota_pool *pool, size_t reserve, size_t limit)
{
	q->pool = pool;
	q->used = 0;
	q->reserve = reserve;
	q->limit = limit;
}

/* The part of a member's use that counts against the pool. */
static size_t beyond_reserve(const struct quota *q, size_t used)
{
	return used > q->reserve ? used - q->reserve : 0;
}

int quota_take(struct quota *q, size_t n)
{
	if (!q->pool)
		return -EAGAIN;
	if (n > q->limit || q->used > q->limit - n)
		return -ENOSPC;
	size_t more = beyond_reserve(q, q->used + n) - beyond_reserve(q, q->used);
	/* within its reserve a member never waits for the pool, even one
	 * that quota_force took past its limit */
	if (more && (q->pool->used > q->pool->limit || more > q->pool->limit - q->pool->used))
		return -EAGAIN;
	q->pool->used += more;
	q->used += n;
	return 0;
}

void quota_force(struct quota *q, size_t n)
{
	if (!q->pool)
		return;
	q->pool->used += beyond_reserve(q, q->used + n) - beyond_reserve(q, q->used);
	q->used += n;
}

void quota_give(struct quota *q, size_t n)
{
	if (n > q->used)
		n = q->used; /* a bug; never let the counters wrap */
	size_t less = beyond_reserve(q, q->used) - beyond_reserve(q, q->used - n);
	if (q->pool)
		q->pool->used -= less;
	q->used -= n;
}

void quota_detach(struct quota *q)
{
	if (q->pool)
		q->pool->used -= beyond_reserve(q, q->used);
	q->pool = NULL;
}
