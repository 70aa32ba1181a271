/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_pull.c - the "image_guest_pull" storage (guest_pull.h): checks, the
 * bundle, the pause bundle, the CDH's PullImage in a worker, the spec
 * updated afterwards, and the bundle removed with the container.
 */
#include "guest_pull.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "libc_compat.h"
#include "beneath.h"
#include "cdh_client.h"
#include "cdh_job.h"
#include "cleanup.h"
#include "executor.h"
#include "grpc_status.h"
#include "openat2.h"

#define PAUSE_CONFIG_MAX (1u << 20)
#define PAUSE_BINARY_MAX (64u << 20)
#define RM_MAX_DEPTH 256

struct guest_pull {
	char ref[GUEST_PULL_REF_MAX];
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX + 8]; /* <bundle>/rootfs */
	uint64_t api_ms, pull_ms;
	bool made; /* we made the bundle: we remove it */
	bool done; /* pulled (or unpacked) and the spec updated */
	struct cdh_job *job;
	guest_pull_resume resume;
	struct container *ct;
};

bool guest_pull_is_storage(const Grpc__Storage *s)
{
	return s->driver && strcmp(s->driver, GUEST_PULL_DRIVER) == 0;
}

/* distribution/reference's grammar (reference/regexp.go), as ERE. */
#define ALNUM "[a-z0-9]+"
#define SEP "([._]|__|[-]+)"
#define PATHC ALNUM "(" SEP ALNUM ")*"
#define DOMC "([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
#define HOST "(" DOMC "(\\." DOMC ")*|\\[[a-fA-F0-9:]+\\])"
#define DOMAIN HOST "(:[0-9]+)?"
#define NAME "(" DOMAIN "/)?" PATHC "(/" PATHC ")*"
#define TAG "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
#define DIGEST "[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
#define REFERENCE "^" NAME "(:" TAG ")?(@" DIGEST ")?$"

bool guest_pull_ref_valid(const char *ref)
{
	static regex_t re;
	static int compiled; /* 0: not yet, 1: ok, -1: failed */
	if (!compiled)
		compiled = regcomp(&re, REFERENCE, REG_EXTENDED | REG_NOSUB) == 0 ? 1 : -1;
	size_t n = strnlen(ref, GUEST_PULL_REF_MAX);
	return compiled == 1 && n > 0 && n < GUEST_PULL_REF_MAX &&
	       regexec(&re, ref, 0, NULL, 0) == 0;
}

static const char *const container_type_keys[] = {
	"io.kubernetes.cri.container-type",
	"io.kubernetes.cri-o.ContainerType",
};

static int bad_metadata(struct kerr *err, const char *why)
{
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
			       "the image_guest_pull option %s", why);
}

static int metadata_of(json_t *root, bool *sandbox, struct kerr *err)
{
	if (!json_is_object(root))
		return bad_metadata(err, "is not a JSON object");
	json_t *md = json_object_get(root, "metadata");
	if (!md)
		return 0;
	if (!json_is_object(md))
		return bad_metadata(err, "has a metadata that is not an object");
	const char *k;
	json_t *v;
	json_object_foreach(md, k, v)
		if (!json_is_string(v))
			return bad_metadata(err, "has a metadata value that is not a string");
	for (size_t i = 0; i < sizeof(container_type_keys) / sizeof(container_type_keys[0]); i++) {
		json_t *t = json_object_get(md, container_type_keys[i]);
		if (t && strcmp(json_string_value(t), "sandbox") == 0)
			*sandbox = true;
	}
	return 0;
}

int guest_pull_metadata(const Grpc__Storage *s, bool *sandbox, struct kerr *err)
{
	static const char key[] = GUEST_PULL_DRIVER "=";
	*sandbox = false;
	for (size_t i = 0; i < s->n_driver_options; i++) {
		const char *o = s->driver_options[i];
		if (strncmp(o, key, sizeof(key) - 1) != 0)
			continue;
		json_error_t je;
		json_t *root = json_loads(o + sizeof(key) - 1, JSON_REJECT_DUPLICATES, &je);
		if (!root)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "the image_guest_pull option is not JSON: %s",
					       je.text);
		int r = metadata_of(root, sandbox, err);
		json_decref(root);
		return r;
	}
	/* upstream ImagePullHandler::get_image_info */
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
			       "missing Image information for ImagePull volume");
}

