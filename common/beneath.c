/* SPDX-License-Identifier: Apache-2.0 */
/*
 * beneath.c - writes below a trusted directory, never through a symlink,
 * a special file or a hard link (see beneath.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "beneath.h"
#include "cleanup.h"
#include "grpc_status.h"

#define BENEATH_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
/* openat2 answers EAGAIN when a rename or mount raced with a
 * RESOLVE_BENEATH lookup: the lookup is safe to try again. */
#define BENEATH_RETRIES 8

static int open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = BENEATH_RESOLVE,
	};
	for (int i = 0; i < BENEATH_RETRIES; i++) {
		int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			return fd;
	}
	return -1;
}

static const char *kind_of(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symlink";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	}
	return "of an unknown kind";
}

/* A failed lookup or creation of rel (what: "open", "mkdir", ...). */
static int fail(struct kerr *err, int e, const char *what, const char *rel)
{
	switch (e) {
	case ELOOP:
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -e,
				       "%s %s: a symlink is on the way (none is followed)", what,
				       rel);
	case EXDEV:
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -e,
				       "%s %s: it leads outside its directory", what, rel);
	case ENOTDIR:
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -e,
				       "%s %s: a component is not a directory", what, rel);
	case EISDIR:
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -e,
				       "%s %s: a directory is there", what, rel);
	case ENOENT:
		return kerr_set_status(err, GRPC_NOT_FOUND, -e, "%s %s: %s", what, rel,
				       strerror(e));
	case EEXIST:
		return kerr_set_status(err, GRPC_ALREADY_EXISTS, -e, "%s %s: %s", what, rel,
				       strerror(e));
	case ENOSPC:
	case EDQUOT:
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -e, "%s %s: %s", what, rel,
				       strerror(e));
	}
	return kerr_set_status(err, GRPC_INTERNAL, -e, "%s %s: %s", what, rel, strerror(e));
}

bool beneath_rel_ok(const char *rel)
{
	size_t n = strlen(rel);
	if (n == 0 || n >= PATH_MAX || rel[0] == '/')
		return false;
	for (const char *c = rel; *c;) {
		const char *e = strchrnul(c, '/');
		size_t l = (size_t)(e - c);
		if (l == 0 || l > NAME_MAX || (l == 1 && c[0] == '.') ||
		    (l == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c = *e ? e + 1 : e;
	}
	return rel[n - 1] != '/';
}

static int bad_rel(struct kerr *err, const char *rel)
{
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
			       "\"%.200s\" is not a relative path of plain components", rel);
}

int beneath_open_root(const char *dir, struct kerr *err)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "open %s: %s", dir,
				       strerror(errno));
	return fd;
}

int beneath_mkdir(int dirfd, const char *name, mode_t mode, bool *created, struct kerr *err)
{
	if (!beneath_rel_ok(name) || strchr(name, '/'))
		return bad_rel(err, name);
	mode &= 07777;
	bool made = mkdirat(dirfd, name, mode) == 0;
	if (!made && errno != EEXIST)
		return fail(err, errno, "mkdir", name);
	/* O_RDONLY, not O_PATH: fchmod needs a real fd. Opening a directory
	 * has no side effect; a symlink in its place fails (ELOOP). */
	cleanup_close int fd = open_beneath(dirfd, name,
					    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	struct stat st;
	if (fd < 0 && errno == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP; /* O_DIRECTORY reports a symlink as "not a directory" */
	if (fd < 0)
		return fail(err, errno, "directory", name);
	/* mkdir applies the umask and drops set-group-id: the mode asked for,
	 * exactly, through the fd (a name swapped meanwhile is not chmod'ed). */
	if (made && fchmod(fd, mode) < 0)
		return fail(err, errno, "chmod", name);
	if (created)
		*created = made;
	return take_fd(&fd);
}

int beneath_open_dir(int dirfd, const char *rel, bool create, mode_t mode, struct kerr *err)
{
	if (!rel[0]) {
		int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? fail(err, errno, "dup", ".") : fd;
	}
	if (!beneath_rel_ok(rel))
		return bad_rel(err, rel);
	int fd = open_beneath(dirfd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT || !create)
		return fail(err, errno, "directory", rel);

	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", rel);
	cleanup_close int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return fail(err, errno, "dup", ".");
	for (char *p = buf;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		int nfd = open_beneath(cur, p, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (nfd < 0 && errno != ENOENT)
			return fail(err, errno, "directory", buf);
		if (nfd < 0 && (nfd = beneath_mkdir(cur, p, mode, NULL, err)) < 0)
			return kerr_prefix(err, "%s", buf);
		close(cur);
		cur = nfd;
		if (!slash)
			return take_fd(&cur);
		*slash = '/';
		p = slash + 1;
	}
}

/* The file pfd (O_PATH) names, if it is a regular file with one link,
 * opened with flags through pfd itself: what was checked is what is
 * opened, and nothing else was opened for I/O before the check. */
static int reopen_checked(int pfd, int flags, bool trunc, const char *rel, struct kerr *err)
{
	const char *how = (flags & O_ACCMODE) == O_RDONLY ? "read" : "written";
	struct stat st;
	if (fstat(pfd, &st) < 0)
		return fail(err, errno, "stat", rel);
	if (S_ISLNK(st.st_mode))
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -ELOOP,
				       "%s is a symlink: not %s through", rel, how);
	if (!S_ISREG(st.st_mode))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EPERM,
				       "%s is %s, not a regular file: not %s", rel,
				       kind_of(st.st_mode), how);
	if (st.st_nlink != 1)
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EMLINK,
				       "%s has %lu links: not %s through a hard link", rel,
				       (unsigned long)st.st_nlink, how);
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	cleanup_close int fd = open(self, flags);
	if (fd < 0)
		return fail(err, errno, "reopen", rel);
	if (trunc && ftruncate(fd, 0) < 0)
		return fail(err, errno, "truncate", rel);
	return take_fd(&fd);
}

