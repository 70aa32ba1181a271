/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cleanup.h - scope-bound release of fds and memory (GCC/clang cleanup
 * attribute), so every early return releases what the function holds.
 *
 *   cleanup_free char *s = strdup(x);
 *   cleanup_close int fd = open(...);
 *   return take_fd(&fd);     // hand ownership to the caller
 *   return take_ptr(&s);
 */
#ifndef KATA_COMMON_CLEANUP_H
#define KATA_COMMON_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

static inline void cleanup_freep(void *p)
{
	void **pp = p;
	free(*pp);
	*pp = NULL;
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -1;
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
	*f = NULL;
}

static inline void cleanup_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
	*d = NULL;
}

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_closedir __attribute__((cleanup(cleanup_closedirp)))

static inline int take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

#define take_ptr(pp)                          \
	({                                    \
		__typeof__(*(pp)) _p = *(pp); \
		*(pp) = NULL;                 \
		_p;                           \
	})

#endif
