/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.c - Grpc__Storage handlers of the executor: "local", "ephemeral",
 * the shared filesystems "virtio-fs" and "9p", guest bind mounts, block
 * devices ("blk", "mmioblk", "scsi", "nvdimm": found by devices/, opened
 * as the node the kernel named) and "overlayfs", with refcounting by mount
 * point (see storage.h and doc/storage-cgroups.md).
 *
 * Every path is resolved from an fd of its allowed root with openat2
 * RESOLVE_BENEATH, so neither a symlink nor ".." can lead a mount or a mkdir
 * outside the root, and mounts are attached to the opened mount-point fd
 * (move_mount), never to a path string that could be swapped in between.
 * Each mount is detached through the fd it was made with, so a storage
 * mounted over it later (or a changed path) cannot keep it from going.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "fs_group.h"
#include "grpc_status.h"
#include "hotplug.h"
#include "linux_compat.h"
#include "log.h"
#include "mount_source.h"
#include "probe.h"
#include "storage.h"
#include "watcher.h"

/* Bind sources: symlinks that stay inside the root are fine; ones leading
 * out (absolute, or ".." past the root) fail with EXDEV; /proc magic links
 * are refused. */
#define RESOLVE_STORAGE (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
/* Mount points: no symlink at all (ELOOP), so one directory has one
 * spelling and two storages cannot stack on it under two names. */
#define RESOLVE_MOUNT_POINT (RESOLVE_STORAGE | RESOLVE_NO_SYMLINKS)

#define STORAGE_MAX_CREATED 64

enum storage_kind { SK_LOCAL, SK_EPHEMERAL, SK_BIND, SK_SHAREDFS, SK_WATCH, SK_BLOCK, SK_OVERLAY };

static const char *kind_name(enum storage_kind k)
{
	switch (k) {
	case SK_LOCAL:
		return "local";
	case SK_EPHEMERAL:
		return "ephemeral";
	case SK_BIND:
		return "bind";
	case SK_SHAREDFS:
		return "shared filesystem";
	case SK_WATCH:
		return "watchable-bind";
	case SK_BLOCK:
		return "block device";
	case SK_OVERLAY:
		return "overlayfs";
	}
	return "?";
}

/* One mount point, shared by every set that added it. */
struct storage_entry {
	struct storage_entry *next; /* global registry */
	unsigned refs;
	enum storage_kind kind;
	char *driver, *source, *fstype; /* to refuse a different storage on the same point */
	char *mount_point;              /* canonical absolute path (logs) */
	char *root;                     /* the allowed root it is below */
	/* The mount we made, attached: detached through this fd. -1 for
	 * "local" and before attaching. */
	int mntfd;
	/* Registry key: what the mount point resolves to (the mounted root
	 * for a mount, the directory for "local"), so two spellings of one
	 * directory find the same entry. */
	uint64_t key_mnt;
	dev_t key_dev;
	ino_t key_ino;
	/* Paths (relative to root) this entry created, in creation order,
	 * with their identity: removed in reverse when the last reference
	 * goes, if still empty and still the same inode (a path may lead into
	 * another storage's mount by then). */
	char *created[STORAGE_MAX_CREATED];
	dev_t created_dev[STORAGE_MAX_CREATED];
	ino_t created_ino[STORAGE_MAX_CREATED];
	size_t n_created;
	bool created_file;   /* the last created entry is a file (bind of a file) */
	struct watch *watch; /* watchable-bind: the copy kept in sync */
	dev_t blkdev;        /* block storages: the device (ResizeVolume) */
};

struct storage_set {
	struct storage_entry **items;
	size_t n, cap;
};

static struct storage_entry *registry;

/* Storages a worker prepares (the CDH's SecureMount): begun, neither
 * adopted nor abandoned yet. Their mount point and device are taken: a
 * mount the CDH makes late must not land under another storage, nor two
 * workers format one device. */
struct storage_secure;
static struct storage_secure *pending;
static int pending_overlap(const char *mp, struct kerr *err);
static int pending_device(dev_t rdev, const char *label, struct kerr *err);
static int check_fs_options(const Grpc__Storage *s, struct kerr *err);

/* ---- paths --------------------------------------------------------------- */

/* The allowed root that contains path (normalised), and the rest of the path
 * relative to it ("" for the root itself). */
static int find_root(const char *what, const char *path, const struct storage_policy *pol,
		     const char **root, const char **rel, struct kerr *err)
{
	for (size_t i = 0; pol && i < pol->n_allowed_roots; i++) {
		const char *r = pol->allowed_roots[i];
		size_t rl = strlen(r);
		while (rl > 1 && r[rl - 1] == '/')
			rl--;
		if (rl == 1 && r[0] == '/') {
			*root = r;
			*rel = path + 1;
			return 0;
		}
		if (strncmp(path, r, rl) == 0 && (path[rl] == '/' || path[rl] == '\0')) {
			*root = r;
			*rel = path[rl] ? path + rl + 1 : path + rl;
			return 0;
		}
	}
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EPERM,
			       "%s \"%s\" is outside the allowed roots", what, path);
}

static int open_root(const char *root, struct kerr *err)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, -errno, "open allowed root %s: %s", root, strerror(errno));
	return fd;
}

static int resolve_error(const char *what, const char *path, int e, struct kerr *err)
{
	if (e == EXDEV)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -e,
				       "%s \"%s\" resolves outside its allowed root: %s", what,
				       path, strerror(e));
	if (e == ELOOP)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -e,
				       "%s \"%s\" goes through a symlink (none is allowed in a "
				       "mount point) or a magic link: %s",
				       what, path, strerror(e));
	return kerr_set(err, -e, "open %s \"%s\": %s", what, path, strerror(e));
}

static int add_created(struct storage_entry *ent, const char *rel, int dirfd, const char *name,
		       struct kerr *err)
{
	if (ent->n_created >= STORAGE_MAX_CREATED)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "mount point %s: more than %d missing directories",
				       ent->mount_point, STORAGE_MAX_CREATED);
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kerr_set(err, -errno, "stat %s/%s: %s", ent->root, rel, strerror(errno));
	char *c = strdup(rel);
	if (!c)
		return kerr_set(err, -ENOMEM, "out of memory");
	ent->created_dev[ent->n_created] = st.st_dev;
	ent->created_ino[ent->n_created] = st.st_ino;
	ent->created[ent->n_created++] = c;
	return 0;
}

/* Open rel below rootfd (O_PATH), creating missing components as
 * directories (mode 0755), or the last one as an empty file when as_file.
 * What is created is recorded in ent. */
static int open_create(int rootfd, const char *rel, bool as_file, struct storage_entry *ent,
		       struct kerr *err)
{
	int fd = sys_openat2(rootfd, rel[0] ? rel : ".", O_PATH | O_CLOEXEC, RESOLVE_MOUNT_POINT);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : resolve_error("mount point", ent->mount_point, errno, err);

	cleanup_free char *buf = strdup(rel);
	if (!buf)
		return kerr_set(err, -ENOMEM, "out of memory");
	cleanup_close int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return kerr_set(err, -errno, "dup: %s", strerror(errno));
	char *p = buf;
	for (;;) {
		char *slash = strchr(p, '/');
		bool last = !slash;
		if (slash)
			*slash = '\0';
		int nfd = sys_openat2(cur, p, O_PATH | O_CLOEXEC, RESOLVE_MOUNT_POINT);
		if (nfd < 0 && errno == ENOENT) {
			int r;
			if (last && as_file) {
				int f = openat(cur, p,
					       O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
					       0644);
				r = f < 0 ? -1 : close(f);
			} else {
				r = mkdirat(cur, p, 0755);
			}
			if (r < 0)
				return kerr_set(err, -errno, "create %s/%s: %s", ent->root, buf,
						strerror(errno));
			if (last && as_file)
				ent->created_file = true;
			r = add_created(ent, buf, cur, p, err);
			if (r < 0) {
				/* Not recorded: undo it here. */
				(void)unlinkat(cur, p, last && as_file ? 0 : AT_REMOVEDIR);
				ent->created_file = false;
				return r;
			}
			nfd = sys_openat2(cur, p, O_PATH | O_CLOEXEC, RESOLVE_MOUNT_POINT);
		}
		if (nfd < 0)
			return resolve_error("mount point", ent->mount_point, errno, err);
		close(cur);
		cur = nfd;
		if (last)
			return take_fd(&cur);
		*slash = '/';
		p = slash + 1;
	}
}

/* Remove what ent created, deepest first, as long as it is empty. */
static void remove_created(struct storage_entry *ent)
{
	if (!ent->n_created)
		return;
	cleanup_close int rootfd = open(ent->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		log_warn("storage %s: cannot open %s to remove created paths: %s", ent->mount_point,
			 ent->root, strerror(errno));
		return;
	}
	for (size_t i = ent->n_created; i-- > 0;) {
		const char *rel = ent->created[i];
		const char *slash = strrchr(rel, '/');
		cleanup_free char *dir = slash ? strndup(rel, (size_t)(slash - rel)) : strdup(".");
		const char *base = slash ? slash + 1 : rel;
		cleanup_close int dfd = dir ? sys_openat2(rootfd, dir,
							  O_PATH | O_DIRECTORY | O_CLOEXEC,
							  RESOLVE_MOUNT_POINT)
					    : -1;
		bool file = ent->created_file && i == ent->n_created - 1;
		struct stat st;
		int e = 0;
		if (!dir)
			e = ENOMEM;
		else if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			e = errno;
		else if (st.st_dev != ent->created_dev[i] || st.st_ino != ent->created_ino[i])
			e = ESTALE; /* another storage mounted over the path since */
		else if (unlinkat(dfd, base, file ? 0 : AT_REMOVEDIR) < 0)
			e = errno;
		if (e) {
			if (e == ENOTEMPTY || e == EEXIST)
				log_info("storage %s: keeping %s/%s: not empty", ent->mount_point,
					 ent->root, rel);
			else if (e == EBUSY || e == ESTALE)
				log_info("storage %s: keeping %s/%s: covered by another mount",
					 ent->mount_point, ent->root, rel);
			else if (e != ENOENT)
				log_warn("storage %s: cannot remove %s/%s: %s", ent->mount_point,
					 ent->root, rel, strerror(e));
			/* A kept directory keeps its parents too. */
			if (e != ENOENT)
				break;
		}
	}
}

