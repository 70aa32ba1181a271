/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "log.h"
#include "mount_source.h"
#include "rootfs.h"

/* ---- mount options ------------------------------------------------------ */

enum opt_kind {
	OPT_NONE,
	OPT_ATTR_SET,
	OPT_ATTR_CLR,
	OPT_ATIME,
	OPT_BIND,
	OPT_RBIND,
	OPT_PROP,
	OPT_RPROP,
	OPT_SBFLAG,
	OPT_UNSUPPORTED
};

static const struct mopt {
	const char *name;
	enum opt_kind kind;
	uint64_t val;
} mopts[] = {
	{ "defaults", OPT_NONE, 0 },
	{ "ro", OPT_ATTR_SET, MOUNT_ATTR_RDONLY },
	{ "rw", OPT_ATTR_CLR, MOUNT_ATTR_RDONLY },
	{ "nosuid", OPT_ATTR_SET, MOUNT_ATTR_NOSUID },
	{ "suid", OPT_ATTR_CLR, MOUNT_ATTR_NOSUID },
	{ "nodev", OPT_ATTR_SET, MOUNT_ATTR_NODEV },
	{ "dev", OPT_ATTR_CLR, MOUNT_ATTR_NODEV },
	{ "noexec", OPT_ATTR_SET, MOUNT_ATTR_NOEXEC },
	{ "exec", OPT_ATTR_CLR, MOUNT_ATTR_NOEXEC },
	{ "nodiratime", OPT_ATTR_SET, MOUNT_ATTR_NODIRATIME },
	{ "diratime", OPT_ATTR_CLR, MOUNT_ATTR_NODIRATIME },
	{ "nosymfollow", OPT_ATTR_SET, MOUNT_ATTR_NOSYMFOLLOW },
	{ "symfollow", OPT_ATTR_CLR, MOUNT_ATTR_NOSYMFOLLOW },
	{ "noatime", OPT_ATIME, MOUNT_ATTR_NOATIME },
	{ "relatime", OPT_ATIME, MOUNT_ATTR_RELATIME },
	{ "strictatime", OPT_ATIME, MOUNT_ATTR_STRICTATIME },
	{ "atime", OPT_ATIME, MOUNT_ATTR_RELATIME },
	{ "norelatime", OPT_ATIME, MOUNT_ATTR_STRICTATIME },
	{ "nostrictatime", OPT_ATIME, MOUNT_ATTR_RELATIME },
	{ "bind", OPT_BIND, 0 },
	{ "rbind", OPT_RBIND, 0 },
	{ "private", OPT_PROP, MS_PRIVATE },
	{ "rprivate", OPT_RPROP, MS_PRIVATE },
	{ "shared", OPT_PROP, MS_SHARED },
	{ "rshared", OPT_RPROP, MS_SHARED },
	{ "slave", OPT_PROP, MS_SLAVE },
	{ "rslave", OPT_RPROP, MS_SLAVE },
	{ "unbindable", OPT_PROP, MS_UNBINDABLE },
	{ "runbindable", OPT_RPROP, MS_UNBINDABLE },
	/* Superblock flags: passed to a new filesystem, meaningless on a bind. */
	{ "sync", OPT_SBFLAG, 0 },
	{ "dirsync", OPT_SBFLAG, 0 },
	{ "lazytime", OPT_SBFLAG, 0 },
	/* fstab-only or obsolete words runtimes still send: no effect. */
	{ "async", OPT_NONE, 0 },
	{ "auto", OPT_NONE, 0 },
	{ "noauto", OPT_NONE, 0 },
	{ "nolazytime", OPT_NONE, 0 },
	{ "mand", OPT_NONE, 0 },
	{ "nomand", OPT_NONE, 0 },
	{ "remount", OPT_NONE, 0 },
	{ "loud", OPT_NONE, 0 },
	{ "silent", OPT_NONE, 0 },
	{ "z", OPT_NONE, 0 },
	{ "Z", OPT_NONE, 0 },
	{ "tmpcopyup", OPT_UNSUPPORTED, 0 },
	{ "idmap", OPT_UNSUPPORTED, 0 },
	{ "ridmap", OPT_UNSUPPORTED, 0 },
};

static const struct mopt *mopt_find(const char *name)
{
	for (size_t i = 0; i < sizeof(mopts) / sizeof(mopts[0]); i++)
		if (strcmp(name, mopts[i].name) == 0)
			return &mopts[i];
	return NULL;
}

struct mount_plan {
	uint64_t attr_set, attr_clr;
	uint64_t propagation;
	bool prop_rec;
	bool bind, rec;
};

