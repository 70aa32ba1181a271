/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_malloc_cache.c - common/malloc_cache.c, the cache of large freed
 * blocks the musl daemons keep in front of mallocng. Linked here, on glibc,
 * with the same -Wl,--wrap=malloc,--wrap=free,--wrap=calloc: this file's
 * calls go through it. What is checked: a freed large block is given to
 * the next allocation of about its size (no unmapping and faulting in
 * again), a block is never handed out for much less than it holds (the
 * ttrpc quota charges the usable size), calloc's block is zeroed, small
 * blocks are never kept, the kept total and count stay bounded, and the
 * flush (malloc_trim on musl) keeps nothing.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "malloc_cache.h"
#include "tap.h"

TEST(a_freed_large_block_serves_the_next_allocation_of_its_size)
{
	malloc_cache_flush();
	char *a = malloc(32 * 1024);
	CHECK(a != NULL);
	memset(a, 'x', 32 * 1024);
	free(a);
	CHECK(malloc_cache_bytes() >= 32 * 1024);
	char *b = malloc(30 * 1024);
	CHECK(b == a);
	CHECK_EQ_INT(malloc_cache_bytes(), 0);
	CHECK(malloc_usable_size(b) >= 30 * 1024);
	free(b);
	malloc_cache_flush();
	CHECK_EQ_INT(malloc_cache_bytes(), 0);
}

TEST(no_block_twice_too_large_and_none_too_small)
{
	malloc_cache_flush();
	void *big = malloc(200 * 1024);
	free(big);
	void *small = malloc(20 * 1024);
	CHECK(small != big);
	void *larger = malloc(210 * 1024); /* more than the kept block holds */
	CHECK(larger != big);
	free(small);
	free(larger);
	malloc_cache_flush();
}

TEST(calloc_from_the_cache_is_zeroed)
{
	malloc_cache_flush();
	unsigned char *a = malloc(64 * 1024);
	memset(a, 0xa5, 64 * 1024);
	free(a);
	unsigned char *b = calloc(16, 4096);
	CHECK(b == a);
	size_t nonzero = 0;
	for (size_t i = 0; i < 64 * 1024; i++)
		nonzero += b[i] != 0;
	CHECK_EQ_INT(nonzero, 0);
	free(b);
	malloc_cache_flush();
#ifndef __SANITIZE_ADDRESS__
	/* overflow: the real calloc's ENOMEM (through a volatile, which the
	 * compiler cannot see is too large; ASan reports it as an error) */
	volatile size_t huge = SIZE_MAX / 2;
	CHECK(calloc(huge, 4) == NULL);
#endif
}

TEST(small_blocks_are_never_kept)
{
	malloc_cache_flush();
	for (int i = 0; i < 100; i++)
		free(malloc(1000 + (size_t)i));
	free(malloc(8 * 1024));
	CHECK_EQ_INT(malloc_cache_bytes(), 0);
}

TEST(what_is_kept_stays_bounded_and_the_flush_keeps_nothing)
{
	malloc_cache_flush();
	void *p[40];
	for (int i = 0; i < 40; i++)
		p[i] = malloc(100 * 1024);
	for (int i = 0; i < 40; i++)
		free(p[i]);
	/* at most 6 blocks, 512 KiB in all: 5 of about 100 KiB */
	CHECK(malloc_cache_bytes() <= 512 * 1024);
	CHECK(malloc_cache_bytes() >= 4 * 100 * 1024);
	for (int i = 0; i < 40; i++)
		p[i] = malloc(20 * 1024);
	for (int i = 0; i < 40; i++)
		free(p[i]);
	CHECK(malloc_cache_bytes() <= 6 * 40 * 1024);
	malloc_cache_flush();
	CHECK_EQ_INT(malloc_cache_bytes(), 0);
}

int main(void)
{
	return tap_run();
}