/* ---- options ------------------------------------------------------------- */

static const struct {
	const char *name;
	bool set;
	uint64_t attr;
} attr_opts[] = {
	{ "ro", true, MOUNT_ATTR_RDONLY },
	{ "rw", false, MOUNT_ATTR_RDONLY },
	{ "nosuid", true, MOUNT_ATTR_NOSUID },
	{ "suid", false, MOUNT_ATTR_NOSUID },
	{ "nodev", true, MOUNT_ATTR_NODEV },
	{ "dev", false, MOUNT_ATTR_NODEV },
	{ "noexec", true, MOUNT_ATTR_NOEXEC },
	{ "exec", false, MOUNT_ATTR_NOEXEC },
	{ "nodiratime", true, MOUNT_ATTR_NODIRATIME },
	{ "noatime", true, MOUNT_ATTR_NOATIME },
	{ "relatime", true, MOUNT_ATTR_RELATIME },
	{ "strictatime", true, MOUNT_ATTR_STRICTATIME },
};

static const struct {
	const char *name;
	uint64_t prop;
	bool rec;
} prop_opts[] = {
	{ "private", MS_PRIVATE, false },       { "rprivate", MS_PRIVATE, true },
	{ "slave", MS_SLAVE, false },           { "rslave", MS_SLAVE, true },
	{ "shared", MS_SHARED, false },         { "rshared", MS_SHARED, true },
	{ "unbindable", MS_UNBINDABLE, false }, { "runbindable", MS_UNBINDABLE, true },
};

struct mount_opts {
	struct mount_attr attr; /* attr_set / attr_clr */
	bool atime_set;
	uint64_t prop;
	bool prop_rec;
	bool rbind;
	bool has_fsgid;
	gid_t fsgid;
	bool has_mode;
	mode_t mode;
};

/* Look up one option; returns 1 if it was a mount attribute, propagation,
 * bind flag, fsgid= or mode= (recorded in mo), 0 otherwise. */
static int parse_common_opt(const char *o, struct mount_opts *mo, struct kerr *err)
{
	for (size_t i = 0; i < sizeof(attr_opts) / sizeof(attr_opts[0]); i++) {
		if (strcmp(o, attr_opts[i].name))
			continue;
		uint64_t a = attr_opts[i].attr;
		bool is_atime = a == MOUNT_ATTR_NOATIME || a == MOUNT_ATTR_RELATIME ||
				a == MOUNT_ATTR_STRICTATIME;
		if (is_atime) {
			/* The atime modes are one field: set it, clear the rest. */
			mo->attr.attr_set &= ~(uint64_t)MOUNT_ATTR__ATIME;
			mo->attr.attr_set |= a;
			mo->attr.attr_clr |= MOUNT_ATTR__ATIME;
			mo->atime_set = true;
		} else if (attr_opts[i].set) {
			mo->attr.attr_set |= a;
			mo->attr.attr_clr &= ~a;
		} else {
			mo->attr.attr_clr |= a;
			mo->attr.attr_set &= ~a;
		}
		return 1;
	}
	for (size_t i = 0; i < sizeof(prop_opts) / sizeof(prop_opts[0]); i++) {
		if (!strcmp(o, prop_opts[i].name)) {
			mo->prop = prop_opts[i].prop;
			mo->prop_rec = prop_opts[i].rec;
			return 1;
		}
	}
	if (!strcmp(o, "bind") || !strcmp(o, "defaults"))
		return 1;
	if (!strcmp(o, "rbind")) {
		mo->rbind = true;
		return 1;
	}
	if (!strncmp(o, "fsgid=", 6)) {
		char *end;
		errno = 0;
		unsigned long g = strtoul(o + 6, &end, 10);
		if (errno || end == o + 6 || *end || g > UINT32_MAX - 1)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "bad storage option \"%s\"", o);
		mo->has_fsgid = true;
		mo->fsgid = (gid_t)g;
		return 1;
	}
	if (!strncmp(o, "mode=", 5)) {
		char *end;
		errno = 0;
		unsigned long m = strtoul(o + 5, &end, 8);
		if (errno || end == o + 5 || *end || m > 07777)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "bad storage option \"%s\" (octal mode expected)",
					       o);
		mo->has_mode = true;
		mo->mode = (mode_t)m;
		return 1;
	}
	return 0;
}

/* Call fn on each comma-separated element of each option string. */
static int for_each_opt(char **opts, size_t n, int (*fn)(const char *, void *, struct kerr *),
			void *ctx, struct kerr *err)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *s = strdup(opts[i] ? opts[i] : "");
		if (!s)
			return kerr_set(err, -ENOMEM, "out of memory");
		char *save = NULL;
		for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			while (*t == ' ')
				t++;
			if (!*t)
				continue;
			int r = fn(t, ctx, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

struct opt_ctx {
	struct mount_opts *mo;
	int fsfd; /* ephemeral: fsconfig target; -1 otherwise */
	enum storage_kind kind;
	/* UpdateEphemeralMounts: "remount" is what the update is (the
	 * superblock is reconfigured), fsgid= what create did; both are
	 * dropped, as upstream's update_ephemeral_mounts drops fsgid= and
	 * turns "remount" into MS_REMOUNT. */
	bool update;
};

static int opt_cb(const char *o, void *vctx, struct kerr *err)
{
	struct opt_ctx *c = vctx;
	if (c->update && (!strcmp(o, "remount") || !strncmp(o, "fsgid=", 6)))
		return 0;
	/* The runtime's own marks (io.katacontainers.fs-opt.*, ...) are no
	 * filesystem options; overlay layers come as fds (do_overlay). */
	if ((c->kind == SK_BLOCK || c->kind == SK_OVERLAY) && !strncmp(o, "io.katacontainers.", 18))
		return 0;
	if (c->kind == SK_OVERLAY && (!strncmp(o, "lowerdir=", 9) || !strncmp(o, "upperdir=", 9) ||
				      !strncmp(o, "workdir=", 8)))
		return 0;
	int r = parse_common_opt(o, c->mo, err);
	if (r < 0)
		return r;
	if (r > 0) {
		/* tmpfs takes mode= itself: the mode of its root. */
		if (c->kind == SK_EPHEMERAL && !strncmp(o, "mode=", 5) && c->fsfd >= 0 &&
		    fsconfig(c->fsfd, FSCONFIG_SET_STRING, "mode", o + 5, 0) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno,
					       "tmpfs option \"%s\": %s", o, strerror(errno));
		/* A disk mounted "ro" is read-only in its superblock too: no
		 * journal replay, and a read-only device mounts at all. */
		if (c->kind == SK_BLOCK && !strcmp(o, "ro") && c->fsfd >= 0 &&
		    fsconfig(c->fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno,
					       "filesystem option \"ro\": %s", strerror(errno));
		return 0;
	}
	if (c->kind == SK_EPHEMERAL || c->kind == SK_SHAREDFS || c->kind == SK_BLOCK ||
	    c->kind == SK_OVERLAY) {
		if (c->fsfd < 0)
			return 0; /* first pass: attributes only */
		/* Filesystem options go to the filesystem, which refuses what it
		 * does not know. */
		const char *eq = strchr(o, '=');
		int fr;
		if (eq) {
			cleanup_free char *key = strndup(o, (size_t)(eq - o));
			if (!key)
				return kerr_set(err, -ENOMEM, "out of memory");
			fr = fsconfig(c->fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
		} else {
			fr = fsconfig(c->fsfd, FSCONFIG_SET_FLAG, o, NULL, 0);
		}
		if (fr < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno,
					       "%s option \"%s\": %s",
					       c->kind == SK_EPHEMERAL ? "tmpfs" : "filesystem", o,
					       strerror(errno));
		return 0;
	}
	if (c->kind == SK_LOCAL)
		return 0; /* upstream ignores what it does not know for "local" */
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
			       "unsupported option \"%s\" for a bind storage", o);
}

/* ---- registry ------------------------------------------------------------ */

static void entry_free(struct storage_entry *ent)
{
	if (!ent)
		return;
	for (size_t i = 0; i < ent->n_created; i++)
		free(ent->created[i]);
	if (ent->mntfd >= 0)
		close(ent->mntfd);
	free(ent->driver);
	free(ent->source);
	free(ent->fstype);
	free(ent->mount_point);
	free(ent->root);
	free(ent);
}

static int mnt_id_of(int fd, uint64_t *id);

/* Identity of what fd (a mount point as resolved now) is: with a storage
 * mounted there, that mount's root. */
static int key_of(int fd, uint64_t *mnt, dev_t *dev, ino_t *ino)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	int r = mnt_id_of(fd, mnt);
	if (r < 0)
		return r;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static struct storage_entry *registry_find(uint64_t mnt, dev_t dev, ino_t ino)
{
	for (struct storage_entry *e = registry; e; e = e->next)
		if (e->key_mnt == mnt && e->key_dev == dev && e->key_ino == ino)
			return e;
	return NULL;
}

static void registry_remove(struct storage_entry *ent)
{
	for (struct storage_entry **pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == ent) {
			*pp = ent->next;
			return;
		}
	}
}

static int mnt_id_of(int fd, uint64_t *id)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -ENOTSUP;
	*id = stx.stx_mnt_id;
	return 0;
}

/* Undo the mount of ent through the fd it was made with, not through its
 * path: the path may be covered by a later mount (a storage at a parent
 * directory) or lead elsewhere by now. Detached lazily, so a process still
 * using it does not keep it in the namespace. */
static int unmount_entry(struct storage_entry *ent)
{
	if (ent->mntfd < 0)
		return 0;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", ent->mntfd);
	if (umount2(p, MNT_DETACH) < 0) {
		int e = errno;
		if (e == EINVAL) {
			/* Not attached any more: someone else unmounted it. */
			log_warn("storage %s: already unmounted", ent->mount_point);
		} else {
			log_error("storage %s: umount: %s", ent->mount_point, strerror(e));
			return -e;
		}
	}
	close(ent->mntfd);
	ent->mntfd = -1;
	return 0;
}

