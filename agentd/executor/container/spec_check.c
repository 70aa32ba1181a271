/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "container_seccomp.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "log.h"
#include "namespaces.h"
#include "process.h"
#include "rootfs.h"
#include "spec_check.h"

#define INVALID(err, ...) kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, __VA_ARGS__)

/* Container and exec ids as upstream (kata-sys-util verify_id):
 * ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$, and at most SPEC_MAX_ID_LEN bytes. */
static int spec_check_id(const char *id, const char *what, struct kerr *err)
{
	size_t n = id ? strlen(id) : 0;
	if (n < 2 || n > SPEC_MAX_ID_LEN)
		return INVALID(err, "%s: length %zu, must be 2..%d", what, n, SPEC_MAX_ID_LEN);
	if (!isalnum((unsigned char)id[0]))
		return INVALID(err, "%s \"%.64s\": must start with a letter or digit", what, id);
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return INVALID(err, "%s \"%.64s\": character %zu not in [a-zA-Z0-9_.-]",
				       what, id, i);
	}
	return 0;
}

static int check_path(const char *p, bool absolute, const char *field, struct kerr *err)
{
	size_t n = strlen(p);
	if (n == 0)
		return INVALID(err, "%s: empty path", field);
	if (n > SPEC_MAX_PATH_LEN)
		return INVALID(err, "%s: path longer than %d", field, SPEC_MAX_PATH_LEN);
	if (absolute && p[0] != '/')
		return INVALID(err, "%s \"%.256s\": not an absolute path", field, p);
	return 0;
}

/* args/env lists of processes and hooks: counts, one total byte budget.
 * A process's env entries need no '=' (upstream drops such entries when it
 * execs, and so does process_env); a hook's must be KEY=value. */
static int check_argv_env(char *const *args, size_t n_args, char *const *env, size_t n_env,
			  bool strict_env, const char *field, struct kerr *err)
{
	size_t total = 0;
	if (n_args > SPEC_MAX_ARGS)
		return INVALID(err, "%s.Args: %zu entries, at most %d", field, n_args,
			       SPEC_MAX_ARGS);
	if (n_env > SPEC_MAX_ENV)
		return INVALID(err, "%s.Env: %zu entries, at most %d", field, n_env, SPEC_MAX_ENV);
	for (size_t i = 0; i < n_args; i++)
		total += strlen(args[i]) + 1;
	for (size_t i = 0; i < n_env; i++) {
		const char *eq = strchr(env[i], '=');
		if (strict_env && (!eq || eq == env[i]))
			return INVALID(err, "%s.Env[%zu]: not KEY=value", field, i);
		total += strlen(env[i]) + 1;
	}
	if (total > SPEC_MAX_ARGV_BYTES)
		return INVALID(err, "%s: args and env take %zu bytes, at most %d", field, total,
			       SPEC_MAX_ARGV_BYTES);
	return 0;
}

static int check_caps(char *const *names, size_t n, const char *field, const char *set,
		      struct kerr *err)
{
	if (n > SPEC_MAX_CAPS)
		return INVALID(err, "%s.Capabilities.%s: %zu entries, at most %d", field, set, n,
			       SPEC_MAX_CAPS);
	for (size_t i = 0; i < n; i++)
		if (process_cap_from_name(names[i]) < 0)
			return INVALID(err, "%s.Capabilities.%s[%zu] \"%.64s\": unknown capability",
				       field, set, i, names[i]);
	return 0;
}

