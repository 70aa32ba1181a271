/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fake_tree.h - building fake sysfs and /dev trees in the unit tests of
 * the device layer (test_devices.c, test_block_storage.c).
 *
 *   tree_mkdirs("/tmp/x/a/b");        // mkdir -p
 *   tree_put("/tmp/x/a/f", "1\n");    // its directories too
 *   tree_read("/tmp/x/a/f")           // at most 4 KiB, "" if unreadable
 */
#ifndef KATA_TESTS_FAKE_TREE_H
#define KATA_TESTS_FAKE_TREE_H

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static inline void tree_mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
}

static inline void tree_put(const char *path, const char *content)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		tree_mkdirs(dir);
	}
	FILE *f = fopen(path, "we");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static inline char *tree_read(const char *path)
{
	static char buf[4096];
	buf[0] = '\0';
	FILE *f = fopen(path, "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

#endif