static void entry_release(struct storage_entry *ent)
{
	if (--ent->refs > 0)
		return;
	registry_remove(ent);
	watch_stop(ent->watch);
	ent->watch = NULL;
	int r = unmount_entry(ent);
	/* Never remove directories below a mount we could not undo. */
	if (r == 0)
		remove_created(ent);
	else
		log_error("storage %s (%s): left mounted", ent->mount_point, kind_name(ent->kind));
	log_debug("storage %s (%s) released", ent->mount_point, kind_name(ent->kind));
	entry_free(ent);
}

/* ---- handlers ------------------------------------------------------------ */

static int apply_fsgid_mode(int fd, const struct storage_entry *ent, const struct mount_opts *mo,
			    mode_t extra_with_fsgid, struct kerr *err)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (mo->has_fsgid && fchownat(fd, "", (uid_t)-1, mo->fsgid, AT_EMPTY_PATH) < 0)
		return kerr_set(err, -errno, "chown %s to gid %u: %s", ent->mount_point,
				(unsigned)mo->fsgid, strerror(errno));
	mode_t mode;
	bool want = false;
	if (mo->has_mode) {
		mode = mo->mode;
		want = true;
	} else {
		struct stat st;
		if (fstat(fd, &st) < 0)
			return kerr_set(err, -errno, "stat %s: %s", ent->mount_point,
					strerror(errno));
		mode = st.st_mode & 07777;
	}
	if (mo->has_fsgid && extra_with_fsgid) {
		mode |= extra_with_fsgid;
		want = true;
	}
	/* fchmod does not work on O_PATH fds; the fd's magic link does. */
	if (want && chmod(p, mode) < 0)
		return kerr_set(err, -errno, "chmod %s to %o: %s", ent->mount_point, (unsigned)mode,
				strerror(errno));
	return 0;
}

static int do_local(struct storage_entry *ent, int rootfd, const char *rel, const Grpc__Storage *s,
		    struct kerr *err)
{
	struct mount_opts mo = { 0 };
	struct opt_ctx c = { .mo = &mo, .fsfd = -1, .kind = SK_LOCAL };
	int r = for_each_opt(s->options, s->n_options, opt_cb, &c, err);
	if (r < 0)
		return r;
	/* mode= may also come as a driver option. */
	if (!mo.has_mode) {
		r = for_each_opt(s->driver_options, s->n_driver_options, opt_cb, &c, err);
		if (r < 0)
			return r;
	}
	cleanup_close int fd = open_create(rootfd, rel, false, ent, err);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kerr_set(err, -errno, "stat %s: %s", ent->mount_point, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENOTDIR,
				       "local storage %s exists and is not a directory",
				       ent->mount_point);
	/* As upstream: fsgid= alone changes the group only; the setgid bit
	 * comes with an explicit mode=. */
	r = apply_fsgid_mode(fd, ent, &mo, mo.has_mode ? S_ISGID : 0, err);
	if (r < 0)
		return r;
	r = key_of(fd, &ent->key_mnt, &ent->key_dev, &ent->key_ino);
	if (r < 0)
		return kerr_set(err, r, "statx %s: %s", ent->mount_point, strerror(-r));
	return 0;
}

/* Move the detached mount *mnt onto mpfd; the entry keeps the fd (it is
 * how the mount is detached again) and its root's identity as key. */
static int attach(struct storage_entry *ent, int *mnt_owned, int mpfd, const struct mount_opts *mo,
		  struct kerr *err)
{
	int mnt = *mnt_owned;
	if (move_mount(mnt, "", mpfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return kerr_set(err, -errno, "move_mount onto %s: %s", ent->mount_point,
				strerror(errno));
	ent->mntfd = take_fd(mnt_owned);
	int r = key_of(mnt, &ent->key_mnt, &ent->key_dev, &ent->key_ino);
	if (r < 0)
		return kerr_set(err, r, "statx of the mount on %s: %s", ent->mount_point,
				strerror(-r));
	if (mo->prop) {
		struct mount_attr a = { .propagation = mo->prop };
		if (mount_setattr(mnt, "", AT_EMPTY_PATH | (mo->prop_rec ? AT_RECURSIVE : 0), &a,
				  sizeof(a)) < 0)
			return kerr_set(err, -errno, "set propagation of %s: %s", ent->mount_point,
					strerror(errno));
	}
	return 0;
}

/* A detached mount of a new fstype filesystem (source: NULL or a device /
 * tag), the storage's options split between mount attributes (mo) and the
 * filesystem's own (fsconfig; the filesystem refuses what it does not
 * know); kv (NULL, or key, value, ..., NULL) are set first, as strings.
 * Returns the mount fd. */
static int make_fs(struct storage_entry *ent, const char *fstype, const char *source,
		   const char *const *kv, const Grpc__Storage *s, enum storage_kind kind,
		   struct mount_opts *mo, struct kerr *err)
{
	cleanup_close int fs = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fs < 0)
		return kerr_set_status(err,
				       errno == ENODEV ? GRPC_FAILED_PRECONDITION : GRPC_INTERNAL,
				       -errno, "fsopen %s: %s%s", fstype, strerror(errno),
				       errno == ENODEV ? " (not in this kernel)" : "");
	if (source && fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno, "%s source \"%s\": %s",
				       fstype, source, strerror(errno));
	for (size_t i = 0; kv && kv[i]; i += 2)
		if (fsconfig(fs, FSCONFIG_SET_STRING, kv[i], kv[i + 1], 0) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno, "%s %s=%s: %s",
					       fstype, kv[i], kv[i + 1], strerror(errno));
	struct opt_ctx c = { .mo = mo, .fsfd = fs, .kind = kind };
	int r = for_each_opt(s->options, s->n_options, opt_cb, &c, err);
	if (r < 0)
		return kerr_prefix(err, "%s storage %s", kind_name(kind), ent->mount_point);
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		/* A disk or overlay the filesystem refuses (not its format, an
		 * option it cannot take, dax without DAX): the host's request. */
		bool bad = errno == EINVAL && (kind == SK_BLOCK || kind == SK_OVERLAY);
		return kerr_set_status(err,
				       errno == ENOENT || errno == ENODEV ? GRPC_NOT_FOUND
				       : bad                              ? GRPC_INVALID_ARGUMENT
									  : GRPC_INTERNAL,
				       -errno, "create %s%s%s for %s: %s%s", fstype,
				       source ? " from " : "", source ? source : "",
				       ent->mount_point, strerror(errno),
				       bad ? " (the kernel log says why)" : "");
	}
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)mo->attr.attr_set);
	if (mnt < 0)
		return kerr_set(err, -errno, "fsmount %s for %s: %s", fstype, ent->mount_point,
				strerror(errno));
	return mnt;
}

/* One number option (pagesize=, size=) of an ephemeral hugetlbfs storage,
 * in bytes, as upstream's get_pagesize_and_size_from_option reads it. */
struct huge_opts {
	uint64_t pagesize, size;
	bool has_pagesize, has_size;
};

static int huge_opt_cb(const char *o, void *vctx, struct kerr *err)
{
	struct huge_opts *h = vctx;
	uint64_t *dst = NULL;
	if (!strncmp(o, "pagesize=", 9)) {
		dst = &h->pagesize;
		h->has_pagesize = true;
	} else if (!strncmp(o, "size=", 5)) {
		dst = &h->size;
		h->has_size = true;
	} else {
		return 0;
	}
	const char *v = strchr(o, '=') + 1;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-')
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "hugetlbfs option \"%.64s\": a number of bytes expected", o);
	*dst = n;
	return 0;
}

/* Reserve the huge pages an ephemeral hugetlbfs storage will use, as
 * upstream's allocate_hugepages: size/pagesize pages of that size in the
 * guest pool. Unlike upstream the pool never shrinks here: pages another
 * pod's storage counts on stay. Fails with RESOURCE_EXHAUSTED if the kernel
 * could not find the memory. */
static int allocate_hugepages(const char *sysfs, const Grpc__Storage *s, struct kerr *err)
{
	struct huge_opts h = { 0 };
	int r = for_each_opt(s->options, s->n_options, huge_opt_cb, &h, err);
	if (r < 0)
		return r;
	if (!h.has_pagesize || !h.has_size || !h.pagesize || h.pagesize % 1024)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "hugetlbfs storage %s: pagesize= and size= (bytes) needed",
				       s->mount_point);
	uint64_t need = h.size / h.pagesize;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/hugepages-%llukB/nr_hugepages", sysfs,
		 (unsigned long long)(h.pagesize / 1024));
	for (int attempt = 0;; attempt++) {
		cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return kerr_set_status(err,
					       errno == ENOENT ? GRPC_FAILED_PRECONDITION
							       : GRPC_INTERNAL,
					       -errno, "huge pages of %llu bytes: %s: %s",
					       (unsigned long long)h.pagesize, path,
					       strerror(errno));
		char buf[32];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			return kerr_set(err, n < 0 ? -errno : -EIO, "read %s", path);
		buf[n] = '\0';
		unsigned long long have = strtoull(buf, NULL, 10);
		if (have >= need)
			return 0;
		if (attempt)
			return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
					       "only %llu of %llu huge pages of %llu bytes could be "
					       "allocated",
					       have, (unsigned long long)need,
					       (unsigned long long)h.pagesize);
		int l = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)need);
		if (pwrite(fd, buf, (size_t)l, 0) != l && errno != ENOMEM)
			return kerr_set(err, -errno, "write %s: %s", path, strerror(errno));
	}
}

const char *storage_hugepages_sysfs = "/sys/kernel/mm/hugepages";