/* ---- the pause bundle (upstream unpack_pause_image, get_process) ---- */

static int str_array(json_t *a, char ***out, size_t *n, struct kerr *err, const char *what)
{
	if (a && !json_is_array(a))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "%s is not an array",
				       what);
	size_t len = a ? json_array_size(a) : 0;
	char **v = calloc(len + 1, sizeof(*v));
	if (!v)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		const char *s = json_string_value(json_array_get(a, i));
		if (!s || !(v[i] = strdup(s))) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "%s[%zu] is not a string", what, i);
		}
	}
	*out = v;
	*n = len;
	return 0;
}

static void str_array_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int pause_user(json_t *user, Grpc__Process *p, struct kerr *err)
{
	if (!user)
		return 0;
	if (!p->user) {
		if (!(p->user = malloc(sizeof(*p->user))))
			return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
					       "out of memory");
		grpc__user__init(p->user);
	}
	json_t *uid = json_object_get(user, "uid"), *gid = json_object_get(user, "gid");
	if ((uid && !json_is_integer(uid)) || (gid && !json_is_integer(gid)) ||
	    json_integer_value(uid) < 0 || json_integer_value(uid) > 0xffffffffll ||
	    json_integer_value(gid) < 0 || json_integer_value(gid) > 0xffffffffll)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "the pause bundle's process.user is not a uid/gid pair");
	p->user->uid = (uint32_t)json_integer_value(uid);
	p->user->gid = (uint32_t)json_integer_value(gid);
	return 0;
}

static int pause_from_json(json_t *proc, Grpc__Process *p, char **arg0, struct kerr *err)
{
	char **args = NULL, **env = NULL;
	size_t nargs = 0, nenv = 0;
	json_t *cwd = json_object_get(proc, "cwd");
	if (cwd && !json_is_string(cwd))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "the pause bundle's process.cwd is not a string");
	int r = str_array(json_object_get(proc, "args"), &args, &nargs, err, "process.args");
	if (r == 0 && (!nargs || args[0][0] != '/'))
		r = kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				    "The number of args should be greater than or equal to one! "
				    "Please check the pause image. (args[0] must be absolute)");
	if (r == 0)
		r = str_array(json_object_get(proc, "env"), &env, &nenv, err, "process.env");
	char *c = r == 0 ? strdup(cwd ? json_string_value(cwd) : "/") : NULL;
	char *a0 = r == 0 ? strdup(args[0]) : NULL;
	if (r == 0 && (!c || !a0))
		r = kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	if (r == 0)
		r = pause_user(json_object_get(proc, "user"), p, err);
	if (r < 0) {
		str_array_free(args, nargs);
		str_array_free(env, nenv);
		free(c);
		free(a0);
		return r;
	}
	str_array_free(p->args, p->n_args);
	str_array_free(p->env, p->n_env);
	if (p->cwd != protobuf_c_empty_string)
		free(p->cwd);
	p->args = args;
	p->n_args = nargs;
	p->env = env;
	p->n_env = nenv;
	p->cwd = c;
	*arg0 = a0;
	return 0;
}

int guest_pull_pause_process(const char *json, size_t len, Grpc__Process *p, char **arg0,
			     struct kerr *err)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "the pause bundle's config.json: %s (line %d)", je.text,
				       je.line);
	json_t *proc = json_object_get(root, "process");
	int r = json_is_object(proc)
			? pause_from_json(proc, p, arg0, err)
			: kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					  "The guest pause image config does not contain a process "
					  "specification. Please check the pause image.");
	json_decref(root);
	return r;
}