int spec_check_process(const Grpc__Process *p, const char *field, struct kerr *err)
{
	int r;
	if (!p)
		return INVALID(err, "%s: missing", field);
	if (p->n_args == 0 || !p->args[0][0])
		return INVALID(err, "%s.Args: empty, nothing to run", field);
	if ((r = check_argv_env(p->args, p->n_args, p->env, p->n_env, false, field, err)) < 0)
		return r;
	if (p->cwd[0] && (r = check_path(p->cwd, true, "Process.Cwd", err)) < 0)
		return r;
	if (p->user && p->user->n_additionalgids > SPEC_MAX_GIDS)
		return INVALID(err, "%s.User.AdditionalGids: %zu entries, at most %d", field,
			       p->user->n_additionalgids, SPEC_MAX_GIDS);
	if (p->capabilities) {
		const Grpc__LinuxCapabilities *c = p->capabilities;
		if ((r = check_caps(c->bounding, c->n_bounding, field, "Bounding", err)) < 0 ||
		    (r = check_caps(c->effective, c->n_effective, field, "Effective", err)) < 0 ||
		    (r = check_caps(c->inheritable, c->n_inheritable, field, "Inheritable", err)) <
			    0 ||
		    (r = check_caps(c->permitted, c->n_permitted, field, "Permitted", err)) < 0 ||
		    (r = check_caps(c->ambient, c->n_ambient, field, "Ambient", err)) < 0)
			return r;
	}
	if (p->n_rlimits > SPEC_MAX_RLIMITS)
		return INVALID(err, "%s.Rlimits: %zu entries, at most %d", field, p->n_rlimits,
			       SPEC_MAX_RLIMITS);
	for (size_t i = 0; i < p->n_rlimits; i++) {
		if (process_rlimit_from_name(p->rlimits[i]->type) < 0)
			return INVALID(err, "%s.Rlimits[%zu].Type \"%.64s\": unknown", field, i,
				       p->rlimits[i]->type);
		if (p->rlimits[i]->soft > p->rlimits[i]->hard)
			return INVALID(err, "%s.Rlimits[%zu]: soft limit above the hard limit",
				       field, i);
	}
	if (p->oomscoreadj < -1000 || p->oomscoreadj > 1000)
		return INVALID(err, "%s.OOMScoreAdj %lld: outside -1000..1000", field,
			       (long long)p->oomscoreadj);
	if (p->apparmorprofile[0])
		log_warn("%s.ApparmorProfile %s: AppArmor is not supported, not applied", field,
			 p->apparmorprofile);
	if (p->selinuxlabel[0])
		log_warn("%s.SelinuxLabel %s: SELinux is not supported, not applied", field,
			 p->selinuxlabel);
	return 0;
}

static int check_hooks(const Grpc__Hooks *h, struct kerr *err)
{
	static const char *const names[] = { "Prestart",       "CreateRuntime", "CreateContainer",
					     "StartContainer", "Poststart",     "Poststop" };
	if (!h)
		return 0;
	Grpc__Hook **lists[] = { h->prestart,       h->createruntime, h->createcontainer,
				 h->startcontainer, h->poststart,     h->poststop };
	size_t counts[] = { h->n_prestart,       h->n_createruntime, h->n_createcontainer,
			    h->n_startcontainer, h->n_poststart,     h->n_poststop };
	char field[64];
	int r;
	for (size_t s = 0; s < 6; s++) {
		if (counts[s] > SPEC_MAX_HOOKS)
			return INVALID(err, "Hooks.%s: %zu hooks, at most %d", names[s], counts[s],
				       SPEC_MAX_HOOKS);
		for (size_t i = 0; i < counts[s]; i++) {
			const Grpc__Hook *k = lists[s][i];
			snprintf(field, sizeof(field), "Hooks.%s[%zu]", names[s], i);
			if ((r = check_path(k->path, true, field, err)) < 0)
				return r;
			if ((r = check_argv_env(k->args, k->n_args, k->env, k->n_env, true, field,
						err)) < 0)
				return r;
			if (k->timeout < 0)
				return INVALID(err, "%s.Timeout: negative", field);
		}
	}
	return 0;
}

static int check_path_list(char *const *paths, size_t n, const char *field, struct kerr *err)
{
	char f[64];
	int r;
	if (n > SPEC_MAX_PATH_LIST)
		return INVALID(err, "%s: %zu entries, at most %d", field, n, SPEC_MAX_PATH_LIST);
	for (size_t i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if ((r = check_path(paths[i], true, f, err)) < 0)
			return r;
	}
	return 0;
}

/* Linux.Namespaces: known, each once, a mount namespace, no mount or user
 * namespace joined by path; their CLONE_* flags in *flags. */