static int do_ephemeral(struct storage_entry *ent, int rootfd, const char *rel,
			const Grpc__Storage *s, struct kerr *err)
{
	const char *fstype = s->fstype[0] ? s->fstype : "tmpfs";
	if (strcmp(fstype, "tmpfs") && strcmp(fstype, "hugetlbfs"))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EOPNOTSUPP,
				       "ephemeral storage of fstype \"%.64s\": only tmpfs and "
				       "hugetlbfs",
				       s->fstype);
	int r;
	if (!strcmp(fstype, "hugetlbfs") &&
	    (r = allocate_hugepages(storage_hugepages_sysfs, s, err)) < 0)
		return kerr_prefix(err, "ephemeral storage %s", ent->mount_point);
	struct mount_opts mo = { 0 };
	cleanup_close int mnt = make_fs(ent, fstype, NULL, NULL, s, SK_EPHEMERAL, &mo, err);
	if (mnt < 0)
		return mnt;
	/* The fsgid ownership goes on the tmpfs root before anyone can see it.
	 * mode= was given to tmpfs already. */
	struct mount_opts own = { .has_fsgid = mo.has_fsgid, .fsgid = mo.fsgid };
	if (!(mo.attr.attr_set & MOUNT_ATTR_RDONLY)) {
		r = apply_fsgid_mode(mnt, ent, &own, S_ISGID, err);
		if (r < 0)
			return r;
	}
	if (s->fs_group && !(mo.attr.attr_set & MOUNT_ATTR_RDONLY)) {
		/* A fresh tmpfs holds only its root: the recursive change of
		 * upstream's set_ownership reduces to that. */
		struct mount_opts g = { .has_fsgid = true, .fsgid = s->fs_group->group_id };
		r = apply_fsgid_mode(mnt, ent, &g, S_ISGID | 0770, err);
		if (r < 0)
			return r;
	}
	cleanup_close int mpfd = open_create(rootfd, rel, false, ent, err);
	if (mpfd < 0)
		return mpfd;
	return attach(ent, &mnt, mpfd, &mo, err);
}

/* The tag of a virtio-fs or virtio-9p device, as the VMM names it. */
static int check_tag(const char *t, struct kerr *err)
{
	size_t l = strlen(t);
	bool ok = l > 0 && l <= 36;
	for (const char *p = t; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.';
	if (!ok)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "shared filesystem source \"%.40s\" is not a device tag "
				       "(1..36 of [A-Za-z0-9_.-])",
				       t);
	return 0;
}

/* "virtio-fs" and "9p" (upstream's virtiofs and 9p handlers): the host's
 * shared directory, by the device's tag, mounted with the storage's
 * options. */
static int do_sharedfs(struct storage_entry *ent, int rootfd, const char *rel,
		       const Grpc__Storage *s, struct kerr *err)
{
	const char *fstype = strcmp(s->driver, "9p") ? "virtiofs" : "9p";
	if (s->fstype[0] && strcmp(s->fstype, fstype))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "storage driver %s takes fstype %s, not \"%s\"", s->driver,
				       fstype, s->fstype);
	int r = check_tag(s->source, err);
	if (r < 0)
		return r;
	if (s->fs_group)
		return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
				       "fs_group on a %s storage is not supported yet", s->driver);
	struct mount_opts mo = { 0 };
	cleanup_close int mnt = make_fs(ent, fstype, s->source, NULL, s, SK_SHAREDFS, &mo, err);
	if (mnt < 0)
		return mnt;
	if (mo.has_fsgid || mo.has_mode)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s storage %s: fsgid=/mode= do not apply", s->driver,
				       ent->mount_point);
	cleanup_close int mpfd = open_create(rootfd, rel, false, ent, err);
	if (mpfd < 0)
		return mpfd;
	return attach(ent, &mnt, mpfd, &mo, err);
}

static int do_bind(struct storage_entry *ent, const char *src_norm,
		   const struct storage_policy *pol, int rootfd, const char *rel,
		   const Grpc__Storage *s, struct kerr *err)
{
	if (s->fs_group)
		return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
				       "fs_group on a bind storage is not supported yet (%s)",
				       ent->mount_point);
	const char *sroot, *srel;
	int r = find_root("bind source", src_norm, pol, &sroot, &srel, err);
	if (r < 0)
		return r;
	cleanup_close int srootfd = open_root(sroot, err);
	if (srootfd < 0)
		return srootfd;
	cleanup_close int sfd = sys_openat2(srootfd, srel[0] ? srel : ".", O_PATH | O_CLOEXEC,
					    RESOLVE_STORAGE);
	if (sfd < 0)
		return resolve_error("bind source", src_norm, errno, err);
	struct stat st;
	if (fstat(sfd, &st) < 0)
		return kerr_set(err, -errno, "stat %s: %s", src_norm, strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "bind source %s is neither a directory nor a file",
				       src_norm);

	struct mount_opts mo = { 0 };
	struct opt_ctx c = { .mo = &mo, .fsfd = -1, .kind = SK_BIND };
	r = for_each_opt(s->options, s->n_options, opt_cb, &c, err);
	if (r < 0)
		return kerr_prefix(err, "bind storage %s", ent->mount_point);
	if (mo.has_fsgid || mo.has_mode)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "bind storage %s: fsgid=/mode= do not apply to a bind",
				       ent->mount_point);

	cleanup_close int mnt = open_tree(sfd, "",
					  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
						  (mo.rbind ? AT_RECURSIVE : 0));
	if (mnt < 0)
		return kerr_set(err, -errno, "open_tree %s: %s", src_norm, strerror(errno));
	if (mo.attr.attr_set || mo.attr.attr_clr) {
		struct mount_attr a = mo.attr;
		a.propagation = 0;
		if (mount_setattr(mnt, "", AT_EMPTY_PATH | (mo.rbind ? AT_RECURSIVE : 0), &a,
				  sizeof(a)) < 0)
			return kerr_set(err, -errno, "set attributes of bind %s: %s",
					ent->mount_point, strerror(errno));
	}
	cleanup_close int mpfd = open_create(rootfd, rel, !S_ISDIR(st.st_mode), ent, err);
	if (mpfd < 0)
		return mpfd;
	struct stat mst;
	if (fstat(mpfd, &mst) < 0)
		return kerr_set(err, -errno, "stat %s: %s", ent->mount_point, strerror(errno));
	if (S_ISDIR(mst.st_mode) != S_ISDIR(st.st_mode))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "bind %s onto %s: one is a directory, the other is not",
				       src_norm, ent->mount_point);
	return attach(ent, &mnt, mpfd, &mo, err);
}

/* ---- block devices and overlayfs ---------------------------------------- */

const struct dev_env *storage_dev_env = &dev_env_real;

/* Whether fstype reads a block device: listed in /proc/filesystems without
 * "nodev" (fsopen loads its module first). A block storage may not ask for
 * proc, tmpfs, overlay, ...: those ignore the device and could show the
 * guest's own trees through the volume. */
static int check_block_fstype(const char *fstype, struct kerr *err)
{
	int fs = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fs < 0)
		return kerr_set_status(err,
				       errno == ENODEV ? GRPC_FAILED_PRECONDITION
						       : GRPC_INVALID_ARGUMENT,
				       -errno, "fstype \"%.32s\": %s", fstype, strerror(errno));
	close(fs);
	cleanup_fclose FILE *f = fopen("/proc/filesystems", "re");
	char line[128];
	while (f && fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '\t');
		if (!name)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (!strcmp(name + 1, fstype) && strncmp(line, "nodev", 5) == 0)
			break;
		if (!strcmp(name + 1, fstype))
			return 0;
	}
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
			       "fstype \"%.32s\" is not a filesystem on a block device", fstype);
}

/* "fsGroup" of a block volume, as upstream's set_ownership (fs_group.h). */
static int block_fs_group(struct storage_entry *ent, int mnt, const Grpc__Storage *s,
			  const struct mount_opts *mo, struct kerr *err)
{
	if (!s->fs_group)
		return 0;
	if (mo->attr.attr_set & MOUNT_ATTR_RDONLY) {
		log_info("storage %s: read-only, fsGroup %u left to the volume", ent->mount_point,
			 s->fs_group->group_id);
		return 0;
	}
	bool on_mismatch = s->fs_group->group_change_policy ==
			   TYPES__FSGROUP_CHANGE_POLICY__OnRootMismatch;
	return fs_group_apply(mnt, s->fs_group->group_id, on_mismatch, false, ent->mount_point,
			      err);
}

/* "blk", "mmioblk", "scsi", "nvdimm" (upstream block_handler.rs): the
 * device found for the storage's source (devs: the request's batch; else
 * looked for now, without waiting), its node opened as the kernel named it
 * and checked to be that device; mounted through that fd with fstype and
 * the options, or bound as a node for fstype "bind". */
/* The node of a block storage's device (devs: the request's batch; else
 * looked for now, without waiting), opened as the kernel named it and
 * checked to be that device; *found describes it. */
static int block_node(const Grpc__Storage *s, const struct dev_batch *devs, struct dev_found *found,
		      struct dev_query *q, struct kerr *err)
{
	int r = dev_query_from_storage(s->driver, s->source, q, err);
	if (r < 0)
		return r;
	const struct dev_found *f = dev_batch_lookup(devs, q);
	if (f) {
		*found = *f;
	} else {
		r = dev_probe(storage_dev_env, q, found, err);
		if (r < 0)
			return r;
		if (r == 0)
			return kerr_set_status(err, GRPC_NOT_FOUND, -ENODEV,
					       "%s is not there (this request does not wait for "
					       "hot-plugged devices)",
					       q->label);
	}
	int node = dev_node_open(storage_dev_env, found, err);
	if (node == -ENOENT)
		return kerr_set_status(err, GRPC_NOT_FOUND, -ENOENT, "%s: /dev/%s is gone",
				       q->label, found->devname);
	return node;
}