/* Read a whole regular file of the guest image (at most max bytes). */
static int read_small(int dirfd, const char *rel, size_t max, char **out, size_t *len,
		      struct kerr *err)
{
	cleanup_close int fd = sys_openat2(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
					   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
						   RESOLVE_NO_MAGICLINKS);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -errno,
				       "Pause image not present in rootfs: %s: %s", rel,
				       strerror(errno));
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EINVAL,
				       "the pause bundle's %s is not a regular file of at most %zu "
				       "bytes",
				       rel, max);
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(buf);
		return kerr_set_status(err, GRPC_INTERNAL, -EIO, "read the pause bundle's %s", rel);
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* args[0] of the pause process copied from <pause>/rootfs to the bundle's
 * rootfs, its directories made, nothing followed on either side. */
static int copy_pause_binary(int pause_root, int rootfs, const char *arg0, struct kerr *err)
{
	const char *rel = arg0 + strspn(arg0, "/");
	if (!beneath_rel_ok(rel))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "the pause process's args[0] %s is not a plain path", arg0);
	char *buf = NULL;
	size_t len = 0;
	int r = read_small(pause_root, rel, PAUSE_BINARY_MAX, &buf, &len, err);
	if (r < 0)
		return r;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rel);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : rel;
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	cleanup_close int dfd = beneath_open_dir(rootfs, dir, true, 0755, err);
	int fd = dfd < 0 ? dfd : beneath_write_file(dfd, base, buf, len, 0755, err);
	free(buf);
	if (fd < 0)
		return kerr_prefix(err, "copy the pause binary");
	close(fd);
	return 0;
}

/* Upstream unpack_pause_image, into our fresh bundle; p becomes the pause
 * bundle's process (upstream get_process). */
static int unpack_pause(struct executor *x, int bundle, Grpc__Process *p, struct kerr *err)
{
	cleanup_close int pb = beneath_open_root(x->o.pause_bundle, err);
	if (pb < 0)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
				       "Pause image not present in rootfs (%s)", x->o.pause_bundle);
	char *cfg = NULL;
	size_t len = 0;
	cleanup_free char *arg0 = NULL;
	int r = read_small(pb, "config.json", PAUSE_CONFIG_MAX, &cfg, &len, err);
	if (r == 0)
		r = guest_pull_pause_process(cfg, len, p, &arg0, err);
	int fd = r < 0 ? r : beneath_write_file(bundle, "config.json", cfg, len, 0644, err);
	free(cfg);
	if (fd < 0)
		return fd;
	close(fd);
	bool made = false;
	cleanup_close int rootfs = beneath_mkdir(bundle, "rootfs", 0755, &made, err);
	cleanup_close int pr = rootfs < 0 ? -1 : beneath_open_dir(pb, "rootfs", false, 0, err);
	if (rootfs < 0 || pr < 0)
		return err->code;
	return copy_pause_binary(pr, rootfs, arg0, err);
}

/* ---- the pull ---- */

static int pull_in_worker(void *arg, struct kerr *err)
{
	struct guest_pull *gp = arg;
	struct cdh_client *c = NULL;
	int r = cdh_client_new(&c, gp->api_ms, gp->pull_ms, err);
	if (r == 0)
		r = cdh_pull_image(c, gp->ref, gp->bundle, err);
	cdh_client_free(c);
	return r;
}

/* The rootfs the pull left: a directory below the bundle, reached without
 * a symlink (a rootfs that is a symlink would take the container out of
 * it); then Root.Path names it. */
static int adopt_rootfs(struct container *ct, struct kerr *err)
{
	struct guest_pull *gp = ct->gp;
	cleanup_close int shared = beneath_open_root(ct->x->o.shared_dir, err);
	char rel[IPC_ID_MAX + 16];
	snprintf(rel, sizeof(rel), "%s/rootfs", ct->id);
	cleanup_close int fd = shared < 0 ? -1 : beneath_open_dir(shared, rel, false, 0, err);
	if (fd < 0)
		return kerr_prefix(err, "the pulled image's rootfs");
	const char *path = gp->rootfs;
	Grpc__Root *root = ct->req->oci->root;
	if (strcmp(root->path, path) != 0)
		log_info("container %s: Root.Path %s replaced by the pulled rootfs %s (as upstream's "
			 "setup_bundle)",
			 ct->id, root->path, path);
	char *dup = strdup(path);
	if (!dup)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	if (root->path != protobuf_c_empty_string)
		free(root->path);
	root->path = dup;
	gp->done = true;
	return 0;
}

