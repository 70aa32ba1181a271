// SPDX-License-Identifier: Apache-2.0
/*
 * malloc_cache.c - the last few large blocks a process freed, kept for its
 * next allocations of about their size (malloc_cache.h).
 *
 * Linked only into the daemons that are static PIEs on musl, with
 * -Wl,--wrap=malloc,--wrap=free,--wrap=calloc (agentd/meson.build): musl's
 * allocator (mallocng) gives a large block back to the kernel as soon as it
 * is freed, so a front-end answering the Kata shim's 32 KiB ReadStdout
 * mapped, faulted in and unmapped its reply's frame and the monitor's
 * message on every read, which took its round trip from 80 to 121-144 us
 * (doc/benchmarks.md "Issue 14, stdio part, round 5"). glibc keeps freed
 * memory in its arenas; this keeps at most MC_SLOTS blocks of MC_MIN to
 * MC_MAX bytes, MC_TOTAL in all, and malloc_trim() (libc_compat.h) gives
 * them all back.
 *
 * Every block here came from the real malloc and is handed out whole, so
 * its usable size (what ttrpc_server.c's quota charges) is at most twice
 * what was asked. The daemons are single-threaded; a second thread finding
 * the cache busy just goes to the real allocator.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "malloc_cache.h"

#define MC_MIN (16u * 1024u)
#define MC_MAX (256u * 1024u)
#define MC_SLOTS 6u
#define MC_TOTAL (512u * 1024u)

void *__real_malloc(size_t n);
void *__real_calloc(size_t nmemb, size_t size);
void __real_free(void *p);

static struct {
	void *p;
	size_t usable;
} slots[MC_SLOTS];
static unsigned nslots; /* slots[0] is the oldest */
static size_t total;
static bool busy;

static bool mc_enter(void)
{
	return !__atomic_test_and_set(&busy, __ATOMIC_ACQUIRE);
}

static void mc_leave(void)
{
	__atomic_clear(&busy, __ATOMIC_RELEASE);
}

static void slot_remove(unsigned i)
{
	total -= slots[i].usable;
	nslots--;
	memmove(&slots[i], &slots[i + 1], (nslots - i) * sizeof(slots[0]));
}

/* The smallest kept block that holds n bytes and is not more than twice
 * as large, taken out of the cache; NULL when there is none. */
static void *mc_take(size_t n)
{
	if (n < MC_MIN || n > MC_MAX || !mc_enter())
		return NULL;
	unsigned best = MC_SLOTS;
	for (unsigned i = 0; i < nslots; i++)
		if (slots[i].usable >= n && slots[i].usable / 2 <= n &&
		    (best == MC_SLOTS || slots[i].usable < slots[best].usable))
			best = i;
	void *p = NULL;
	if (best != MC_SLOTS) {
		p = slots[best].p;
		slot_remove(best);
	}
	mc_leave();
	return p;
}

void *__wrap_malloc(size_t n)
{
	void *p = mc_take(n);
	return p ? p : __real_malloc(n);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n))
		return __real_calloc(nmemb, size); /* its ENOMEM */
	void *p = mc_take(n);
	if (!p)
		return __real_calloc(nmemb, size);
	memset(p, 0, n);
	return p;
}

void __wrap_free(void *p)
{
	if (!p)
		return;
	size_t usable = malloc_usable_size(p);
	if (usable < MC_MIN || usable > MC_MAX || !mc_enter()) {
		__real_free(p);
		return;
	}
	/* Room for it: the oldest blocks go first. */
	void *evict[MC_SLOTS];
	unsigned nevict = 0;
	while (nslots && (nslots == MC_SLOTS || total + usable > MC_TOTAL)) {
		evict[nevict++] = slots[0].p;
		slot_remove(0);
	}
	slots[nslots].p = p;
	slots[nslots].usable = usable;
	nslots++;
	total += usable;
	mc_leave();
	for (unsigned i = 0; i < nevict; i++)
		__real_free(evict[i]);
}

void malloc_cache_flush(void)
{
	void *evict[MC_SLOTS];
	unsigned nevict = 0;
	if (!mc_enter())
		return;
	while (nslots) {
		evict[nevict++] = slots[0].p;
		slot_remove(0);
	}
	mc_leave();
	for (unsigned i = 0; i < nevict; i++)
		__real_free(evict[i]);
}

size_t malloc_cache_bytes(void)
{
	return total;
}