static int do_block(struct storage_entry *ent, int rootfd, const char *rel, const Grpc__Storage *s,
		    const struct dev_batch *devs, struct kerr *err)
{
	struct dev_query q;
	struct dev_found fd_ = { 0 };
	const struct dev_found *f = &fd_;
	int r;
	cleanup_close int node = block_node(s, devs, &fd_, &q, err);
	if (node < 0)
		return node;
	if ((r = pending_device(f->rdev, q.label, err)) < 0)
		return r;
	ent->blkdev = f->rdev;
	struct mount_opts mo = { 0 };
	cleanup_close int mnt = -1;
	bool bind = !strcmp(s->fstype, "bind");
	if (bind) {
		/* The runtime's raw block volume: the node itself, bound. */
		struct opt_ctx c = { .mo = &mo, .fsfd = -1, .kind = SK_BLOCK };
		if ((r = for_each_opt(s->options, s->n_options, opt_cb, &c, err)) < 0)
			return r;
		mnt = open_tree(node, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (mnt < 0)
			return kerr_set(err, -errno, "open_tree /dev/%s: %s", f->devname,
					strerror(errno));
		struct mount_attr a = mo.attr;
		a.propagation = 0;
		if ((a.attr_set || a.attr_clr) &&
		    mount_setattr(mnt, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
			return kerr_set(err, -errno, "set attributes of %s: %s", ent->mount_point,
					strerror(errno));
	} else {
		if (!s->fstype[0])
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "block storage %s has no fstype", ent->mount_point);
		if ((r = check_block_fstype(s->fstype, err)) < 0)
			return kerr_prefix(err, "block storage %s", ent->mount_point);
		char src[32];
		snprintf(src, sizeof(src), "/proc/self/fd/%d", node);
		mnt = make_fs(ent, s->fstype, src, NULL, s, SK_BLOCK, &mo, err);
		if (mnt < 0)
			return mnt;
		if (mo.has_fsgid || mo.has_mode)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "block storage %s: fsgid=/mode= do not apply",
					       ent->mount_point);
		if ((r = block_fs_group(ent, mnt, s, &mo, err)) < 0)
			return r;
	}
	log_info("storage %s: %s is /dev/%s (%u:%u)", ent->mount_point, q.label, f->devname,
		 major(f->rdev), minor(f->rdev));
	cleanup_close int mpfd = open_create(rootfd, rel, bind, ent, err);
	if (mpfd < 0)
		return mpfd;
	return attach(ent, &mnt, mpfd, &mo, err);
}

/* One overlay layer: path below an allowed root, opened (O_PATH) without
 * leaving it; "/proc/self/fd/N" of it into out. fds collects the fds. */
static int overlay_layer(const char *what, const char *path, const struct storage_policy *pol,
			 int *fds, size_t *nfds, char *out, size_t len, struct kerr *err)
{
	cleanup_free char *norm = NULL;
	int r = msrc_normalize(what, path, &norm, err);
	if (r < 0)
		return r;
	const char *root, *rel;
	if ((r = find_root(what, norm, pol, &root, &rel, err)) < 0)
		return r;
	cleanup_close int rootfd = open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	int fd = sys_openat2(rootfd, rel[0] ? rel : ".", O_PATH | O_DIRECTORY | O_CLOEXEC,
			     RESOLVE_STORAGE);
	if (fd < 0)
		return resolve_error(what, norm, errno, err);
	fds[(*nfds)++] = fd;
	int k = snprintf(out, len, "/proc/self/fd/%d", fd);
	return k > 0 && (size_t)k < len ? 0 : kerr_set(err, -ENAMETOOLONG, "too many layers");
}

#define OVERLAY_MAX_LAYERS 128

struct overlay_ctx {
	const struct storage_policy *pol;
	int fds[OVERLAY_MAX_LAYERS + 2];
	size_t nfds;
	char lower[OVERLAY_MAX_LAYERS * 20], upper[32], work[32];
};

static int overlay_opt(const char *o, void *vctx, struct kerr *err)
{
	struct overlay_ctx *c = vctx;
	if (!strcmp(o, "io.katacontainers.fs-opt.overlay-rw"))
		return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
				       "overlayfs storage: %s (a per-container upper layer made by "
				       "the agent) is not supported yet",
				       o);
	if (!strncmp(o, "upperdir=", 9) || !strncmp(o, "workdir=", 8)) {
		bool up = o[0] == 'u';
		if ((up ? c->upper : c->work)[0])
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "overlayfs storage: %s given twice",
					       up ? "upperdir" : "workdir");
		return overlay_layer(up ? "overlay upperdir" : "overlay workdir",
				     strchr(o, '=') + 1, c->pol, c->fds, &c->nfds,
				     up ? c->upper : c->work, 32, err);
	}
	if (strncmp(o, "lowerdir=", 9))
		return 0;
	if (c->lower[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "overlayfs storage: lowerdir given twice");
	cleanup_free char *list = strdup(o + 9);
	if (!list)
		return kerr_set(err, -ENOMEM, "out of memory");
	size_t o2 = 0;
	char *save = NULL;
	for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		if (c->nfds >= OVERLAY_MAX_LAYERS)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
					       "overlayfs storage: more than %d layers",
					       OVERLAY_MAX_LAYERS);
		char one[32];
		int r = overlay_layer("overlay lowerdir", p, c->pol, c->fds, &c->nfds, one,
				      sizeof(one), err);
		if (r < 0)
			return r;
		o2 += (size_t)snprintf(c->lower + o2, sizeof(c->lower) - o2, "%s%s", o2 ? ":" : "",
				       one);
	}
	return 0;
}

/* "io.katacontainers.volume.overlayfs.create_directory=<dir>": made below
 * the mount point's root first (upstream fs_handler.rs), and removed with
 * the storage when still empty. */
static int overlay_mkdirs(struct storage_entry *ent, int rootfd, const Grpc__Storage *s,
			  struct kerr *err)
{
	static const char key[] = "io.katacontainers.volume.overlayfs.create_directory=";
	for (size_t i = 0; i < s->n_driver_options; i++) {
		if (strncmp(s->driver_options[i], key, sizeof(key) - 1))
			continue;
		cleanup_free char *norm = NULL;
		int r = msrc_normalize("overlay directory", s->driver_options[i] + sizeof(key) - 1,
				       &norm, err);
		if (r < 0)
			return r;
		size_t rl = strlen(ent->root);
		if (strncmp(norm, ent->root, rl) || norm[rl] != '/')
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EPERM,
					       "overlay directory \"%.200s\" is not below %s", norm,
					       ent->root);
		cleanup_close int fd = open_create(rootfd, norm + rl + 1, false, ent, err);
		if (fd < 0)
			return fd;
	}
	return 0;
}

/* "overlayfs" (upstream OverlayfsHandler): an overlay whose layers are all
 * below the allowed roots, each resolved once and handed to the kernel as
 * the fd it resolved to, never as the host's path string. */
static int do_overlay(struct storage_entry *ent, const struct storage_policy *pol, int rootfd,
		      const char *rel, const Grpc__Storage *s, struct kerr *err)
{
	if (s->fstype[0] && strcmp(s->fstype, "overlay"))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "overlayfs storage of fstype \"%.32s\": only overlay",
				       s->fstype);
	if (s->fs_group)
		return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
				       "fs_group on an overlayfs storage is not supported yet");
	int r = overlay_mkdirs(ent, rootfd, s, err);
	if (r < 0)
		return r;
	struct overlay_ctx c = { .pol = pol };
	r = for_each_opt(s->options, s->n_options, overlay_opt, &c, err);
	if (r >= 0 && !c.lower[0])
		r = kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				    "overlayfs storage %s has no lowerdir", ent->mount_point);
	if (r >= 0 && !c.upper[0] != !c.work[0])
		r = kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				    "overlayfs storage %s: upperdir and workdir go together",
				    ent->mount_point);
	const char *kv[] = { "lowerdir", c.lower, "upperdir", c.upper, "workdir", c.work, NULL };
	if (!c.upper[0])
		kv[2] = NULL;
	struct mount_opts mo = { 0 };
	cleanup_close int mnt = r < 0 ? r
				      : make_fs(ent, "overlay", NULL, kv, s, SK_OVERLAY, &mo, err);
	for (size_t i = 0; i < c.nfds; i++)
		close(c.fds[i]);
	if (mnt < 0)
		return mnt;
	if (mo.has_fsgid || mo.has_mode)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "overlayfs storage %s: fsgid=/mode= do not apply",
				       ent->mount_point);
	cleanup_close int mpfd = open_create(rootfd, rel, false, ent, err);
	if (mpfd < 0)
		return mpfd;
	return attach(ent, &mnt, mpfd, &mo, err);
}

/* The tmpfs the watchable copies live in: an ephemeral storage of the set
 * (refcounted like any), at the mount point's directory. */
static int watch_tmpfs(struct storage_set *set, const char *dir, const struct storage_policy *pol,
		       struct kerr *err)
{
	char *opts[] = { "nosuid", "nodev", "mode=0755" };
	Grpc__Storage t = GRPC__STORAGE__INIT;
	t.driver = "ephemeral";
	t.source = "tmpfs";
	t.fstype = "tmpfs";
	t.mount_point = (char *)dir;
	t.options = opts;
	t.n_options = sizeof(opts) / sizeof(opts[0]);
	return storage_add(set, &t, pol, err);
}

/* "watchable-bind" (upstream watcher.rs): the source copied into a tmpfs at
 * <shared>/shared/containers/[passthrough/]watchable and kept in sync
 * (watcher.c). The copy's mount point must be directly in that directory,
 * as upstream's watchable_mount_path requires. */