static void plan_options(const Grpc__Mount *m, struct mount_plan *p)
{
	memset(p, 0, sizeof(*p));
	if (strcmp(m->type, "bind") == 0)
		p->bind = true;
	for (size_t i = 0; i < m->n_options; i++) {
		const struct mopt *o = mopt_find(m->options[i]);
		if (!o)
			continue;
		switch (o->kind) {
		case OPT_ATTR_SET:
			p->attr_set |= o->val;
			p->attr_clr &= ~o->val;
			break;
		case OPT_ATTR_CLR:
			p->attr_clr |= o->val;
			p->attr_set &= ~o->val;
			break;
		case OPT_ATIME:
			p->attr_set = (p->attr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | o->val;
			p->attr_clr |= MOUNT_ATTR__ATIME;
			break;
		case OPT_BIND:
			p->bind = true;
			break;
		case OPT_RBIND:
			p->bind = true;
			p->rec = true;
			break;
		case OPT_PROP:
			p->propagation = o->val;
			p->prop_rec = false;
			break;
		case OPT_RPROP:
			p->propagation = o->val;
			p->prop_rec = true;
			break;
		default:
			break;
		}
	}
}

/* The filesystems a container's spec may create (doc/security.md says why
 * each): the kernel's views a container needs and memory-backed ones. None
 * takes an option naming a guest path, and none reads a guest device:
 * disks, shared filesystems and overlays come as storages, which the
 * runtime sends (kata_agent.go createContainer), and reach the container as
 * binds of their mount points. */
static const char *const known_types[] = {
	"bind", "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2",
};

static bool rootfs_mount_type_known(const char *type)
{
	for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
		if (strcmp(type, known_types[i]) == 0)
			return true;
	return false;
}

bool rootfs_propagation_known(const char *name)
{
	const struct mopt *o = mopt_find(name);
	return o && (o->kind == OPT_PROP || o->kind == OPT_RPROP);
}

int rootfs_mount_check(const Grpc__Mount *m, size_t idx, struct kerr *err)
{
	struct mount_plan p;

	if (m->destination[0] != '/')
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "Mounts[%zu].destination \"%.256s\": not an absolute path",
				       idx, m->destination);
	if (strspn(m->destination, "/.") == strlen(m->destination))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "Mounts[%zu].destination \"%.256s\": mounting over the root",
				       idx, m->destination);
	if (m->n_options > ROOTFS_MAX_MOUNT_OPTIONS)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "Mounts[%zu].options: %zu options, at most %d", idx,
				       m->n_options, ROOTFS_MAX_MOUNT_OPTIONS);
	plan_options(m, &p);
	if (!p.bind && !rootfs_mount_type_known(m->type))
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "Mounts[%zu].type \"%.64s\": not a filesystem a container may "
				       "mount (bind, proc, sysfs, tmpfs, devpts, mqueue, cgroup, "
				       "cgroup2)",
				       idx, m->type);
	if (p.bind && m->source[0] != '/')
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "Mounts[%zu].source \"%.256s\": a bind source must be absolute",
				       idx, m->source);
	for (size_t i = 0; i < m->n_options; i++) {
		const char *o = m->options[i];
		const struct mopt *k = mopt_find(o);
		if (k && k->kind == OPT_UNSUPPORTED)
			return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
					       "Mounts[%zu].options[%zu] \"%s\": not supported",
					       idx, i, o);
		if (k)
			continue;
		/* Anything else is filesystem data handed to fsconfig, one
		 * key or key=value per option. */
		size_t n = strlen(o);
		if (n == 0 || n > ROOTFS_MAX_OPTION_LEN || strchr(o, ',') || o[0] == '=')
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Mounts[%zu].options[%zu]: empty, too long, starting "
					       "with '=' or holding ','",
					       idx, i);
	}
	return 0;
}

/* ---- paths inside the root --------------------------------------------- */

static int open_in_root(int root_fd, const char *path, int flags)
{
	return sys_openat2(root_fd, path, (uint64_t)(flags | O_CLOEXEC), RESOLVE_CONTAINER);
}

/* Open directory `dir` inside the root, creating missing components. Each
 * component is created with mkdirat in its parent, which was itself resolved
 * inside the root, so nothing is ever created outside it. */
