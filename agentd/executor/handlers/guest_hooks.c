/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_hooks.c - CreateSandbox's guest_hook_path: executables found in
 * <path>/prestart, <path>/poststart and <path>/poststop become OCI hooks
 * appended to every container's spec (upstream sandbox.rs add_hooks,
 * find_hooks, and rpc.rs append_guest_hooks), run like the spec's own.
 *
 * The host names the path, and hooks run as root outside any container, so
 * a path the host could fill is never used: it must be an absolute path
 * outside the shared directory whose every component, and every hook, is
 * owned by root and not writable by group or others (doc/guest-ops.md).
 * Hooks are regular executable files, not symlinks (as upstream), at most
 * GUEST_HOOKS_MAX per kind.
 *
 * As upstream (create_sandbox logs add_hooks' error and goes on), a problem
 * with the path never fails CreateSandbox: it is logged and what it
 * concerns is left out (the whole path, one kind's directory, or one hook).
 *
 * The spec's own hooks come from the host: hooks_host_check refuses every
 * one but startContainer (which runs inside the container, with its
 * credentials) unless the config file says allow_host_hooks. The Go
 * runtime sends none (constrainGRPCSpec clears them: they run on the
 * host); runtime-rs keeps only startContainer (amend_spec).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "executor.h"
#include "guest_hooks.h"
#include "grpc_status.h"
#include "hooks.h"

#define GUEST_HOOKS_MAX 32u

/* root-owned and not writable by group or others: only root could have
 * put it there. */
static bool trusted(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* A directory on the way may also be a root-owned sticky one (/tmp): there
 * nobody but root can replace root's entries. */
static bool trusted_dir(const struct stat *st)
{
	return trusted(st) || (st->st_uid == 0 && (st->st_mode & S_ISVTX));
}

static int check_dir_chain(const char *path, struct kerr *err)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + strlen(buf);;) {
		struct stat st;
		if (lstat(buf[0] ? buf : "/", &st) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno, "%s: %s",
					       buf[0] ? buf : "/", strerror(errno));
		bool leaf = buf[0] && !strcmp(buf, path);
		if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode) ||
		    !(leaf ? trusted(&st) : trusted_dir(&st)))
			return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
					       "guest_hook_path %s: %s is %s", path,
					       buf[0] ? buf : "/",
					       S_ISLNK(st.st_mode) ? "a symlink"
					       : !S_ISDIR(st.st_mode)
						       ? "not a directory"
						       : "not root's alone (owner or "
							 "group/other write)");
		if (p == buf)
			break;
		while (p > buf && *p != '/')
			p--;
		*p = '\0';
	}
	return 0;
}

static Grpc__Hook *hook_new(const char *path, const char *name, const char *kind)
{
	Grpc__Hook *h = malloc(sizeof(*h));
	if (!h)
		return NULL;
	grpc__hook__init(h);
	h->path = strdup(path);
	h->args = calloc(2, sizeof(char *));
	if (h->args) {
		h->args[0] = strdup(name);
		h->args[1] = strdup(kind);
		h->n_args = 2;
	}
	if (!h->path || !h->args || !h->args[0] || !h->args[1]) {
		protobuf_c_message_free_unpacked(&h->base, NULL);
		return NULL;
	}
	return h;
}

/* The hooks of <dir>/<kind>, sorted by name; a missing directory has none.
 * A directory or hook that is not root's alone is logged and left out;
 * only running out of memory fails. */