static int do_watch(struct storage_set *set, struct storage_entry *ent, const char *src_norm,
		    const struct storage_policy *pol, int rootfd, const char *rel,
		    const Grpc__Storage *s, struct kerr *err)
{
	static const char *const dirs[] = { "shared/containers/watchable",
					    "shared/containers/passthrough/watchable" };
	const char *slash = strrchr(rel, '/');
	size_t dl = slash ? (size_t)(slash - rel) : 0;
	bool ok = false;
	for (size_t i = 0; slash && slash[1] && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ok |= dl == strlen(dirs[i]) && !strncmp(rel, dirs[i], dl);
	if (!ok)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "watchable-bind mount point %s is not directly in "
				       "<shared>/shared/containers/[passthrough/]watchable",
				       ent->mount_point);
	const char *sroot, *srel;
	int r = find_root("watchable-bind source", src_norm, pol, &sroot, &srel, err);
	if (r < 0)
		return r;
	if (!srel[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "watchable-bind source %s is an allowed root", src_norm);
	cleanup_close int srootfd = open_root(sroot, err);
	if (srootfd < 0)
		return srootfd;
	/* The source's directory, resolved once; the source itself is looked
	 * up in it by name each round, never through a symlink. */
	const char *sbase = strrchr(srel, '/');
	cleanup_free char *sdir = sbase ? strndup(srel, (size_t)(sbase - srel)) : strdup(".");
	sbase = sbase ? sbase + 1 : srel;
	if (!sdir)
		return kerr_set(err, -ENOMEM, "out of memory");
	cleanup_close int spfd = sys_openat2(srootfd, sdir, O_PATH | O_DIRECTORY | O_CLOEXEC,
					     RESOLVE_STORAGE);
	if (spfd < 0)
		return resolve_error("watchable-bind source", src_norm, errno, err);
	struct stat st;
	if (fstatat(spfd, sbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kerr_set_status(err,
				       errno == ENOENT ? GRPC_NOT_FOUND : GRPC_INVALID_ARGUMENT,
				       -errno, "watchable-bind source %s: %s", src_norm,
				       strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "watchable-bind source %s is neither a directory nor a file "
				       "(a symlink is not followed)",
				       src_norm);
	cleanup_free char *dir = strndup(ent->mount_point,
					 strlen(ent->mount_point) - strlen(slash));
	if (!dir)
		return kerr_set(err, -ENOMEM, "out of memory");
	if ((r = watch_tmpfs(set, dir, pol, err)) < 0)
		return kerr_prefix(err, "watchable-bind %s", ent->mount_point);
	cleanup_close int dst = open_create(rootfd, rel, !S_ISDIR(st.st_mode), ent, err);
	if (dst < 0)
		return dst;
	r = key_of(dst, &ent->key_mnt, &ent->key_dev, &ent->key_ino);
	if (r < 0)
		return kerr_set(err, r, "statx %s: %s", ent->mount_point, strerror(-r));
	return watch_start(&spfd, sbase, &dst, ent->mount_point, &ent->watch, err);
}

/* Which handler a storage goes to, by driver only (as upstream; fstype is
 * the handler's business); UNIMPLEMENTED for drivers not done yet. "bind"
 * is ours, not upstream's. */
static int classify(const Grpc__Storage *s, enum storage_kind *k, struct kerr *err)
{
	const char *d = s->driver ? s->driver : "";
	if (!strcmp(d, "bind")) {
		*k = SK_BIND;
		return 0;
	}
	if (!strcmp(d, "local")) {
		*k = SK_LOCAL;
		return 0;
	}
	if (!strcmp(d, "ephemeral")) {
		*k = SK_EPHEMERAL;
		return 0;
	}
	if (!strcmp(d, "virtio-fs") || !strcmp(d, "9p")) {
		*k = SK_SHAREDFS;
		return 0;
	}
	if (!strcmp(d, "watchable-bind")) {
		*k = SK_WATCH;
		return 0;
	}
	if (!strcmp(d, "blk") || !strcmp(d, "mmioblk") || !strcmp(d, "scsi") ||
	    !strcmp(d, "nvdimm")) {
		*k = SK_BLOCK;
		return 0;
	}
	if (!strcmp(d, "overlayfs")) {
		*k = SK_OVERLAY;
		return 0;
	}
	if (!d[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "storage for %s has no driver", s->mount_point);
	return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
			       "storage driver \"%s\" is not supported yet", d);
}

/* ---- API ----------------------------------------------------------------- */

int storage_set_new(struct storage_set **out, struct kerr *err)
{
	struct storage_set *set = calloc(1, sizeof(*set));
	if (!set)
		return kerr_set(err, -ENOMEM, "storage set: out of memory");
	*out = set;
	return 0;
}

size_t storage_set_count(const struct storage_set *set)
{
	return set ? set->n : 0;
}

static int set_push(struct storage_set *set, struct storage_entry *ent, struct kerr *err)
{
	if (set->n == set->cap) {
		size_t nc = set->cap ? set->cap * 2 : 8;
		struct storage_entry **ni = realloc(set->items, nc * sizeof(*ni));
		if (!ni)
			return kerr_set(err, -ENOMEM, "storage set: out of memory");
		set->items = ni;
		set->cap = nc;
	}
	set->items[set->n++] = ent;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

int storage_add(struct storage_set *set, const Grpc__Storage *s, const struct storage_policy *pol,
		struct kerr *err)
{
	return storage_add_dev(set, s, pol, NULL, err);
}

/* What storage_add_dev checked of a request before it touches anything. */
struct add_req {
	enum storage_kind kind;
	char *mp;         /* the normalised mount point */
	const char *root; /* the allowed root it is below, and the rest */
	const char *rel;
	char *src; /* bind and watchable-bind: the normalised source */
};

static void add_req_clear(struct add_req *q)
{
	free(q->mp);
	free(q->src);
}

static int add_check(const Grpc__Storage *s, const struct storage_policy *pol, struct add_req *q,
		     struct kerr *err)
{
	q->kind = SK_LOCAL;
	int r = classify(s, &q->kind, err);
	if (r < 0 || (r = check_fs_options(s, err)) < 0)
		return r;
	r = msrc_normalize("storage mount point", s->mount_point, &q->mp, err);
	if (r < 0)
		return r;
	r = find_root("storage mount point", q->mp, pol, &q->root, &q->rel, err);
	if (r < 0)
		return r;
	if (!q->rel[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "storage mount point %s is an allowed root itself", q->mp);
	r = pending_overlap(q->mp, err);
	if (r < 0)
		return r;
	if (q->kind == SK_BIND || q->kind == SK_WATCH)
		return msrc_normalize("bind source", s->source, &q->src, err);
	return 0;
}

/* An existing mount point is looked up by what it is, not by how it is
 * spelled. A missing one cannot be held by anyone (*out NULL). */
static int entry_at_rel(int rootfd, const struct add_req *q, struct storage_entry **out,
			struct kerr *err)
{
	*out = NULL;
	cleanup_close int fd = sys_openat2(rootfd, q->rel, O_PATH | O_CLOEXEC, RESOLVE_MOUNT_POINT);
	if (fd < 0)
		return errno == ENOENT ? 0 : resolve_error("mount point", q->mp, errno, err);
	uint64_t km;
	dev_t kd;
	ino_t ki;
	int r = key_of(fd, &km, &kd, &ki);
	if (r < 0)
		return kerr_set(err, r, "statx %s: %s", q->mp, strerror(-r));
	*out = registry_find(km, kd, ki);
	return 0;
}

/* The same storage again (another container's, or the sandbox's): one
 * more reference, if it is the same driver, fstype and source. */
static int add_reference(struct storage_set *set, struct storage_entry *ent, const Grpc__Storage *s,
			 const struct add_req *q, struct kerr *err)
{
	if (!same_str(ent->driver, s->driver) || !same_str(ent->fstype, s->fstype) ||
	    ((q->kind == SK_BIND || q->kind == SK_WATCH) && !same_str(ent->source, q->src)))
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
				       "mount point %s already holds a different storage (%s)",
				       q->mp, kind_name(ent->kind));
	int r = set_push(set, ent, err);
	if (r < 0)
		return r;
	ent->refs++;
	log_debug("storage %s: reference %u", q->mp, ent->refs);
	return 0;
}

/* A new entry for the request; takes q->mp (q->rel then points into
 * ent->mount_point). */
static int entry_new(const Grpc__Storage *s, struct add_req *q, struct storage_entry **out,
		     struct kerr *err)
{
	struct storage_entry *ent = calloc(1, sizeof(*ent));
	if (!ent)
		return kerr_set(err, -ENOMEM, "storage: out of memory");
	ent->kind = q->kind;
	ent->mntfd = -1;
	ent->driver = strdup(s->driver ? s->driver : "");
	ent->fstype = strdup(s->fstype ? s->fstype : "");
	ent->source = strdup(q->src ? q->src : (s->source ? s->source : ""));
	ent->mount_point = take_ptr(&q->mp);
	ent->root = strdup(q->root);
	if (!ent->driver || !ent->fstype || !ent->source || !ent->root) {
		entry_free(ent);
		return kerr_set(err, -ENOMEM, "storage: out of memory");
	}
	*out = ent;
	return 0;
}

/* Mount ent by its driver. */
static int mount_by_kind(struct storage_set *set, struct storage_entry *ent,
			 const struct add_req *q, const struct storage_policy *pol, int rootfd,
			 const Grpc__Storage *s, const struct dev_batch *devs, struct kerr *err)
{
	switch (q->kind) {
	case SK_LOCAL:
		return do_local(ent, rootfd, q->rel, s, err);
	case SK_EPHEMERAL:
		return do_ephemeral(ent, rootfd, q->rel, s, err);
	case SK_SHAREDFS:
		return do_sharedfs(ent, rootfd, q->rel, s, err);
	case SK_WATCH:
		return do_watch(set, ent, q->src, pol, rootfd, q->rel, s, err);
	case SK_BLOCK:
		return do_block(ent, rootfd, q->rel, s, devs, err);
	case SK_OVERLAY:
		return do_overlay(ent, pol, rootfd, q->rel, s, err);
	default:
		return do_bind(ent, q->src, pol, rootfd, q->rel, s, err);
	}
}

int storage_add_dev(struct storage_set *set, const Grpc__Storage *s,
		    const struct storage_policy *pol, const struct dev_batch *devs,
		    struct kerr *err)
{
	if (!set || !s)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "no storage");
	__attribute__((cleanup(add_req_clear))) struct add_req q = { 0 };
	int r = add_check(s, pol, &q, err);
	if (r < 0)
		return r;
	cleanup_close int rootfd = open_root(q.root, err);
	if (rootfd < 0)
		return rootfd;
	struct storage_entry *ent;
	r = entry_at_rel(rootfd, &q, &ent, err);
	if (r < 0)
		return r;
	if (ent)
		return add_reference(set, ent, s, &q, err);

	/* Room in the set first: nothing to undo if this fails. Two places:
	 * a watchable-bind adds its tmpfs to the set before itself. */
	while (set->n + 2 > set->cap) {
		r = set_push(set, NULL, err);
		if (r < 0)
			return r;
		set->n--;
	}
	r = entry_new(s, &q, &ent, err);
	if (r < 0)
		return r;
	r = mount_by_kind(set, ent, &q, pol, rootfd, s, devs, err);
	if (r < 0) {
		/* Undo partial work: the mount if it got attached, then what we created. */
		if (unmount_entry(ent) == 0)
			remove_created(ent);
		entry_free(ent);
		return r;
	}
	ent->refs = 1;
	ent->next = registry;
	registry = ent;
	set->items[set->n++] = ent;
	log_info("storage %s (%s) ready", ent->mount_point, kind_name(q.kind));
	return 0;
}

/* The entry holding mount_point now, looked up by what the path is (not
 * how it is spelled): *out NULL when none does. A mount point that cannot
 * be opened holds none, or is an error when strict (but a missing one).
 * *mp: the normalised path (the caller frees it). */
static int held_at(const char *mount_point, const struct storage_policy *pol, bool strict,
		   char **mp, struct storage_entry **out, struct kerr *err)
{
	const char *root, *rel;
	*out = NULL;
	if (msrc_normalize("storage mount point", mount_point, mp, err) < 0 ||
	    find_root("storage mount point", *mp, pol, &root, &rel, err) < 0)
		return err->code;
	cleanup_close int rootfd = open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	cleanup_close int fd = sys_openat2(rootfd, rel[0] ? rel : ".", O_PATH | O_CLOEXEC,
					   RESOLVE_MOUNT_POINT);
	if (fd < 0)
		return strict && errno != ENOENT ? resolve_error("mount point", *mp, errno, err)
						 : 0;
	uint64_t km;
	dev_t kd;
	ino_t ki;
	if (key_of(fd, &km, &kd, &ki) == 0)
		*out = registry_find(km, kd, ki);
	return 0;
}

/* ---- secure storages: mounted by the CDH (storage.h) ---------------------- */

struct storage_secure {
	struct storage_entry *ent; /* not in the registry until adopted */
	size_t rel_off;            /* the mount point below ent->root */
	dev_t rdev;
	char device_id[24];
	struct storage_secure *next; /* pending */
};

/* a and b (normalised) are one path, or one is below the other. */
static bool paths_nest(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;
	return !strncmp(a, b, l) && (la == lb || (la < lb ? b[l] : a[l]) == '/');
}

static int pending_overlap(const char *mp, struct kerr *err)
{
	for (struct storage_secure *p = pending; p; p = p->next)
		if (paths_nest(p->ent->mount_point, mp))
			return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
					       "storage mount point %s: a SecureMount of %s (by the "
					       "CDH) has not ended yet",
					       mp, p->ent->mount_point);
	return 0;
}

static int pending_device(dev_t rdev, const char *label, struct kerr *err)
{
	for (struct storage_secure *p = pending; p; p = p->next)
		if (p->rdev == rdev)
			return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
					       "%s (%u:%u): a SecureMount of it on %s (by the CDH) "
					       "has not ended yet",
					       label, major(rdev), minor(rdev),
					       p->ent->mount_point);
	return 0;
}

static void pending_remove(struct storage_secure *ss)
{
	for (struct storage_secure **pp = &pending; *pp; pp = &(*pp)->next)
		if (*pp == ss) {
			*pp = ss->next;
			return;
		}
}

int storage_device_unused(int node, const struct dev_found *f, const char *label, struct kerr *err)
{
	unsigned ma = major(f->rdev), mi = minor(f->rdev);
	struct stat st;
	if (stat("/", &st) == 0 && st.st_dev == f->rdev)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
				       "%s (/dev/%s, %u:%u) holds the guest's root filesystem",
				       label, f->devname, ma, mi);
	/* The kernel's own answer: an exclusive open fails while a
	 * filesystem (in any mount namespace), device-mapper, md or swap
	 * holds the device, or a partition of it. */
	char p[32];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", node);
	int fd = open(p, O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return kerr_set_status(err,
				       errno == EBUSY ? GRPC_FAILED_PRECONDITION : GRPC_INTERNAL,
				       -errno, "%s (/dev/%s, %u:%u) %s%s", label, f->devname, ma,
				       mi,
				       errno == EBUSY ? "is in use (mounted, or held by "
							"device-mapper, md or swap)"
						      : "cannot be opened: ",
				       errno == EBUSY ? "" : strerror(errno));
	close(fd);
	for (struct storage_entry *e = registry; e; e = e->next)
		if (e->kind == SK_BLOCK && e->blkdev == f->rdev)
			return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
					       "%s (/dev/%s, %u:%u) is the storage %s already",
					       label, f->devname, ma, mi, e->mount_point);
	return pending_device(f->rdev, label, err);
}

