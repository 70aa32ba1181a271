/* SPDX-License-Identifier: Apache-2.0 */
/*
 * malloc_cache.h - a small cache of large freed blocks in front of musl's
 * allocator, for the daemons linked as static PIEs on musl
 * (malloc_cache.c says why; agentd/meson.build links it with
 * -Wl,--wrap=malloc,--wrap=free,--wrap=calloc). Not linked into glibc
 * builds: there malloc, free and calloc are glibc's own.
 *
 *   malloc_cache_flush()   free every kept block (malloc_trim on musl)
 *   malloc_cache_bytes()   usable bytes kept now (tests)
 */
#ifndef KATA_COMMON_MALLOC_CACHE_H
#define KATA_COMMON_MALLOC_CACHE_H

#include <stddef.h>

void malloc_cache_flush(void);
size_t malloc_cache_bytes(void);

#endif
