/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_io.c - the mem-agent's reads and writes (ma_io.h).
 */
#include "ma_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "cleanup.h"
#include "ma_read.h"

/* What one cgroup's children are summed over, at most. */
#define MA_PSI_CHILDREN_MAX 4096

int ma_path(char *out, size_t len, const char *root, const char *fixed)
{
	int n = snprintf(out, len, "%s%s", root, fixed);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int read_fd(int fd, size_t max, char **out)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > max ? max : cap * 2;
			char *b = realloc(buf, cap + 1);
			if (!b) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* root + fixed opened with flags, never through a symlink at its end. */
static int open_fixed(const char *root, const char *fixed, int flags)
{
	char p[4096];
	int r = ma_path(p, sizeof(p), root, fixed);
	if (r < 0)
		return r;
	int fd = open(p, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

int ma_read_text(const char *root, const char *fixed, size_t max, char **out)
{
	cleanup_close int fd = open_fixed(root, fixed, O_RDONLY);
	return fd < 0 ? fd : read_fd(fd, max, out);
}

int ma_read_at(int dfd, const char *name, char *buf, size_t len)
{
	cleanup_close int fd = openat(dfd, name,
				      O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	ssize_t n;
	while ((n = read(fd, buf, len - 1)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int ma_write_text(const char *root, const char *fixed, const char *s)
{
	cleanup_close int fd = open_fixed(root, fixed, O_WRONLY);
	if (fd < 0)
		return fd;
	size_t len = strlen(s);
	ssize_t n;
	while ((n = write(fd, s, len)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int ma_open_below(int rootfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	const char *p = rel + strspn(rel, "/");
	long fd = syscall(SYS_openat2, rootfd, *p ? p : ".", &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

int ma_psi_dir(int dfd, uint64_t *total)
{
	static const char *const files[] = { "memory.pressure", "io.pressure" };
	uint64_t sum = 0;
	for (size_t i = 0; i < 2; i++) {
		char buf[512];
		uint64_t t;
		int r = ma_read_at(dfd, files[i], buf, sizeof(buf));
		if (r < 0 || (r = psi_some_total(buf, &t)) < 0)
			return r;
		sum += t;
	}
	*total = sum;
	return 0;
}

int ma_psi_dir_own(int dfd, uint64_t *total)
{
	int r = ma_psi_dir(dfd, total);
	if (r < 0)
		return r;
	int d2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d2 < 0)
		return -errno;
	DIR *d = fdopendir(d2);
	if (!d) {
		close(d2);
		return -errno;
	}
	uint64_t children = 0;
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < MA_PSI_CHILDREN_MAX) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		cleanup_close int c = openat(dirfd(d), e->d_name,
					     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		uint64_t t;
		if (c >= 0 && ma_psi_dir(c, &t) == 0)
			children += t;
		n++;
	}
	closedir(d);
	*total = *total > children ? *total - children : 0;
	return 0;
}
