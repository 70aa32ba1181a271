/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libc_compat.c - what libc_compat.h declares for musl and needs a body:
 * sigabbrev_np and scandirat. Empty on glibc.
 */
#include "libc_compat.h"

#ifndef __GLIBC__
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

const char *sigabbrev_np(int sig)
{
	static const char *const names[] = {
		[SIGHUP] = "HUP",       [SIGINT] = "INT",       [SIGQUIT] = "QUIT",
		[SIGILL] = "ILL",       [SIGTRAP] = "TRAP",     [SIGABRT] = "ABRT",
		[SIGBUS] = "BUS",       [SIGFPE] = "FPE",       [SIGKILL] = "KILL",
		[SIGUSR1] = "USR1",     [SIGSEGV] = "SEGV",     [SIGUSR2] = "USR2",
		[SIGPIPE] = "PIPE",     [SIGALRM] = "ALRM",     [SIGTERM] = "TERM",
		[SIGSTKFLT] = "STKFLT", [SIGCHLD] = "CHLD",     [SIGCONT] = "CONT",
		[SIGSTOP] = "STOP",     [SIGTSTP] = "TSTP",     [SIGTTIN] = "TTIN",
		[SIGTTOU] = "TTOU",     [SIGURG] = "URG",       [SIGXCPU] = "XCPU",
		[SIGXFSZ] = "XFSZ",     [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF",
		[SIGWINCH] = "WINCH",   [SIGIO] = "IO",         [SIGPWR] = "PWR",
		[SIGSYS] = "SYS",
	};
	if (sig <= 0 || (size_t)sig >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[sig];
}

static int grow(struct dirent ***v, size_t *cap, size_t n)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	struct dirent **nv = realloc(*v, c * sizeof(*nv));
	if (!nv)
		return -1;
	*v = nv;
	*cap = c;
	return 0;
}

int scandirat(int dirfd, const char *path, struct dirent ***names,
	      int (*filter)(const struct dirent *),
	      int (*compar)(const struct dirent **, const struct dirent **))
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct dirent **v = NULL, *e;
	size_t n = 0, cap = 0;
	int saved = 0;
	while ((e = readdir(d))) {
		if (filter && !filter(e))
			continue;
		struct dirent *copy = grow(&v, &cap, n) < 0 ? NULL : malloc(sizeof(*e));
		if (!copy) {
			saved = ENOMEM;
			break;
		}
		memcpy(copy, e, sizeof(*e));
		v[n++] = copy;
	}
	closedir(d);
	if (saved) {
		while (n)
			free(v[--n]);
		free(v);
		errno = saved;
		return -1;
	}
	if (compar && n > 1)
		qsort(v, n, sizeof(*v), (int (*)(const void *, const void *))compar);
	*names = v;
	return (int)n;
}
#endif
