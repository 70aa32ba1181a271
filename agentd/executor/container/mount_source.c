/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_source.c - resolve a bind source once, below the guest tree it may
 * come from (see mount_source.h for the trees and why).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "mount_source.h"

int msrc_normalize(const char *what, const char *in, char **out, struct kerr *err)
{
	if (!in || in[0] != '/')
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s \"%.256s\" is not an absolute path", what, in ? in : "");
	size_t len = strlen(in);
	if (len >= PATH_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
				       "%s is longer than %d bytes", what, PATH_MAX - 1);
	char *o = malloc(len + 2);
	if (!o)
		return kerr_set(err, -ENOMEM, "%s: out of memory", what);
	size_t n = 0;
	for (const char *p = in; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchrnul(p, '/');
		size_t cl = (size_t)(e - p);
		if (cl == 2 && p[0] == '.' && p[1] == '.') {
			free(o);
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "%s \"%.256s\" contains \"..\"", what, in);
		}
		if (!(cl == 1 && p[0] == '.')) {
			o[n++] = '/';
			memcpy(o + n, p, cl);
			n += cl;
		}
		p = e;
	}
	if (n == 0)
		o[n++] = '/';
	o[n] = '\0';
	*out = o;
	return 0;
}

/* path below root (both canonical): the rest, without its leading '/', or
 * NULL. */
static const char *below(const char *root, const char *path)
{
	size_t rl = strlen(root);
	if (rl == 1 && root[0] == '/')
		return path + 1;
	if (strncmp(path, root, rl) || (path[rl] != '/' && path[rl] != '\0'))
		return NULL;
	return path[rl] ? path + rl + 1 : path + rl;
}

int msrc_open(const char *shared_dir, const char *what, const char *path, enum msrc_tree *tree,
	      struct kerr *err)
{
	cleanup_free char *norm = NULL;
	int r = msrc_normalize(what, path, &norm, err);
	if (r < 0)
		return r;
	static const struct {
		const char *root;
		enum msrc_tree tree;
	} fixed[] = { { "/dev", MSRC_DEV }, { "/sys", MSRC_SYS } };
	const char *root = NULL, *rel = NULL;
	enum msrc_tree t = MSRC_SHARED;
	if (shared_dir && (rel = below(shared_dir, norm)))
		root = shared_dir;
	for (size_t i = 0; !root && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if ((rel = below(fixed[i].root, norm))) {
			root = fixed[i].root;
			t = fixed[i].tree;
		}
	if (!root)
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "%s %.256s: bind sources must be below the shared directory "
				       "%s, /dev or /sys",
				       what, norm, shared_dir ? shared_dir : "");
	if (!rel[0])
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "%s %.256s: the whole of %s cannot be bound", what, norm,
				       root);
	cleanup_close int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return kerr_set(err, -errno, "%s: open %s: %s", what, root, strerror(errno));
	int fd = sys_openat2(rootfd, rel, O_PATH | O_CLOEXEC,
			     RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (fd < 0) {
		int e = errno;
		if (e == EXDEV || e == ELOOP)
			return kerr_set_status(err, GRPC_PERMISSION_DENIED, -e,
					       "%s %.256s leads out of %s (symlink, \"..\" or magic "
					       "link): %s",
					       what, norm, root, strerror(e));
		return kerr_set_status(err, e == ENOENT ? GRPC_NOT_FOUND : GRPC_INVALID_ARGUMENT,
				       -e, "%s %.256s: %s", what, norm, strerror(e));
	}
	if (tree)
		*tree = t;
	return fd;
}