static int mkdir_in_root(int root_fd, const char *dir, struct kerr *err)
{
	size_t n = strlen(dir);
	cleanup_free char *prefix = malloc(n + 2);
	if (!prefix)
		return kerr_set(err, -ENOMEM, "out of memory");
	cleanup_close int cur = open_in_root(root_fd, "/", O_PATH | O_DIRECTORY);
	if (cur < 0)
		return kerr_set(err, -errno, "open container root: %s", strerror(errno));

	size_t i = 0, plen = 0;
	prefix[0] = '\0';
	while (i < n) {
		while (i < n && dir[i] == '/')
			i++;
		size_t s = i;
		while (i < n && dir[i] != '/')
			i++;
		if (i == s)
			break;
		char comp[NAME_MAX + 1];
		if (i - s > NAME_MAX)
			return kerr_set(err, -ENAMETOOLONG, "%s: component too long", dir);
		memcpy(comp, dir + s, i - s);
		comp[i - s] = '\0';
		prefix[plen++] = '/';
		memcpy(prefix + plen, comp, i - s);
		plen += i - s;
		prefix[plen] = '\0';

		int fd = open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
		if (fd < 0 && errno == ENOENT && strcmp(comp, ".") != 0 && strcmp(comp, "..") != 0) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
				return kerr_set(err, -errno, "mkdir %s in the container: %s",
						prefix, strerror(errno));
			fd = open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
		}
		if (fd < 0)
			return kerr_set(err, -errno, "open %s in the container: %s", prefix,
					strerror(errno));
		close(cur);
		cur = fd;
	}
	return take_fd(&cur);
}

/* Split "/a/b/c" into a directory fd for "/a/b" (created if missing) and the
 * last name "c". */
static int open_parent_in_root(int root_fd, const char *path, char *name, struct kerr *err)
{
	cleanup_free char *dir = strdup(path);
	if (!dir)
		return kerr_set(err, -ENOMEM, "out of memory");
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	if (!*base || strlen(base) > NAME_MAX || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s: no usable last component", path);
	strcpy(name, base);
	if (slash)
		*slash = '\0';
	return mkdir_in_root(root_fd, dir, err);
}

/* Open (O_PATH) the destination inside the root, creating it (a directory,
 * or an empty file when is_dir is false) if missing. */
static int prepare_dest(int root_fd, const char *path, bool is_dir, struct kerr *err)
{
	int fd = open_in_root(root_fd, path, O_PATH);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return kerr_set(err, -errno, "open %s in the container: %s", path, strerror(errno));
	char name[NAME_MAX + 1];
	cleanup_close int dir = open_parent_in_root(root_fd, path, name, err);
	if (dir < 0)
		return dir;
	if (is_dir) {
		if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
			return kerr_set(err, -errno, "mkdir %s in the container: %s", path,
					strerror(errno));
	} else {
		int f = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			       0644);
		if (f < 0 && errno != EEXIST)
			return kerr_set(err, -errno, "create %s in the container: %s", path,
					strerror(errno));
		if (f >= 0)
			close(f);
	}
	fd = open_in_root(root_fd, path, O_PATH);
	if (fd < 0)
		/* Typically a symlink to a path missing inside the root. */
		return kerr_set(err, -errno, "open %s in the container after creating it: %s", path,
				strerror(errno));
	return fd;
}

/* ---- mounting ----------------------------------------------------------- */

/* The kernel's own explanation of a failed fsconfig, when it left one. */
static void fs_log(int fs_fd, char *buf, size_t size)
{
	buf[0] = '\0';
	ssize_t r = read(fs_fd, buf, size - 1);
	if (r > 0) {
		buf[r] = '\0';
		if (buf[r - 1] == '\n')
			buf[r - 1] = '\0';
	} else {
		buf[0] = '\0';
	}
}

static int new_fs(const char *type, const char *source, char *const *opts, size_t n_opts,
		  uint64_t attrs, const char *what, struct kerr *err)
{
	char klog[256];
	cleanup_close int fs = fsopen(type, FSOPEN_CLOEXEC);
	if (fs < 0)
		return kerr_set(err, -errno, "%s: fsopen %s: %s", what, type, strerror(errno));
	if (source && source[0] && fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return kerr_set(err, -errno, "%s: source %s: %s", what, source, strerror(errno));
	for (size_t i = 0; i < n_opts; i++) {
		const struct mopt *o = mopt_find(opts[i]);
		int r;
		if (o && o->kind == OPT_SBFLAG) {
			r = fsconfig(fs, FSCONFIG_SET_FLAG, opts[i], NULL, 0);
		} else if (o) {
			continue;
		} else {
			cleanup_free char *kv = strdup(opts[i]);
			if (!kv)
				return kerr_set(err, -ENOMEM, "out of memory");
			char *eq = strchr(kv, '=');
			if (eq) {
				*eq = '\0';
				r = fsconfig(fs, FSCONFIG_SET_STRING, kv, eq + 1, 0);
			} else {
				r = fsconfig(fs, FSCONFIG_SET_FLAG, kv, NULL, 0);
			}
		}
		if (r < 0) {
			int e = errno;
			fs_log(fs, klog, sizeof(klog));
			return kerr_set(err, -e, "%s: option %s: %s%s%s", what, opts[i],
					strerror(e), klog[0] ? ": " : "", klog);
		}
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		int e = errno;
		fs_log(fs, klog, sizeof(klog));
		return kerr_set(err, -e, "%s: create %s: %s%s%s", what, type, strerror(e),
				klog[0] ? ": " : "", klog);
	}
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)attrs);
	if (mnt < 0)
		return kerr_set(err, -errno, "%s: fsmount %s: %s", what, type, strerror(errno));
	return mnt;
}

