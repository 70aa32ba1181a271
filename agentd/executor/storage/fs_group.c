/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_group.c - a volume's files handed to its fsGroup, through fds
 * (fs_group.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs_group.h"
#include "grpc_status.h"
#include "log.h"

/* Upstream's masks (storage/mod.rs). */
#define RW_MASK 0660
#define RO_MASK 0440
#define EXEC_MASK 0110

struct walk {
	gid_t gid;
	mode_t mask;
	dev_t dev; /* the volume's filesystem: other mounts are not entered */
	unsigned entries;
	const char *what;
	struct kerr *err;
};

/* chown and chmod what fd is (never a symlink: those were skipped). */
static int change(struct walk *w, int fd, const struct stat *st, const char *name)
{
	mode_t mask = w->mask;
	if (S_ISDIR(st->st_mode))
		mask |= EXEC_MASK | S_ISGID;
	if (fchownat(fd, "", (uid_t)-1, w->gid, AT_EMPTY_PATH) < 0)
		return kerr_set(w->err, -errno, "%s: chown %s to gid %u: %s", w->what, name,
				(unsigned)w->gid, strerror(errno));
	/* fchmod does not take O_PATH fds; the fd's own link does, and it
	 * names this inode, not a path. */
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (chmod(p, (st->st_mode & 07777) | mask) < 0)
		return kerr_set(w->err, -errno, "%s: chmod %s: %s", w->what, name, strerror(errno));
	return 0;
}

static int walk_dir(struct walk *w, int dirfd, unsigned depth)
{
	if (depth > FS_GROUP_MAX_DEPTH)
		return kerr_set_status(w->err, GRPC_RESOURCE_EXHAUSTED, -ELOOP,
				       "%s: more than %u directory levels", w->what,
				       FS_GROUP_MAX_DEPTH);
	int rd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rd < 0)
		return kerr_set(w->err, -errno, "%s: open a directory: %s", w->what,
				strerror(errno));
	cleanup_closedir DIR *d = fdopendir(rd);
	if (!d) {
		close(rd);
		return kerr_set(w->err, -errno, "%s: %s", w->what, strerror(errno));
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (++w->entries > FS_GROUP_MAX_ENTRIES)
			return kerr_set_status(w->err, GRPC_RESOURCE_EXHAUSTED, -E2BIG,
					       "%s: more than %u files", w->what,
					       FS_GROUP_MAX_ENTRIES);
		cleanup_close int fd = openat(dirfd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			return kerr_set(w->err, -errno, "%s: %s: %s", w->what, de->d_name,
					strerror(errno));
		}
		if (S_ISLNK(st.st_mode) || st.st_dev != w->dev)
			continue;
		int r = S_ISDIR(st.st_mode) ? walk_dir(w, fd, depth + 1) : 0;
		if (r >= 0)
			r = change(w, fd, &st, de->d_name);
		if (r < 0)
			return r;
	}
	return 0;
}

int fs_group_apply(int root, uint32_t gid, bool on_root_mismatch, bool read_only, const char *what,
		   struct kerr *err)
{
	struct stat st;
	if (fstat(root, &st) < 0)
		return kerr_set(err, -errno, "%s: %s", what, strerror(errno));
	struct walk w = { .gid = gid,
			  .mask = read_only ? RO_MASK : RW_MASK,
			  .dev = st.st_dev,
			  .what = what,
			  .err = err };
	mode_t want = w.mask | EXEC_MASK;
	if (on_root_mismatch && st.st_gid == gid && (st.st_mode & want) == want &&
	    (st.st_mode & S_ISGID)) {
		log_info("%s: fsGroup %u already applied (OnRootMismatch)", what, gid);
		return 0;
	}
	int r = S_ISDIR(st.st_mode) ? walk_dir(&w, root, 0) : 0;
	if (r >= 0)
		r = change(&w, root, &st, ".");
	if (r >= 0)
		log_info("%s: fsGroup %u applied to %u entries", what, gid, w.entries + 1);
	return r;
}