static int check_namespaces(const Grpc__Linux *lx, int *flags, struct kerr *err)
{
	char f[64];
	int r;
	*flags = 0;
	for (size_t i = 0; i < lx->n_namespaces; i++) {
		const Grpc__LinuxNamespace *ns = lx->namespaces[i];
		int fl = ns_flag_from_name(ns->type);
		if (!fl)
			return INVALID(err,
				       "Linux.Namespaces[%zu].Type \"%.32s\": unknown namespace", i,
				       ns->type);
		if (*flags & fl)
			return INVALID(err, "Linux.Namespaces[%zu]: %s given twice", i, ns->type);
		*flags |= fl;
		if (!ns->path[0])
			continue;
		snprintf(f, sizeof(f), "Linux.Namespaces[%zu].Path", i);
		if ((r = check_path(ns->path, true, f, err)) < 0)
			return r;
		if (fl == CLONE_NEWNS)
			return INVALID(err,
				       "Linux.Namespaces[%zu]: joining a mount namespace "
				       "by path is not allowed: the rootfs is set up in a "
				       "new one",
				       i);
		if (fl == CLONE_NEWUSER)
			return kerr_set_status(err, GRPC_UNIMPLEMENTED, -EOPNOTSUPP,
					       "Linux.Namespaces[%zu]: joining a user "
					       "namespace by path is not supported",
					       i);
	}
	if (!(*flags & CLONE_NEWNS))
		return INVALID(err, "Linux.Namespaces: a mount namespace is required");
	return 0;
}

/* Linux.Sysctl: bounded, namespaced keys of namespaces the container has. */
static int check_sysctl(const Grpc__Linux *lx, int flags, struct kerr *err)
{
	if (lx->n_sysctl > SPEC_MAX_SYSCTL)
		return INVALID(err, "Linux.Sysctl: %zu entries, at most %d", lx->n_sysctl,
			       SPEC_MAX_SYSCTL);
	for (size_t i = 0; i < lx->n_sysctl; i++) {
		const char *k = lx->sysctl[i]->key;
		if (!process_sysctl_allowed(k, flags))
			return INVALID(err,
				       "Linux.Sysctl \"%.128s\": not a namespaced key, or its "
				       "namespace is the guest's",
				       k);
		if (strlen(lx->sysctl[i]->value) > SPEC_MAX_SYSCTL_VALUE)
			return INVALID(err, "Linux.Sysctl \"%.128s\": value longer than %d", k,
				       SPEC_MAX_SYSCTL_VALUE);
	}
	return 0;
}

/* Linux.Devices: bounded, below /dev, known types, numbers in range. */
static int check_devices(const Grpc__Linux *lx, struct kerr *err)
{
	char f[64];
	int r;
	if (lx->n_devices > SPEC_MAX_DEVICES)
		return INVALID(err, "Linux.Devices: %zu entries, at most %d", lx->n_devices,
			       SPEC_MAX_DEVICES);
	for (size_t i = 0; i < lx->n_devices; i++) {
		const Grpc__LinuxDevice *d = lx->devices[i];
		mode_t t;
		snprintf(f, sizeof(f), "Linux.Devices[%zu].Path", i);
		if ((r = check_path(d->path, true, f, err)) < 0)
			return r;
		if (strncmp(d->path, "/dev/", 5) != 0 || strstr(d->path, "/../"))
			return INVALID(err, "%s \"%.256s\": not under /dev", f, d->path);
		if (rootfs_device_type(d->type, &t) < 0)
			return INVALID(err, "Linux.Devices[%zu].Type \"%.8s\": unknown", i,
				       d->type);
		if (d->major < 0 || d->major > 0xfff || d->minor < 0 || d->minor > 0xfffff)
			return INVALID(err, "Linux.Devices[%zu]: major/minor out of range", i);
	}
	return 0;
}