static int attach(int mnt, int target, const char *what, struct kerr *err)
{
	if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return kerr_set(err, -errno, "%s: move_mount: %s", what, strerror(errno));
	return 0;
}

static int set_attrs(int mnt, bool rec, uint64_t set, uint64_t clr, uint64_t prop, const char *what,
		     struct kerr *err)
{
	if (!set && !clr && !prop)
		return 0;
	struct mount_attr a = { .attr_set = set, .attr_clr = clr, .propagation = prop };
	if (mount_setattr(mnt, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0)
		return kerr_set(err, -errno, "%s: mount_setattr: %s", what, strerror(errno));
	return 0;
}

/* A bind source resolved before anything is mounted in the container. */
struct bind_src {
	int mnt; /* detached copy of the source tree (open_tree), -1 if none */
	bool is_dir;
	bool ro; /* below /sys: read-only whatever the options say */
};

/* Resolve and copy every bind source of the spec, once, before the first
 * mount: what the container setup mounts later (its /proc above all) can
 * never be on the way of a source, and what is mounted is what was
 * checked (mount_source.h). Sources below /sys are made read-only. */
static int open_bind_sources(const struct rootfs_ctx *c, struct bind_src *out, struct kerr *err)
{
	const Grpc__Spec *s = c->spec;
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct mount_plan p;
		plan_options(s->mounts[i], &p);
		if (!p.bind)
			continue;
		char what[48];
		snprintf(what, sizeof(what), "Mounts[%zu].source", i);
		enum msrc_tree tree;
		cleanup_close int fd = msrc_open(c->shared_dir, what, s->mounts[i]->source, &tree,
						 err);
		if (fd < 0)
			return fd;
		struct stat st;
		if (fstat(fd, &st) < 0)
			return kerr_set(err, -errno, "%s: stat: %s", what, strerror(errno));
		out[i].is_dir = S_ISDIR(st.st_mode);
		out[i].mnt = open_tree(fd, "",
				       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
					       (p.rec ? AT_RECURSIVE : 0));
		if (out[i].mnt < 0)
			return kerr_set(err, -errno, "%s %s: open_tree: %s", what,
					s->mounts[i]->source, strerror(errno));
		if (tree == MSRC_SYS) {
			out[i].ro = true;
			int r = set_attrs(out[i].mnt, true, MOUNT_ATTR_RDONLY, 0, 0, what, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void close_bind_sources(struct bind_src *b, size_t n)
{
	for (size_t i = 0; b && i < n; i++)
		if (b[i].mnt >= 0)
			close(b[i].mnt);
	free(b);
}

/* The guest's cgroup v1 hierarchies, as runc and crun give them to a
 * container: a tmpfs at the destination holding, per hierarchy, a bind of
 * the container's own cgroup directory (never a hierarchy's root), and the
 * guest's symlinks between them (cpu -> cpu,cpuacct). Read-only unless the
 * spec's options say "rw". cgroup_path NULL: the container has no cgroup of
 * its own, and gets the empty tmpfs. */
static int mount_cgroup_v1(int target, const struct mount_plan *p, const char *cgroup_path,
			   const char *what, struct kerr *err)
{
	bool ro = !(p->attr_clr & MOUNT_ATTR_RDONLY);
	cleanup_close int tmp = new_fs("tmpfs", "cgroup", NULL, 0, 0, what, err);
	if (tmp < 0)
		return tmp;
	int r = attach(tmp, target, what, err);
	if (r < 0)
		return r;
	cleanup_closedir DIR *d = opendir("/sys/fs/cgroup");
	if (!d)
		return kerr_set(err, -errno, "%s: open /sys/fs/cgroup: %s", what, strerror(errno));
	struct dirent *de;
	while (cgroup_path && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char link[NAME_MAX + 1];
		ssize_t ln = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (ln > 0) {
			link[ln] = '\0';
			if (!strchr(link, '/') && symlinkat(link, tmp, de->d_name) < 0)
				return kerr_set(err, -errno, "%s: symlink %s: %s", what, de->d_name,
						strerror(errno));
			continue;
		}
		struct statfs sfs;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "/sys/fs/cgroup/%s/%s", de->d_name, cgroup_path) >=
			    (int)sizeof(sub) ||
		    statfs(sub, &sfs) < 0 || sfs.f_type != CGROUP_SUPER_MAGIC)
			continue; /* not a v1 hierarchy, or no cgroup of the container in it */
		cleanup_close int src = open_tree(AT_FDCWD, sub,
						  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (src < 0)
			return kerr_set(err, -errno, "%s: open_tree %s: %s", what, sub,
					strerror(errno));
		if (mkdirat(tmp, de->d_name, 0755) < 0)
			return kerr_set(err, -errno, "%s: mkdir %s: %s", what, de->d_name,
					strerror(errno));
		cleanup_close int dst = sys_openat2(tmp, de->d_name, O_PATH | O_CLOEXEC,
						    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (dst < 0)
			return kerr_set(err, -errno, "%s: open %s: %s", what, de->d_name,
					strerror(errno));
		if ((r = set_attrs(src, false, (ro ? MOUNT_ATTR_RDONLY : 0) | p->attr_set,
				   p->attr_clr & ~(uint64_t)MOUNT_ATTR_RDONLY, 0, what, err)) < 0 ||
		    (r = attach(src, dst, what, err)) < 0)
			return r;
	}
	return set_attrs(tmp, false,
			 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				 MOUNT_ATTR_NOEXEC,
			 0, 0, what, err);
}

static bool has_cgroupns(const Grpc__Spec *s)
{
	for (size_t i = 0; s->linux && i < s->linux->n_namespaces; i++)
		if (!strcmp(s->linux->namespaces[i]->type, "cgroup"))
			return true;
	return false;
}

/* cgroup v2 without a cgroup namespace: the container's own cgroup
 * directory, read-only unless the options say "rw". */
static int own_cgroup_v2(const char *cgroup_path, struct mount_plan *p, const char *what,
			 struct kerr *err)
{
	char sub[PATH_MAX];
	if (snprintf(sub, sizeof(sub), "/sys/fs/cgroup/%s", cgroup_path) >= (int)sizeof(sub))
		return kerr_set(err, -ENAMETOOLONG, "%s: cgroup path too long", what);
	int mnt = open_tree(AT_FDCWD, sub, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (mnt < 0)
		return kerr_set(err, -errno, "%s: open_tree %s: %s", what, sub, strerror(errno));
	if (!(p->attr_clr & MOUNT_ATTR_RDONLY))
		p->attr_set |= MOUNT_ATTR_RDONLY;
	return mnt;
}

static int do_mount(const struct rootfs_ctx *c, const Grpc__Mount *m, size_t idx,
		    struct bind_src *src, struct kerr *err)
{
	struct mount_plan p;
	char what[512];
	cleanup_close int mnt = -1;
	bool is_dir = true;
	int r;

	plan_options(m, &p);
	snprintf(what, sizeof(what), "mount %s at %s", m->type[0] ? m->type : m->source,
		 m->destination);

	if (!p.bind && strcmp(m->type, "cgroup") == 0) {
		/* On cgroup v2 with a cgroup namespace, a fresh cgroup2 mount
		 * (rooted at the container's cgroup); without one (the Kata
		 * runtime strips it: constrainGRPCSpec), a bind of the
		 * container's own cgroup directory, as runc does; on v1, the
		 * container's own cgroups only (mount_cgroup_v1). */
		struct statfs sfs;
		if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
			if (has_cgroupns(c->spec) || !c->cgroup_path) {
				mnt = new_fs("cgroup2", "cgroup2", NULL, 0, p.attr_set, what, err);
			} else {
				mnt = own_cgroup_v2(c->cgroup_path, &p, what, err);
				p.bind = true; /* attributes as for a bind */
			}
		} else {
			cleanup_close int target = prepare_dest(c->root_fd, m->destination, true,
								err);
			if (target < 0)
				return kerr_prefix(err, "Mounts[%zu]", idx);
			return mount_cgroup_v1(target, &p, c->cgroup_path, what, err);
		}
	} else if (p.bind) {
		is_dir = src->is_dir;
		mnt = take_fd(&src->mnt);
		if (src->ro) {
			p.attr_set |= MOUNT_ATTR_RDONLY;
			p.attr_clr &= ~(uint64_t)MOUNT_ATTR_RDONLY;
		}
		for (size_t i = 0; i < m->n_options; i++)
			if (!mopt_find(m->options[i]))
				log_debug("%s: option %s ignored on a bind mount", what,
					  m->options[i]);
	} else {
		mnt = new_fs(m->type, m->source, m->options, m->n_options, p.attr_set, what, err);
	}
	if (mnt < 0)
		return mnt;
	if (p.bind && (r = set_attrs(mnt, p.rec, p.attr_set, p.attr_clr, 0, what, err)) < 0)
		return r;

	cleanup_close int target = prepare_dest(c->root_fd, m->destination, is_dir, err);
	if (target < 0)
		return kerr_prefix(err, "Mounts[%zu]", idx);
	if ((r = attach(mnt, target, what, err)) < 0)
		return r;
	return set_attrs(mnt, p.prop_rec, 0, 0, p.propagation, what, err);
}

/* ---- /dev --------------------------------------------------------------- */

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
	{ "/dev/null", 1, 3 },   { "/dev/zero", 1, 5 },    { "/dev/full", 1, 7 },
	{ "/dev/random", 1, 8 }, { "/dev/urandom", 1, 9 }, { "/dev/tty", 5, 0 },
};

static int make_device(int root_fd, const char *path, mode_t type, unsigned major, unsigned minor,
		       mode_t perm, uid_t uid, gid_t gid, bool bind, struct kerr *err)
{
	char name[NAME_MAX + 1];
	cleanup_close int dir = open_parent_in_root(root_fd, path, name, err);
	if (dir < 0)
		return kerr_prefix(err, "device %s", path);
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return kerr_set(err, -EISDIR, "device %s: a directory is in the way", path);
		if (unlinkat(dir, name, 0) < 0)
			return kerr_set(err, -errno, "device %s: remove old entry: %s", path,
					strerror(errno));
	}
	if (bind) {
		/* In a user namespace mknod is not allowed: bind the guest's
		 * node of the same path onto an empty file instead. */
		int f = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
			       0600);
		if (f < 0)
			return kerr_set(err, -errno, "device %s: create: %s", path,
					strerror(errno));
		close(f);
		cleanup_close int mnt = open_tree(AT_FDCWD, path,
						  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (mnt < 0)
			return kerr_set(err, -errno, "device %s: open_tree of the guest's node: %s",
					path, strerror(errno));
		cleanup_close int target = sys_openat2(dir, name, O_PATH | O_CLOEXEC,
						       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (target < 0)
			return kerr_set(err, -errno, "device %s: open: %s", path, strerror(errno));
		return attach(mnt, target, path, err);
	}
	if (mknodat(dir, name, type | perm, makedev(major, minor)) < 0)
		return kerr_set(err, -errno, "device %s: mknod: %s", path, strerror(errno));
	/* mknod applied the umask; the spec's mode is exact. */
	if (fchmodat(dir, name, perm, 0) < 0)
		return kerr_set(err, -errno, "device %s: chmod: %s", path, strerror(errno));
	if (fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return kerr_set(err, -errno, "device %s: chown: %s", path, strerror(errno));
	return 0;
}

static int make_symlink(int root_fd, const char *target, const char *path, struct kerr *err)
{
	char name[NAME_MAX + 1];
	cleanup_close int dir = open_parent_in_root(root_fd, path, name, err);
	if (dir < 0)
		return dir;
	if (unlinkat(dir, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
		return kerr_set(err, -errno, "remove %s: %s", path, strerror(errno));
	if (symlinkat(target, dir, name) < 0 && errno != EEXIST)
		return kerr_set(err, -errno, "symlink %s -> %s: %s", path, target, strerror(errno));
	return 0;
}

int rootfs_device_type(const char *t, mode_t *out)
{
	if (strcmp(t, "c") == 0 || strcmp(t, "u") == 0)
		*out = S_IFCHR;
	else if (strcmp(t, "b") == 0)
		*out = S_IFBLK;
	else if (strcmp(t, "p") == 0)
		*out = S_IFIFO;
	else
		return -EINVAL;
	return 0;
}

static int setup_dev(const struct rootfs_ctx *c, struct kerr *err)
{
	const Grpc__Spec *s = c->spec;
	const Grpc__Linux *lx = s->linux;
	int r;

	/* As runc: a /dev bound in from elsewhere is taken as it is. */
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct mount_plan p;
		plan_options(s->mounts[i], &p);
		if (strcmp(s->mounts[i]->destination, "/dev") == 0 && p.bind)
			return 0;
	}
	for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		bool listed = false;
		for (size_t j = 0; lx && j < lx->n_devices; j++)
			if (strcmp(lx->devices[j]->path, default_devices[i].path) == 0)
				listed = true;
		if (listed)
			continue;
		r = make_device(c->root_fd, default_devices[i].path, S_IFCHR,
				default_devices[i].major, default_devices[i].minor, 0666, 0, 0,
				c->in_userns, err);
		if (r < 0)
			return r;
	}
	for (size_t j = 0; lx && j < lx->n_devices; j++) {
		const Grpc__LinuxDevice *d = lx->devices[j];
		mode_t type;
		if (rootfs_device_type(d->type, &type) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Devices[%zu].Type \"%.8s\": unknown", j,
					       d->type);
		mode_t perm = d->filemode ? (d->filemode & 07777) : 0666;
		r = make_device(c->root_fd, d->path, type, (unsigned)d->major, (unsigned)d->minor,
				perm, d->uid, d->gid, c->in_userns, err);
		if (r < 0)
			return r;
	}
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },       { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
		{ "pts/ptmx", "/dev/ptmx" },
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if ((r = make_symlink(c->root_fd, links[i][0], links[i][1], err)) < 0)
			return r;
	return 0;
}

/* ---- the steps ---------------------------------------------------------- */

int rootfs_resolve(const char *path, const char *bundle, char **out, struct kerr *err)
{
	cleanup_free char *joined = NULL;
	*out = NULL;
	if (!path || !path[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "Root.Path is empty");
	if (path[0] != '/') {
		if (!bundle || bundle[0] != '/')
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Root.Path %s is relative and there is no bundle",
					       path);
		if (asprintf(&joined, "%s/%s", bundle, path) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		path = joined;
	}
	char *real = realpath(path, NULL);
	if (!real)
		return kerr_set(err, -errno, "Root.Path %s: %s", path, strerror(errno));
	if (strcmp(real, "/") == 0) {
		free(real);
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "Root.Path %s resolves to the host's /", path);
	}
	struct stat st;
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENOTDIR,
				       "Root.Path %s: not a directory", path);
	}
	*out = real;
	return 0;
}

static unsigned long propagation_flag(const char *name, bool *rec)
{
	const struct mopt *o = mopt_find(name);
	*rec = o->kind == OPT_RPROP;
	return (unsigned long)o->val;
}

static int prepare_mounts(struct rootfs_ctx *c, struct bind_src *src, struct kerr *err);

int rootfs_prepare(struct rootfs_ctx *c, struct kerr *err)
{
	const Grpc__Spec *s = c->spec;
	int r;

	c->root_fd = -1;
	struct bind_src *src = calloc(s->n_mounts ? s->n_mounts : 1, sizeof(*src));
	if (!src)
		return kerr_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n_mounts; i++)
		src[i].mnt = -1;
	r = open_bind_sources(c, src, err);
	if (r == 0)
		r = prepare_mounts(c, src, err);
	close_bind_sources(src, s->n_mounts);
	return r;
}

/* rootfs_prepare once the bind sources are open. */
static int prepare_mounts(struct rootfs_ctx *c, struct bind_src *src, struct kerr *err)
{
	const Grpc__Spec *s = c->spec;
	const char *prop = s->linux ? s->linux->rootfspropagation : NULL;
	unsigned long pflag = MS_SLAVE;
	bool prec = true;
	int r;

	/* Nothing done from here on may propagate back to the guest. */
	if (prop && prop[0])
		pflag = propagation_flag(prop, &prec);
	if (mount(NULL, "/", NULL, pflag | (prec ? MS_REC : 0), NULL) < 0)
		return kerr_set(err, -errno, "set propagation of / to %s: %s",
				prop && prop[0] ? prop : "rslave", strerror(errno));

	/* pivot_root refuses a shared parent mount (rootfsPropagation may
	 * have asked for one): make the mount holding the root's parent
	 * directory private. */
	cleanup_free char *parent = strdup(c->root);
	if (!parent)
		return kerr_set(err, -ENOMEM, "out of memory");
	for (;;) {
		char *slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		struct statx stx;
		if (statx(AT_FDCWD, parent, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0)
			return kerr_set(err, -errno, "statx %s: %s", parent, strerror(errno));
		if ((stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) || strcmp(parent, "/") == 0)
			break;
	}
	if (mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0)
		return kerr_set(err, -errno, "make %s private: %s", parent, strerror(errno));

	{
		/* The root is resolved below the shared dir like a bind source,
		 * and the fd of the attached copy is the root from now on. */
		enum msrc_tree tree;
		cleanup_close int rfd = msrc_open(c->shared_dir, "Root.Path", c->root, &tree, err);
		if (rfd < 0)
			return rfd;
		if (tree != MSRC_SHARED)
			return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
					       "Root.Path %s is not below the shared directory",
					       c->root);
		cleanup_close int mnt = open_tree(rfd, "",
						  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
							  AT_RECURSIVE | AT_EMPTY_PATH);
		if (mnt < 0)
			return kerr_set(err, -errno, "bind rootfs %s: open_tree: %s", c->root,
					strerror(errno));
		if ((r = attach(mnt, rfd, "bind rootfs onto itself", err)) < 0)
			return r;
		/* The mount fd is the root of the attached copy: what pivot_root
		 * needs and what every destination is resolved against. */
		c->root_fd = take_fd(&mnt);
	}

	for (size_t i = 0; i < s->n_mounts; i++)
		if ((r = do_mount(c, s->mounts[i], i, &src[i], err)) < 0)
			return r;
	if ((r = setup_dev(c, err)) < 0)
		return r;
	if (s->process && s->process->cwd && s->process->cwd[0]) {
		int fd = mkdir_in_root(c->root_fd, s->process->cwd, err);
		if (fd < 0)
			return kerr_prefix(err, "Process.Cwd");
		close(fd);
	}
	return 0;
}

static int mask_path(int root_fd, const char *path, struct kerr *err)
{
	cleanup_close int target = open_in_root(root_fd, path, O_PATH);
	if (target < 0) {
		if (errno == ENOENT)
			return 0;
		return kerr_set(err, -errno, "masked path %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(target, &st) < 0)
		return kerr_set(err, -errno, "masked path %s: stat: %s", path, strerror(errno));
	cleanup_close int mnt = -1;
	if (S_ISDIR(st.st_mode)) {
		mnt = new_fs("tmpfs", "tmpfs", NULL, 0, MOUNT_ATTR_RDONLY, "mask", err);
		if (mnt < 0)
			return kerr_prefix(err, "masked path %s", path);
	} else {
		mnt = open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (mnt < 0)
			return kerr_set(err, -errno, "masked path %s: open_tree /dev/null: %s",
					path, strerror(errno));
	}
	int r = attach(mnt, target, "mask", err);
	return r < 0 ? kerr_prefix(err, "masked path %s", path) : 0;
}

static int readonly_path(int root_fd, const char *path, struct kerr *err)
{
	cleanup_close int target = open_in_root(root_fd, path, O_PATH);
	if (target < 0) {
		if (errno == ENOENT)
			return 0;
		return kerr_set(err, -errno, "readonly path %s: %s", path, strerror(errno));
	}
	cleanup_close int mnt = open_tree(target, "",
					  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
						  AT_EMPTY_PATH);
	if (mnt < 0)
		return kerr_set(err, -errno, "readonly path %s: open_tree: %s", path,
				strerror(errno));
	int r = set_attrs(mnt, true, MOUNT_ATTR_RDONLY, 0, 0, "readonly", err);
	if (r == 0)
		r = attach(mnt, target, "readonly", err);
	return r < 0 ? kerr_prefix(err, "readonly path %s", path) : 0;
}

/* "/" is the initramfs (rootfs: ramfs or tmpfs at the top of the mount tree). */
static bool root_is_initramfs(void)
{
	struct statfs fs;
	if (statfs("/", &fs) < 0)
		return false;
	return fs.f_type == RAMFS_MAGIC || fs.f_type == TMPFS_MAGIC;
}

int rootfs_finish(struct rootfs_ctx *c, const char *cwd, struct kerr *err)
{
	const Grpc__Linux *lx = c->spec->linux;
	int r;

	for (size_t i = 0; lx && i < lx->n_maskedpaths; i++)
		if ((r = mask_path(c->root_fd, lx->maskedpaths[i], err)) < 0)
			return r;
	for (size_t i = 0; lx && i < lx->n_readonlypaths; i++)
		if ((r = readonly_path(c->root_fd, lx->readonlypaths[i], err)) < 0)
			return r;

	/* pivot_root(".", ".") stacks the old root on the new one; detaching
	 * "." then drops the old root without needing a directory for it. */
	if (fchdir(c->root_fd) < 0)
		return kerr_set(err, -errno, "chdir to rootfs: %s", strerror(errno));
	if (sys_pivot_root(".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return kerr_set_status(err, GRPC_INTERNAL, -errno,
					       "detach the old root: %s", strerror(errno));
	} else if (errno == EINVAL && root_is_initramfs()) {
		/* The kernel never lets the initramfs be pivoted away (an
		 * agent booted as init from an initrd). Do what upstream's
		 * no_pivot_root does there: move the new root over "/" and
		 * chroot into it. The old root stays underneath, so this is
		 * weaker against a container holding CAP_SYS_CHROOT; it is
		 * used only when pivot_root cannot work at all. */
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
			return kerr_set_status(err, GRPC_INTERNAL, -errno,
					       "move rootfs %s over / (initramfs root): %s",
					       c->root, strerror(errno));
		if (chroot(".") < 0)
			return kerr_set_status(err, GRPC_INTERNAL, -errno, "chroot %s: %s", c->root,
					       strerror(errno));
	} else {
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "pivot_root %s: %s", c->root,
				       strerror(errno));
	}
	if (chdir("/") < 0)
		return kerr_set(err, -errno, "chdir /: %s", strerror(errno));
	close(c->root_fd);
	c->root_fd = -1;
	if (cwd && cwd[0] && chdir(cwd) < 0)
		return kerr_set(err, -errno, "chdir to Process.Cwd %s: %s", cwd, strerror(errno));
	return 0;
}

int rootfs_make_root_readonly(struct kerr *err)
{
	struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
	if (mount_setattr(AT_FDCWD, "/", 0, &a, sizeof(a)) < 0)
		return kerr_set(err, -errno, "make / read-only: %s", strerror(errno));
	return 0;
}