static bool has_driver_option(const Grpc__Storage *s, const char *o)
{
	for (size_t i = 0; i < s->n_driver_options; i++)
		if (!strcmp(s->driver_options[i], o))
			return true;
	return false;
}

/* The block handlers that go through upstream's handle_block_storage
 * (virtio-blk, virtio-mmio, SCSI; not pmem). */
static bool is_block_handler(const Grpc__Storage *s)
{
	const char *d = s->driver ? s->driver : "";
	return !strcmp(d, "blk") || !strcmp(d, "mmioblk") || !strcmp(d, "scsi");
}

/* Upstream's other handlers ignore the two options; here they are refused
 * on any other driver, so a request cannot mean one thing and get
 * another. */
static int check_fs_options(const Grpc__Storage *s, struct kerr *err)
{
	bool key = has_driver_option(s, STORAGE_OPT_EPHEMERAL_KEY);
	bool mkfs = has_driver_option(s, STORAGE_OPT_CREATE_FS);
	if ((key || mkfs) && !is_block_handler(s))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "storage %s: %s applies to blk, mmioblk and scsi storages "
				       "only, not \"%.32s\"",
				       s->mount_point,
				       key ? STORAGE_OPT_EPHEMERAL_KEY : STORAGE_OPT_CREATE_FS,
				       s->driver ? s->driver : "");
	/* upstream block_storage_driver_options */
	if (key && !mkfs)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s requires %s for block storage",
				       STORAGE_OPT_EPHEMERAL_KEY, STORAGE_OPT_CREATE_FS);
	return key ? 2 : mkfs ? 1 : 0;
}

int storage_sandbox_check(const Grpc__Storage *s, struct kerr *err)
{
	bool key = has_driver_option(s, STORAGE_OPT_EPHEMERAL_KEY);
	if (!key && !has_driver_option(s, STORAGE_OPT_CREATE_FS))
		return 0;
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
			       "storage %s: %s is not accepted in CreateSandbox's storages (the "
			       "runtime sends it with CreateContainer)",
			       s->mount_point ? s->mount_point : "",
			       key ? STORAGE_OPT_EPHEMERAL_KEY : STORAGE_OPT_CREATE_FS);
}

static bool is_mount_root(int fd)
{
	struct statx stx;
	return statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_TYPE, &stx) == 0 &&
	       (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static bool is_empty_dir(int fd)
{
	int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_closedir DIR *dir = d < 0 ? NULL : fdopendir(d);
	if (!dir) {
		if (d >= 0)
			close(d);
		return false;
	}
	struct dirent *de;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

/* A mount at fd that no storage holds. */
static bool is_unheld_mount(int fd)
{
	uint64_t km;
	dev_t kd;
	ino_t ki;
	return is_mount_root(fd) && key_of(fd, &km, &kd, &ki) == 0 && !registry_find(km, kd, ki);
}

/* Whether s's mount point is held by a storage already (a second
 * container of the pod using the same emptyDir); errors for a mount
 * point that cannot be looked at (outside the roots, a symlink). */
static int mount_point_held(const Grpc__Storage *s, const struct storage_policy *pol,
			    struct kerr *err)
{
	cleanup_free char *mp = NULL;
	struct storage_entry *ent = NULL;
	int r = held_at(s->mount_point, pol, true, &mp, &ent, err);
	return r < 0 ? r : ent != NULL;
}

/* The mount point's entry (new, not registered): its directories made
 * below the root without following anything; NULL with *held when a
 * storage holds that mount point already. */
static struct storage_entry *secure_entry(const Grpc__Storage *s, const struct storage_policy *pol,
					  size_t *rel_off, bool *held, struct kerr *err)
{
	cleanup_free char *mp = NULL;
	const char *root, *rel;
	if (msrc_normalize("storage mount point", s->mount_point, &mp, err) < 0 ||
	    find_root("storage mount point", mp, pol, &root, &rel, err) < 0)
		return NULL;
	if (!rel[0]) {
		kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"storage mount point %s is an allowed root itself", mp);
		return NULL;
	}
	if (pending_overlap(mp, err) < 0)
		return NULL;
	cleanup_close int rootfd = open_root(root, err);
	if (rootfd < 0)
		return NULL;
	cleanup_close int fd = sys_openat2(rootfd, rel, O_PATH | O_CLOEXEC, RESOLVE_MOUNT_POINT);
	if (fd < 0 && errno != ENOENT) {
		resolve_error("mount point", mp, errno, err);
		return NULL;
	}
	uint64_t km;
	dev_t kd;
	ino_t ki;
	if (fd >= 0 && key_of(fd, &km, &kd, &ki) == 0 && registry_find(km, kd, ki)) {
		*held = true;
		return NULL;
	}
	if (fd >= 0 && (is_mount_root(fd) || !is_empty_dir(fd))) {
		/* Someone else's mount (the CDH's is looked for afterwards), or
		 * a directory with content the CDH's mount would hide (the
		 * shared directory, another container's bundle). */
		kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
				"storage mount point %s exists and is %s", mp,
				is_mount_root(fd) ? "a mount point already"
						  : "not an empty directory");
		return NULL;
	}
	struct storage_entry *ent = calloc(1, sizeof(*ent));
	if (!ent) {
		kerr_set(err, -ENOMEM, "storage: out of memory");
		return NULL;
	}
	ent->kind = SK_BLOCK;
	ent->mntfd = -1;
	*rel_off = (size_t)(rel - mp);
	ent->driver = strdup(s->driver);
	ent->fstype = strdup(s->fstype ? s->fstype : "");
	ent->source = strdup(s->source ? s->source : "");
	ent->root = strdup(root);
	ent->mount_point = take_ptr(&mp);
	cleanup_close int mpfd = -1;
	if (!ent->driver || !ent->fstype || !ent->source || !ent->root)
		kerr_set(err, -ENOMEM, "storage: out of memory");
	else
		mpfd = open_create(rootfd, ent->mount_point + *rel_off, false, ent, err);
	if (mpfd < 0) {
		remove_created(ent);
		entry_free(ent);
		return NULL;
	}
	return ent;
}

int storage_secure_begin_dev(const Grpc__Storage *s, const struct storage_policy *pol, int node,
			     const struct dev_found *f, const char *label,
			     struct storage_secure **out, struct kerr *err)
{
	*out = NULL;
	bool held = false;
	struct storage_secure *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return kerr_set(err, -ENOMEM, "storage: out of memory");
	ss->ent = secure_entry(s, pol, &ss->rel_off, &held, err);
	if (!ss->ent) {
		free(ss);
		return held ? 0 : err->code;
	}
	int r = storage_device_unused(node, f, label, err);
	if (r < 0) {
		remove_created(ss->ent);
		entry_free(ss->ent);
		free(ss);
		return r;
	}
	ss->ent->blkdev = ss->rdev = f->rdev;
	snprintf(ss->device_id, sizeof(ss->device_id), "%u:%u", major(f->rdev), minor(f->rdev));
	log_info("storage %s: %s is /dev/%s (%s), encrypted by the CDH", ss->ent->mount_point,
		 label, f->devname, ss->device_id);
	ss->next = pending;
	pending = ss;
	*out = ss;
	return 1;
}