static int check_linux(const Grpc__Linux *lx, int *ns_flags, struct kerr *err)
{
	int flags = 0, r;
	if ((r = check_namespaces(lx, &flags, err)) < 0)
		return r;
	if (lx->n_uidmappings > SPEC_MAX_IDMAPS || lx->n_gidmappings > SPEC_MAX_IDMAPS)
		return INVALID(err, "Linux.UIDMappings/GIDMappings: at most %d entries each",
			       SPEC_MAX_IDMAPS);
	if ((lx->n_uidmappings || lx->n_gidmappings) && !(flags & CLONE_NEWUSER))
		return INVALID(err, "Linux.UIDMappings: given without a user namespace");
	if ((flags & CLONE_NEWUSER) && (!lx->n_uidmappings || !lx->n_gidmappings))
		return INVALID(err,
			       "Linux.UIDMappings/GIDMappings: a new user namespace needs both");
	if ((r = check_sysctl(lx, flags, err)) < 0 || (r = check_devices(lx, err)) < 0 ||
	    (r = check_path_list(lx->maskedpaths, lx->n_maskedpaths, "Linux.MaskedPaths", err)) <
		    0 ||
	    (r = check_path_list(lx->readonlypaths, lx->n_readonlypaths, "Linux.ReadonlyPaths",
				 err)) < 0)
		return r;
	if (lx->rootfspropagation[0] && !rootfs_propagation_known(lx->rootfspropagation))
		return INVALID(err, "Linux.RootfsPropagation \"%.32s\": unknown",
			       lx->rootfspropagation);
	if (lx->seccomp && (r = container_seccomp_check(lx->seccomp, err)) < 0)
		return r;
	if (lx->mountlabel[0])
		log_warn("Linux.MountLabel %s: SELinux is not supported, not applied",
			 lx->mountlabel);
	*ns_flags = flags;
	return 0;
}

int spec_check(const Grpc__Spec *s, const char *id, struct kerr *err)
{
	int r, ns_flags = 0;
	char f[64];

	if ((r = spec_check_id(id, "container id", err)) < 0)
		return r;
	if (!s)
		return INVALID(err, "OCI spec: missing");
	if (!s->root)
		return INVALID(err, "Root: missing");
	if ((r = check_path(s->root->path, false, "Root.Path", err)) < 0)
		return r;
	if ((r = spec_check_process(s->process, "Process", err)) < 0)
		return r;
	if (!s->linux)
		return INVALID(err, "Linux: missing");
	if ((r = check_linux(s->linux, &ns_flags, err)) < 0)
		return r;
	if (strlen(s->hostname) > SPEC_MAX_HOSTNAME)
		return INVALID(err, "Hostname: longer than %d", SPEC_MAX_HOSTNAME);
	if (s->hostname[0] && !(ns_flags & CLONE_NEWUTS))
		return INVALID(err, "Hostname: set without a uts namespace");
	if (s->n_mounts > SPEC_MAX_MOUNTS)
		return INVALID(err, "Mounts: %zu entries, at most %d", s->n_mounts,
			       SPEC_MAX_MOUNTS);
	for (size_t i = 0; i < s->n_mounts; i++) {
		const Grpc__Mount *m = s->mounts[i];
		snprintf(f, sizeof(f), "Mounts[%zu].destination", i);
		if ((r = check_path(m->destination, true, f, err)) < 0)
			return r;
		if (strlen(m->source) > SPEC_MAX_PATH_LEN)
			return INVALID(err, "Mounts[%zu].source: longer than %d", i,
				       SPEC_MAX_PATH_LEN);
		if ((r = rootfs_mount_check(m, i, err)) < 0)
			return r;
	}
	if ((r = check_hooks(s->hooks, err)) < 0)
		return r;
	if (s->n_annotations > SPEC_MAX_ANNOTATIONS)
		return INVALID(err, "Annotations: %zu entries, at most %d", s->n_annotations,
			       SPEC_MAX_ANNOTATIONS);
	size_t bytes = 0;
	for (size_t i = 0; i < s->n_annotations; i++)
		bytes += strlen(s->annotations[i]->key) + strlen(s->annotations[i]->value);
	if (bytes > SPEC_MAX_ANNOTATION_BYTES)
		return INVALID(err, "Annotations: %zu bytes, at most %d", bytes,
			       SPEC_MAX_ANNOTATION_BYTES);
	return 0;
}