static void on_pulled(void *data, const struct kerr *failure)
{
	struct guest_pull *gp = data;
	struct container *ct = gp->ct;
	gp->job = NULL;
	struct kerr e = { 0 };
	if (failure) {
		e = *failure;
		log_error("container %s: pull and unpack image %s failed: %s", ct->id, gp->ref,
			  e.msg);
		kerr_prefix(&e, "image_guest_pull %s", gp->ref);
		gp->resume(ct, &e);
		return;
	}
	log_info("container %s: pull and unpack image %s succeeded", ct->id, gp->ref);
	if (adopt_rootfs(ct, &e) < 0) {
		gp->resume(ct, &e);
		return;
	}
	gp->resume(ct, NULL);
}

/* The request's one image_guest_pull storage, checked; NULL if none. */
static const Grpc__Storage *find_storage(const Grpc__CreateContainerRequest *req, struct kerr *err)
{
	const Grpc__Storage *found = NULL;
	for (size_t i = 0; i < req->n_storages; i++) {
		if (!guest_pull_is_storage(req->storages[i]))
			continue;
		if (found) {
			kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					"more than one image_guest_pull storage");
			return NULL;
		}
		found = req->storages[i];
	}
	return found;
}

static int check_storage(struct container *ct, const Grpc__Storage *s, bool *sandbox,
			 struct kerr *err)
{
	struct guest_pull *gp = ct->gp;
	if (!guest_pull_ref_valid(s->source))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "image_guest_pull: the source is not an image reference");
	int r = guest_pull_metadata(s, sandbox, err);
	if (r < 0)
		return r;
	const char *want = gp->rootfs;
	if (strcmp(s->mount_point, want) != 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "image_guest_pull: the mount point must be %s (the "
				       "container's own bundle), not %s",
				       want, s->mount_point);
	snprintf(gp->ref, sizeof(gp->ref), "%s", s->source);
	return 0;
}

/* The bundle: <shared>/<id>, new. */
static int make_bundle(struct container *ct, int *out, struct kerr *err)
{
	cleanup_close int shared = beneath_open_root(ct->x->o.shared_dir, err);
	if (shared < 0)
		return shared;
	if (mkdirat(shared, ct->id, 0755) < 0)
		return kerr_set_status(err, errno == EEXIST ? GRPC_ALREADY_EXISTS : GRPC_INTERNAL,
				       -errno, "image_guest_pull: bundle %s: %s", ct->gp->bundle,
				       errno == EEXIST ? "exists already" : strerror(errno));
	ct->gp->made = true;
	int fd = beneath_open_dir(shared, ct->id, false, 0, err);
	if (fd < 0)
		return fd;
	*out = fd;
	return 0;
}

int guest_pull_begin(struct container *ct, guest_pull_resume resume, struct kerr *err)
{
	if (ct->gp && ct->gp->done)
		return 0;
	const Grpc__Storage *s = find_storage(ct->req, err);
	if (!s)
		return err->code ? err->code : 0;
	if (!ct->gp && !(ct->gp = calloc(1, sizeof(*ct->gp))))
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	struct guest_pull *gp = ct->gp;
	struct executor *x = ct->x;
	gp->ct = ct;
	gp->resume = resume;
	gp->api_ms = x->o.cdh_api_timeout_ms;
	gp->pull_ms = x->o.image_pull_timeout_ms;
	snprintf(gp->bundle, sizeof(gp->bundle), "%s/%s", x->o.shared_dir, ct->id);
	snprintf(gp->rootfs, sizeof(gp->rootfs), "%s/rootfs", gp->bundle);
	bool sandbox = false;
	cleanup_close int bundle = -1;
	int r = check_storage(ct, s, &sandbox, err);
	if (r == 0)
		r = make_bundle(ct, &bundle, err);
	if (r < 0)
		return r;
	if (sandbox) {
		if ((r = unpack_pause(x, bundle, ct->req->oci->process, err)) < 0)
			return r;
		log_info("container %s: the guest's pause bundle %s unpacked into %s", ct->id,
			 x->o.pause_bundle, gp->bundle);
		return adopt_rootfs(ct, err);
	}
	log_info("container %s: pull image %s, bundle path %s", ct->id, gp->ref, gp->bundle);
	char what[IPC_ID_MAX + 32];
	snprintf(what, sizeof(what), "container %s: PullImage", ct->id);
	r = cdh_job_start(x, what, gp->pull_ms, pull_in_worker, gp, on_pulled, gp, &gp->job, err);
	return r < 0 ? r : 1;
}