int storage_secure_begin(const Grpc__Storage *s, const struct storage_policy *pol,
			 const struct dev_batch *devs, struct storage_secure **out,
			 struct kerr *err)
{
	*out = NULL;
	int r = check_fs_options(s, err);
	if (r < 2)
		return r < 0 ? r : 0;
	/* The device first: the CDH is told the numbers of the device the
	 * kernel announced for the storage's source, never a host path. */
	struct dev_query q;
	struct dev_found f = { 0 };
	cleanup_close int node = block_node(s, devs, &f, &q, err);
	if (node < 0)
		return node;
	return storage_secure_begin_dev(s, pol, node, &f, q.label, out, err);
}

int storage_mkfs_check(const Grpc__Storage *s, const struct storage_policy *pol,
		       const struct dev_batch *devs, struct dev_found *f, char *label,
		       size_t label_len, struct kerr *err)
{
	int r = check_fs_options(s, err);
	if (r != 1)
		return r < 0 ? r : 0;
	/* upstream ensure_block_filesystem */
	if (strcmp(s->fstype ? s->fstype : "", "ext4"))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "creating filesystem %.32s for block storage is unsupported",
				       s->fstype ? s->fstype : "");
	/* A second container of the pod: the storage is mounted, made once. */
	r = mount_point_held(s, pol, err);
	if (r != 0)
		return r < 0 ? r : 0;
	cleanup_free char *mp = NULL;
	if ((r = msrc_normalize("storage mount point", s->mount_point, &mp, err)) < 0 ||
	    (r = pending_overlap(mp, err)) < 0)
		return r;
	struct dev_query q;
	cleanup_close int node = block_node(s, devs, f, &q, err);
	if (node < 0)
		return node;
	if ((r = storage_device_unused(node, f, q.label, err)) < 0)
		return r;
	snprintf(label, label_len, "%s", q.label);
	return 1;
}

const char *storage_secure_mount_point(const struct storage_secure *ss)
{
	return ss->ent->mount_point;
}

const char *storage_secure_device_id(const struct storage_secure *ss)
{
	return ss->device_id;
}

/* What the CDH left at the mount point: a mount's root, reached without a
 * symlink; an O_PATH fd of it. */
static int secure_mounted(struct storage_secure *ss, struct kerr *err)
{
	struct storage_entry *ent = ss->ent;
	cleanup_close int rootfd = open_root(ent->root, err);
	if (rootfd < 0)
		return rootfd;
	int fd = sys_openat2(rootfd, ent->mount_point + ss->rel_off, O_PATH | O_CLOEXEC,
			     RESOLVE_MOUNT_POINT);
	if (fd < 0)
		return resolve_error("mount point", ent->mount_point, errno, err);
	struct stat st;
	if (!is_unheld_mount(fd) || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(fd);
		return kerr_set_status(err, GRPC_INTERNAL, -ENOENT,
				       "the CDH's SecureMount succeeded but no filesystem is mounted "
				       "on %s",
				       ent->mount_point);
	}
	return fd;
}

int storage_secure_adopt(struct storage_set *set, struct storage_secure *ss, const Grpc__Storage *s,
			 struct kerr *err)
{
	struct storage_entry *ent = ss->ent;
	int r = 0;
	while (r == 0 && set->n + 1 > set->cap)
		if ((r = set_push(set, NULL, err)) == 0)
			set->n--;
	int fd = r < 0 ? r : secure_mounted(ss, err);
	if (fd < 0)
		return fd;
	ent->mntfd = fd;
	struct mount_opts mo = { 0 };
	r = key_of(fd, &ent->key_mnt, &ent->key_dev, &ent->key_ino);
	if (r < 0)
		r = kerr_set(err, r, "statx %s: %s", ent->mount_point, strerror(-r));
	else
		r = block_fs_group(ent, fd, s, &mo, err); /* upstream set_ownership */
	if (r < 0)
		return r; /* storage_secure_abandon unmounts it */
	ent->refs = 1;
	ent->next = registry;
	registry = ent;
	set->items[set->n++] = ent;
	pending_remove(ss);
	ss->ent = NULL;
	free(ss);
	log_info("storage %s (encrypted block, mounted by the CDH) ready", ent->mount_point);
	return 0;
}

/* An O_PATH fd of a mount no storage holds at ss's mount point, reached
 * without a symlink (never by its path); -1 when there is none. */
static int unheld_mount_at(const struct storage_secure *ss)
{
	const struct storage_entry *ent = ss->ent;
	cleanup_close int rootfd = open(ent->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = rootfd < 0 ? -1
			    : sys_openat2(rootfd, ent->mount_point + ss->rel_off,
					  O_PATH | O_CLOEXEC, RESOLVE_MOUNT_POINT);
	if (fd >= 0 && !is_unheld_mount(fd)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

bool storage_secure_mounted(const struct storage_secure *ss)
{
	cleanup_close int fd = ss ? unheld_mount_at(ss) : -1;
	return fd >= 0;
}

bool storage_secure_abandon(struct storage_secure *ss)
{
	if (!ss)
		return false;
	pending_remove(ss);
	struct storage_entry *ent = ss->ent;
	/* A mount the CDH made (a call that failed late, or one whose
	 * container went meanwhile) is detached through its fd. */
	if (ent->mntfd < 0)
		ent->mntfd = unheld_mount_at(ss);
	bool found = ent->mntfd >= 0;
	if (unmount_entry(ent) == 0)
		remove_created(ent);
	entry_free(ent);
	free(ss);
	return found;
}

void storage_set_free(struct storage_set *set)
{
	if (!set)
		return;
	for (size_t i = set->n; i-- > 0;)
		entry_release(set->items[i]);
	free(set->items);
	free(set);
}

/* The storage of kind this executor mounted at mount_point (looked up as
 * storage_add does: by what the path is now), or NOT_FOUND naming what. */
static struct storage_entry *entry_at(const char *mount_point, enum storage_kind kind,
				      const char *what, const struct storage_policy *pol,
				      struct kerr *err)
{
	cleanup_free char *mp = NULL;
	struct storage_entry *ent = NULL;
	if (held_at(mount_point, pol, false, &mp, &ent, err) < 0)
		return NULL;
	if (!ent || ent->kind != kind || ent->mntfd < 0) {
		kerr_set_status(err, GRPC_NOT_FOUND, -ENOENT, "%s is not %s", mp, what);
		return NULL;
	}
	return ent;
}

int storage_update_ephemeral(const Grpc__Storage *s, const struct storage_policy *pol,
			     struct kerr *err)
{
	if (!s || strcmp(s->driver ? s->driver : "", "ephemeral"))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "storage driver \"%s\": only ephemeral storages can be updated",
				       s && s->driver ? s->driver : "");
	/* Only a tmpfs this executor mounted. */
	struct storage_entry *ent = entry_at(s->mount_point, SK_EPHEMERAL,
					     "an ephemeral storage of this sandbox", pol, err);
	if (!ent)
		return err->code;
	const char *mp = ent->mount_point;
	int r;
	/* Attributes first pass (mo), filesystem options to the superblock
	 * (opt_cb with the fspick fd); fsgid= is what create did, dropped as
	 * upstream does. */
	cleanup_close int fs = fspick(ent->mntfd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	if (fs < 0)
		return kerr_set(err, -errno, "fspick %s: %s", mp, strerror(errno));
	struct mount_opts mo = { 0 };
	struct opt_ctx c = { .mo = &mo, .fsfd = fs, .kind = SK_EPHEMERAL, .update = true };
	r = for_each_opt(s->options, s->n_options, opt_cb, &c, err);
	if (r < 0)
		return kerr_prefix(err, "ephemeral storage %s", mp);
	if (fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno, "reconfigure %s %s: %s",
				       ent->fstype[0] ? ent->fstype : "tmpfs", mp, strerror(errno));
	if (mo.attr.attr_set || mo.attr.attr_clr) {
		struct mount_attr a = mo.attr;
		a.propagation = 0;
		if (mount_setattr(ent->mntfd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
			return kerr_set(err, -errno, "set attributes of %s: %s", mp,
					strerror(errno));
	}
	log_info("storage %s (ephemeral) updated", mp);
	return 0;
}

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape_mountinfo(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

int storage_block_at(const char *mount_point, const struct storage_policy *pol,
		     struct storage_block *out, struct kerr *err)
{
	struct storage_entry *ent = entry_at(mount_point, SK_BLOCK,
					     "a block storage this agent mounted", pol, err);
	if (!ent)
		return err->code;
	if (!strcmp(ent->fstype, "bind"))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s is a raw block volume, not a filesystem",
				       ent->mount_point);
	int fd = openat(ent->mntfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", ent->mount_point, strerror(errno));
	out->root = fd;
	out->dev = ent->blkdev;
	snprintf(out->fstype, sizeof(out->fstype), "%s", ent->fstype);
	return 0;
}

int storage_revalidate_shares(const char *dir)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		log_warn("RemoveStaleVirtiofsShareMounts: /proc/self/mountinfo: %s",
			 strerror(errno));
		return 0;
	}
	size_t dl = strlen(dir);
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int n = 0;
	while (n < STORAGE_MAX_REVALIDATE && getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mount-point ... */
		char *save = NULL, *mp = strtok_r(line, " ", &save);
		for (int i = 0; mp && i < 4; i++)
			mp = strtok_r(NULL, " ", &save);
		if (!mp)
			continue;
		unescape_mountinfo(mp);
		if (strncmp(mp, dir, dl) || mp[dl] != '/')
			continue;
		struct stat st;
		if (fstatat(AT_FDCWD, mp, &st, AT_SYMLINK_NOFOLLOW) < 0)
			log_info("RemoveStaleVirtiofsShareMounts: stat %s: %s", mp,
				 strerror(errno));
		n++;
	}
	return n;
}

bool storage_driver_known(const char *driver)
{
	Grpc__Storage s = GRPC__STORAGE__INIT;
	enum storage_kind k;
	s.driver = (char *)driver;
	return classify(&s, &k, NULL) == 0;
}