int beneath_open_file(int dirfd, const char *rel, int flags, mode_t mode, struct kerr *err)
{
	int acc = flags & O_ACCMODE;
	if ((acc != O_WRONLY && acc != O_RDWR) ||
	    (flags & ~(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC)))
		return kerr_set_status(err, GRPC_INTERNAL, -EINVAL,
				       "open %s: unsupported flags 0%o", rel, (unsigned)flags);
	if (!beneath_rel_ok(rel))
		return bad_rel(err, rel);
	int base = acc | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	mode &= 07777;
	/* Twice at most: a file created by someone else between our lookup
	 * and our O_EXCL creation is looked up (and checked) again. */
	for (int tries = 0; tries < 2; tries++) {
		if (!(flags & O_EXCL)) {
			cleanup_close int pfd = open_beneath(dirfd, rel,
							     O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
			if (pfd >= 0)
				return reopen_checked(pfd, base, flags & O_TRUNC, rel, err);
			if (errno != ENOENT || !(flags & O_CREAT))
				return fail(err, errno, "open", rel);
		}
		cleanup_close int fd = open_beneath(dirfd, rel,
						    base | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
		if (fd >= 0) {
			/* The umask applied at creation: the mode asked for. */
			if (fchmod(fd, mode) < 0)
				return fail(err, errno, "chmod", rel);
			return take_fd(&fd);
		}
		if (errno != EEXIST || (flags & O_EXCL))
			return fail(err, errno, "create", rel);
	}
	return fail(err, EEXIST, "create", rel);
}

int beneath_write_file(int dirfd, const char *rel, const void *buf, size_t len, mode_t mode,
		       struct kerr *err)
{
	cleanup_close int fd = beneath_open_file(dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC, mode,
						 err);
	if (fd < 0)
		return fd;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(err, n < 0 ? errno : EIO, "write", rel);
		done += (size_t)n;
	}
	return take_fd(&fd);
}

ssize_t beneath_read_file(int dirfd, const char *rel, void *buf, size_t max, struct kerr *err)
{
	if (!beneath_rel_ok(rel))
		return bad_rel(err, rel);
	cleanup_close int pfd = open_beneath(dirfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	if (pfd < 0)
		return fail(err, errno, "open", rel);
	cleanup_close int fd = reopen_checked(pfd, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
					      false, rel, err);
	if (fd < 0)
		return fd;
	size_t done = 0;
	while (done < max) {
		ssize_t n = read(fd, (char *)buf + done, max - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(err, errno, "read", rel);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int beneath_chown_link(int dirfd, const char *name, uid_t uid, gid_t gid, struct kerr *err)
{
	if (!beneath_rel_ok(name) || strchr(name, '/'))
		return bad_rel(err, name);
	/* O_PATH | O_NOFOLLOW on a trailing symlink gives the link itself,
	 * RESOLVE_NO_SYMLINKS notwithstanding (openat2(2)). */
	cleanup_close int fd = open_beneath(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(err, errno, "open", name);
	if (!S_ISLNK(st.st_mode))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s is %s, not a symlink", name, kind_of(st.st_mode));
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		return fail(err, errno, "chown", name);
	return 0;
}