static int find(const char *dir, const char *kind, Grpc__Hook ***out, size_t *n, struct kerr *err)
{
	char sub[PATH_MAX];
	snprintf(sub, sizeof(sub), "%s/%s", dir, kind);
	struct stat st;
	if (lstat(sub, &st) < 0) {
		if (errno != ENOENT)
			log_warn("guest hooks: %s: %s: no %s hooks", sub, strerror(errno), kind);
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || !trusted(&st)) {
		log_warn("guest hooks: %s is %s: no %s hooks", sub,
			 S_ISLNK(st.st_mode)    ? "a symlink"
			 : !S_ISDIR(st.st_mode) ? "not a directory"
						: "not root's alone (owner or group/other write)",
			 kind);
		return 0;
	}
	struct dirent **names = NULL;
	int cnt = scandir(sub, &names, NULL, alphasort);
	if (cnt < 0) {
		log_warn("guest hooks: %s: %s: no %s hooks", sub, strerror(errno), kind);
		return 0;
	}
	int r = 0;
	for (int i = 0; i < cnt; i++) {
		char path[PATH_MAX];
		if (r >= 0 && names[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", sub, names[i]->d_name) <
			    (int)sizeof(path) &&
		    lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			if (!trusted(&st)) {
				log_warn("guest hooks: %s is not root's alone: left out", path);
			} else if (*n >= GUEST_HOOKS_MAX) {
				log_warn("guest hooks: %s: more than %u hooks: %s left out", sub,
					 GUEST_HOOKS_MAX, names[i]->d_name);
			} else {
				Grpc__Hook **nv = realloc(*out, (*n + 1) * sizeof(*nv));
				Grpc__Hook *h = nv ? hook_new(path, names[i]->d_name, kind) : NULL;
				if (nv)
					*out = nv;
				if (!h)
					r = kerr_set(err, -ENOMEM, "out of memory");
				else
					nv[(*n)++] = h;
			}
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int hooks_host_check(const struct executor *x, const Grpc__Spec *spec, struct kerr *err)
{
	static const enum hook_stage outside[] = { HOOK_PRESTART, HOOK_CREATE_RUNTIME,
						   HOOK_CREATE_CONTAINER, HOOK_POSTSTART,
						   HOOK_POSTSTOP };
	if (x->o.allow_host_hooks || !spec->hooks)
		return 0;
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		size_t n;
		Grpc__Hook **h = hooks_of_stage(spec->hooks, outside[i], &n);
		if (n)
			return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
					       "the spec's %s hook %.200s comes from the host and would "
					       "run as root outside the container: refused (only "
					       "startContainer hooks are accepted, unless the config "
					       "file sets allow_host_hooks)",
					       hook_stage_name(outside[i]), h[0]->path);
	}
	return 0;
}

/* Why path cannot hold guest hooks (into err, PERMISSION_DENIED or
 * INVALID_ARGUMENT), or 0. */
static int check_hook_path(struct executor *x, const char *path, struct kerr *err)
{
	size_t sl = strlen(x->o.shared_dir);
	if (path[0] != '/' || strlen(path) >= PATH_MAX - 64 || strstr(path, "/../") ||
	    strstr(path, "/./"))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "guest_hook_path \"%.200s\" is not a plain absolute path",
				       path);
	if (!strncmp(path, x->o.shared_dir, sl) && (path[sl] == '/' || path[sl] == '\0'))
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "guest_hook_path %s is below the shared directory %s, which "
				       "the host writes",
				       path, x->o.shared_dir);
	return check_dir_chain(path, err);
}

int guest_hooks_load(struct executor *x, const char *path, struct kerr *err)
{
	/* As upstream's add_hooks, the hooks found replace the previous set. */
	if (x->sb.guest_hooks)
		protobuf_c_message_free_unpacked(&x->sb.guest_hooks->base, NULL);
	x->sb.guest_hooks = NULL;
	struct kerr why = { 0 };
	if (check_hook_path(x, path, &why) < 0) {
		log_warn("%s: no guest hooks", why.msg);
		return 0;
	}
	Grpc__Hooks *h = malloc(sizeof(*h));
	if (!h)
		return kerr_set(err, -ENOMEM, "out of memory");
	grpc__hooks__init(h);
	int r;
	if ((r = find(path, "prestart", &h->prestart, &h->n_prestart, err)) < 0 ||
	    (r = find(path, "poststart", &h->poststart, &h->n_poststart, err)) < 0 ||
	    (r = find(path, "poststop", &h->poststop, &h->n_poststop, err)) < 0) {
		protobuf_c_message_free_unpacked(&h->base, NULL);
		return r;
	}
	x->sb.guest_hooks = h;
	log_info("guest hooks from %s: %zu prestart, %zu poststart, %zu poststop", path,
		 h->n_prestart, h->n_poststart, h->n_poststop);
	return 0;
}

/* Append copies of src[0..n) to *dst (a protobuf-c array, freed with the
 * spec). */
static int append(Grpc__Hook ***dst, size_t *n_dst, Grpc__Hook *const *src, size_t n,
		  struct kerr *err)
{
	if (!n)
		return 0;
	Grpc__Hook **nv = realloc(*dst, (*n_dst + n) * sizeof(*nv));
	if (!nv)
		return kerr_set(err, -ENOMEM, "out of memory");
	*dst = nv;
	for (size_t i = 0; i < n; i++) {
		Grpc__Hook *h = hook_new(src[i]->path, src[i]->args[0], src[i]->args[1]);
		if (!h)
			return kerr_set(err, -ENOMEM, "out of memory");
		nv[(*n_dst)++] = h;
	}
	return 0;
}

int guest_hooks_append(struct executor *x, Grpc__Spec *spec, struct kerr *err)
{
	const Grpc__Hooks *g = x->sb.guest_hooks;
	if (!g || !(g->n_prestart + g->n_poststart + g->n_poststop))
		return 0;
	if (!spec->hooks) {
		if (!(spec->hooks = malloc(sizeof(*spec->hooks))))
			return kerr_set(err, -ENOMEM, "out of memory");
		grpc__hooks__init(spec->hooks);
	}
	Grpc__Hooks *h = spec->hooks;
	int r = append(&h->prestart, &h->n_prestart, g->prestart, g->n_prestart, err);
	if (r >= 0)
		r = append(&h->poststart, &h->n_poststart, g->poststart, g->n_poststart, err);
	if (r >= 0)
		r = append(&h->poststop, &h->n_poststop, g->poststop, g->n_poststop, err);
	return r;
}
