/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watcher.c - polling copies of "watchable-bind" sources (see watcher.h).
 *
 * The source is reopened every round from its parent directory without
 * following a symlink (the host swaps a ConfigMap's contents by renaming),
 * walked with openat(O_NOFOLLOW) and fstatat(AT_SYMLINK_NOFOLLOW), and
 * every file is opened with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: nothing
 * the host plants makes the copy read outside the source. The target is
 * written the same way below its own fd; a file inside a directory is
 * written to a temporary name and renamed, so a reader in the container
 * never sees half of it. A single-file source is rewritten in place (the
 * container binds that very inode).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "linux_compat.h"
#include "log.h"
#include "watcher.h"

#define WATCH_TMP_NAME "..kata_watch_tmp" /* Kubernetes keys never start with ".." */
#define WATCH_MAX_DEPTH 16
#define RESOLVE_WATCH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

struct wentry {
	char *rel; /* "" for the source itself */
	mode_t mode;
	off_t size;
	struct timespec mtime, ctime;
	uid_t uid;
	gid_t gid;
	ino_t ino;
};

struct watch {
	struct watch *next;
	int src_parent; /* O_PATH: the source's directory */
	char *src_name; /* the source's name in it */
	int dst;        /* O_PATH: the target */
	bool is_dir;
	int bindfd; /* over the limits: the bind of the source over dst */
	char *name;
	struct wentry ents[WATCH_MAX_ENTRIES];
	size_t n;
};

static struct watch *watches; /* polled ones */
static struct watch *rr_next; /* where the next tick starts */

size_t watch_count(void)
{
	size_t n = 0;
	for (struct watch *w = watches; w; w = w->next)
		n++;
	return n;
}

static void ents_free(struct wentry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].rel);
}

/* ---- scanning ------------------------------------------------------------ */

struct scan {
	struct wentry *e;
	size_t n;
	uint64_t bytes;
};

static int scan_add(struct scan *s, const char *rel, const struct stat *st)
{
	if (s->n >= WATCH_MAX_ENTRIES)
		return -E2BIG;
	if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
		s->bytes += (uint64_t)st->st_size;
	if (s->bytes > WATCH_MAX_BYTES)
		return -EFBIG;
	struct wentry *e = &s->e[s->n];
	if (!(e->rel = strdup(rel)))
		return -ENOMEM;
	e->mode = st->st_mode;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->ino = st->st_ino;
	s->n++;
	return 0;
}

/* dirfd (taken) is the directory at rel; its entries are added, parents
 * before children. Special files are skipped. */
static int scan_dir(int dfd, const char *rel, struct scan *s, int depth)
{
	if (depth > WATCH_MAX_DEPTH) {
		close(dfd);
		return -E2BIG;
	}
	cleanup_closedir DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return -e;
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, WATCH_TMP_NAME))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile: the next round sees it */
			return -errno;
		}
		if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
		int r = scan_add(s, path, &st);
		if (r < 0)
			return r;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return errno == ENOENT ? 0 : -errno;
			if ((r = scan_dir(sub, path, s, depth + 1)) < 0)
				return r;
		}
	}
	return errno ? -errno : 0;
}

/* The source as it is now. -E2BIG/-EFBIG: over the limits. */
static int scan_source(struct watch *w, struct scan *s)
{
	int fd = openat(w->src_parent, w->src_name,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (w->is_dir ? O_DIRECTORY : O_PATH));
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || (S_ISDIR(st.st_mode) != w->is_dir) ||
	    (!w->is_dir && !S_ISREG(st.st_mode))) {
		close(fd);
		return -ESTALE;
	}
	int r = scan_add(s, "", &st);
	if (r < 0 || !w->is_dir) {
		close(fd);
		return r;
	}
	return scan_dir(fd, "", s, 0);
}

/* ---- the target ---------------------------------------------------------- */

static void split(const char *rel, char *dir, size_t dsz, const char **base)
{
	const char *slash = strrchr(rel, '/');
	if (!slash) {
		snprintf(dir, dsz, ".");
		*base = rel;
		return;
	}
	snprintf(dir, dsz, "%.*s", (int)(slash - rel), rel);
	*base = slash + 1;
}

/* Remove name below dirfd, a whole tree if it is a directory. */
static void rm_tree(int pfd, const char *name, int depth)
{
	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
		return;
	if ((errno != EISDIR && errno != EPERM) || depth > WATCH_MAX_DEPTH + 1)
		return;
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	cleanup_closedir DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_tree(dirfd(d), de->d_name, depth + 1);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		log_warn("watchable: remove %s: %s", name, strerror(errno));
}

static int copy_bytes(int in, int out, off_t max)
{
	char buf[16384];
	off_t total = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if ((total += n) > max)
			return -EFBIG;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno != EINTR)
				return -errno;
			off += w > 0 ? w : 0;
		}
	}
}

