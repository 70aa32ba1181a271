/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper_path.c - see helper_path.h.
 */
#include "helper_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

bool helper_path_is_exec(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* out = fmt..., only if it fits: a truncated path must not be tried. */
static bool try_path(char *out, size_t len, const char *fmt, const char *a, const char *b,
		     const char *c)
{
	int n = c ? snprintf(out, len, fmt, a, b, c) : snprintf(out, len, fmt, a, b);
	return n > 0 && (size_t)n < len && helper_path_is_exec(out);
}

int helper_path_find(const char *name, const char *subdir, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (try_path(out, len, "%s/%s", self, name, NULL) ||
			    try_path(out, len, "%s/../%s/%s", self, subdir, name))
				return 0;
		}
	}
	return try_path(out, len, "%s/%s", KATA_LIBEXECDIR, name, NULL) ? 0 : -ENOENT;
}