bool guest_pull_abort(struct container *ct)
{
	if (!ct->gp || !ct->gp->job)
		return false;
	cdh_job_cancel(ct->gp->job);
	ct->gp->job = NULL;
	return true;
}

/* Remove name below pfd, not following symlinks and not entering another
 * filesystem than dev (what the CDH or the container mounted there is
 * left, and logged). */
static void rm_tree(int pfd, const char *name, dev_t dev, int depth, unsigned *left)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(pfd, name, 0) < 0)
			(*left)++;
		return;
	}
	int fd = st.st_dev == dev && depth < RM_MAX_DEPTH
			 ? openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			 : -1;
	cleanup_closedir DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		(*left)++;
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_tree(dirfd(d), de->d_name, dev, depth + 1, left);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0)
		(*left)++;
}

/* The bundle <shared>/<id> goes: renamed at once (one rename, in the loop:
 * the id may be used again right away) to a name no container id can
 * have, then removed by a child, so that a big image's tree never stalls
 * the executor's loop. The child is root like the executor, keeps only the
 * shared directory's fd and stdio, dies with the executor, and is reaped
 * as any child. Without a rename or a fork the tree is removed here. */
static void remove_bundle(struct container *ct, int shared, dev_t dev)
{
	static unsigned seq;
	char trash[NAME_MAX + 1];
	unsigned left = 0;
	snprintf(trash, sizeof(trash), ".removing-%.64s-%u", ct->id, ++seq);
	if (renameat(shared, ct->id, shared, trash) < 0) {
		log_warn("container %s: rename its bundle: %s; removed in the loop", ct->id,
			 strerror(errno));
		rm_tree(shared, ct->id, dev, 0, &left);
	} else {
		pid_t parent = getpid(), pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent || dup2(shared, 3) < 0)
				_exit(1);
			close_range(4, ~0u, 0);
			rm_tree(3, trash, dev, 0, &left);
			if (left)
				log_warn("container %s: bundle %s not wholly removed (%u entries left "
					 "in %s)",
					 ct->id, ct->gp->bundle, left, trash);
			_exit(left ? 1 : 0);
		}
		if (pid > 0) {
			log_debug("container %s: bundle removed by pid %d", ct->id, (int)pid);
			return;
		}
		log_warn("container %s: fork to remove its bundle: %s; removed in the loop", ct->id,
			 strerror(errno));
		rm_tree(shared, trash, dev, 0, &left);
	}
	if (left)
		log_warn("container %s: bundle %s not wholly removed (%u entries left)", ct->id,
			 ct->gp->bundle, left);
}

void guest_pull_cleanup(struct container *ct)
{
	struct guest_pull *gp = ct->gp;
	if (!gp)
		return;
	guest_pull_abort(ct);
	if (gp->made) {
		/* The real CDH mounts the image's layers there (overlay). */
		if (umount2(gp->rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
			log_info("container %s: %s unmounted", ct->id, gp->rootfs);
		struct kerr e = { 0 };
		cleanup_close int shared = beneath_open_root(ct->x->o.shared_dir, &e);
		struct stat st;
		if (shared >= 0 && fstat(shared, &st) == 0)
			remove_bundle(ct, shared, st.st_dev);
		else
			log_warn("container %s: bundle %s not removed: %s", ct->id, gp->bundle,
				 shared < 0 ? e.msg : strerror(errno));
	}
	free(gp);
	ct->gp = NULL;
}