static int set_owner_mode(int dirfd, const char *name, const struct wentry *e)
{
	if (fchownat(dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(e->mode) && fchmodat(dirfd, name, e->mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

/* A regular file or symlink at rel: made under the temporary name, then
 * renamed over whatever is there. */
static int copy_entry(int srcdir, const struct wentry *e, int dpfd, const char *base)
{
	char sdir[PATH_MAX];
	const char *sbase;
	split(e->rel, sdir, sizeof(sdir), &sbase);
	(void)unlinkat(dpfd, WATCH_TMP_NAME, 0);
	if (S_ISLNK(e->mode)) {
		cleanup_close int sp = sys_openat2(srcdir, sdir, O_PATH | O_DIRECTORY | O_CLOEXEC,
						   RESOLVE_WATCH);
		char link[PATH_MAX];
		ssize_t n = sp < 0 ? -1 : readlinkat(sp, sbase, link, sizeof(link) - 1);
		if (n < 0)
			return -errno;
		link[n] = '\0';
		if (symlinkat(link, dpfd, WATCH_TMP_NAME) < 0)
			return -errno;
	} else {
		cleanup_close int in = sys_openat2(srcdir, e->rel,
						   O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
						   RESOLVE_WATCH);
		if (in < 0)
			return -errno;
		struct stat st;
		if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
			return -ESTALE;
		cleanup_close int out = openat(dpfd, WATCH_TMP_NAME,
					       O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
					       0600);
		if (out < 0)
			return -errno;
		int r = copy_bytes(in, out, WATCH_MAX_BYTES);
		if (r < 0) {
			(void)unlinkat(dpfd, WATCH_TMP_NAME, 0);
			return r;
		}
	}
	int r = set_owner_mode(dpfd, WATCH_TMP_NAME, e);
	struct stat cur;
	if (r == 0 && fstatat(dpfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(cur.st_mode))
		rm_tree(dpfd, base, 0);
	if (r == 0 && renameat(dpfd, WATCH_TMP_NAME, dpfd, base) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dpfd, WATCH_TMP_NAME, 0);
	return r;
}

/* A single-file source: rewritten in place. */
static int copy_file_in_place(struct watch *w, const struct wentry *e)
{
	cleanup_close int in = openat(w->src_parent, w->src_name,
				      O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", w->dst);
	/* Our own fd's magic link: followed on purpose (O_NOFOLLOW would refuse it). */
	cleanup_close int out = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (out < 0)
		return -errno;
	int r = copy_bytes(in, out, WATCH_MAX_BYTES);
	if (r == 0 && (fchown(out, e->uid, e->gid) < 0 || fchmod(out, e->mode & 07777) < 0))
		r = -errno;
	return r;
}

static int apply_entry(struct watch *w, int srcdir, const struct wentry *e)
{
	if (!w->is_dir)
		return copy_file_in_place(w, e);
	if (!e->rel[0]) {
		/* The directory itself: its mode and owner. */
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", w->dst);
		if (chown(p, e->uid, e->gid) < 0 || chmod(p, e->mode & 07777) < 0)
			return -errno;
		return 0;
	}
	char dir[PATH_MAX];
	const char *base;
	split(e->rel, dir, sizeof(dir), &base);
	cleanup_close int dpfd = sys_openat2(w->dst, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
					     RESOLVE_WATCH);
	if (dpfd < 0)
		return -errno;
	if (!S_ISDIR(e->mode))
		return copy_entry(srcdir, e, dpfd, base);
	struct stat cur;
	if (fstatat(dpfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(cur.st_mode))
		(void)unlinkat(dpfd, base, 0);
	if (mkdirat(dpfd, base, 0700) < 0 && errno != EEXIST)
		return -errno;
	return set_owner_mode(dpfd, base, e);
}

static const struct wentry *find_ent(const struct wentry *v, size_t n, const char *rel)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].rel, rel))
			return &v[i];
	return NULL;
}

static bool same(const struct wentry *a, const struct wentry *b)
{
	return a->mode == b->mode && a->size == b->size && a->uid == b->uid && a->gid == b->gid &&
	       a->ino == b->ino && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Bring the target to the scan s: removals deepest first, then what is new
 * or changed, parents first. A failed entry is forgotten, so it is tried
 * again next round. */
static void apply(struct watch *w, struct scan *s)
{
	for (size_t i = w->n; i-- > 0;) {
		const struct wentry *o = &w->ents[i];
		const struct wentry *c = find_ent(s->e, s->n, o->rel);
		if (!o->rel[0] || (c && (c->mode & S_IFMT) == (o->mode & S_IFMT)))
			continue;
		char dir[PATH_MAX];
		const char *base;
		split(o->rel, dir, sizeof(dir), &base);
		cleanup_close int dpfd = sys_openat2(w->dst, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
						     RESOLVE_WATCH);
		if (dpfd >= 0)
			rm_tree(dpfd, base, 0);
	}
	cleanup_close int srcdir = w->is_dir ? openat(w->src_parent, w->src_name,
						      O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
					     : -1;
	for (size_t i = 0; i < s->n; i++) {
		struct wentry *c = &s->e[i];
		const struct wentry *o = find_ent(w->ents, w->n, c->rel);
		if (o && same(o, c))
			continue;
		int r = (w->is_dir && srcdir < 0) ? -errno : apply_entry(w, srcdir, c);
		if (r < 0) {
			log_warn("watchable %s: update %s: %s", w->name, c->rel[0] ? c->rel : ".",
				 strerror(-r));
			c->mtime.tv_sec = -1; /* differs from anything: retried */
		}
	}
	ents_free(w->ents, w->n);
	memcpy(w->ents, s->e, s->n * sizeof(s->e[0]));
	w->n = s->n;
}

static void unlink_watch(struct watch *w)
{
	for (struct watch **pp = &watches; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	if (rr_next == w)
		rr_next = w->next;
}

/* Over the limits: as upstream, a bind of the source over the target. */
static int bind_instead(struct watch *w)
{
	cleanup_close int src = openat(w->src_parent, w->src_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return -errno;
	int mnt = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (mnt < 0)
		return -errno;
	if (move_mount(mnt, "", w->dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
		int e = errno;
		close(mnt);
		return -e;
	}
	w->bindfd = mnt;
	unlink_watch(w);
	log_info("watchable %s: over %d entries or %d bytes: bound instead of copied", w->name,
		 WATCH_MAX_ENTRIES, WATCH_MAX_BYTES);
	return 0;
}

/* One round for w. */
static int poll_one(struct watch *w)
{
	struct wentry cur[WATCH_MAX_ENTRIES];
	struct scan s = { .e = cur };
	int r = scan_source(w, &s);
	if (r == -E2BIG || r == -EFBIG) {
		ents_free(cur, s.n);
		int b = bind_instead(w);
		if (b < 0)
			log_warn("watchable %s: over the limits, and the bind failed: %s", w->name,
				 strerror(-b));
		return b;
	}
	if (r < 0) {
		ents_free(cur, s.n);
		return r;
	}
	apply(w, &s);
	return 0;
}

/* ---- API ----------------------------------------------------------------- */

int watch_start(int *src_parent, const char *src_name, int *dst, const char *name,
		struct watch **out, struct kerr *err)
{
	struct stat st;
	if (fstatat(*src_parent, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kerr_set(err, -errno, "watchable %s: stat source: %s", name,
				strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return kerr_set(err, -EINVAL,
				"watchable %s: the source is neither a directory nor "
				"a file",
				name);
	struct watch *w = calloc(1, sizeof(*w));
	if (!w || !(w->name = strdup(name)) || !(w->src_name = strdup(src_name))) {
		if (w)
			free(w->name);
		free(w);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	w->bindfd = -1;
	w->is_dir = S_ISDIR(st.st_mode);
	/* The parent and the name, so that each round reopens what the host
	 * has there now. */
	w->src_parent = take_fd(src_parent);
	w->dst = take_fd(dst);
	w->next = watches;
	watches = w;
	int r = poll_one(w);
	if (r < 0 && w->bindfd < 0) {
		watch_stop(w);
		return kerr_set(err, r, "watchable %s: first copy: %s", name, strerror(-r));
	}
	*out = w;
	return 0;
}

void watch_stop(struct watch *w)
{
	if (!w)
		return;
	unlink_watch(w);
	if (w->bindfd >= 0) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", w->bindfd);
		if (umount2(p, MNT_DETACH) < 0 && errno != EINVAL)
			log_warn("watchable %s: unmount the bind: %s", w->name, strerror(errno));
		close(w->bindfd);
	}
	if (w->is_dir) {
		/* Empty the copy; the storage removes the directory itself. */
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", w->dst);
		int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				rm_tree(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
		else if (fd >= 0)
			close(fd);
	}
	ents_free(w->ents, w->n);
	close(w->src_parent);
	close(w->dst);
	free(w->src_name);
	free(w->name);
	free(w);
}

size_t watch_tick(void)
{
	struct watch *w = rr_next ? rr_next : watches;
	for (int i = 0; w && i < WATCH_PER_TICK; i++) {
		struct watch *next = w->next;
		int r = poll_one(w);
		if (r < 0 && w->bindfd < 0)
			log_warn("watchable %s: %s", w->name, strerror(-r));
		w = next;
	}
	rr_next = w;
	return watch_count();
}
