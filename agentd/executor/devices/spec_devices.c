/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec_devices.c - the spec's devices and device rules rewritten to the
 * guest's numbers, PCIDEVICE_* to the guest's addresses (spec_devices.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "spec_devices.h"

static int oom(struct kerr *err)
{
	return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
}

/* protobuf-c points empty strings at a shared constant: never free it. */
static void pb_free_str(char *s)
{
	if (s && s != protobuf_c_empty_string)
		free(s);
}

static int find_entry(const Grpc__Linux *l, const char *path)
{
	for (size_t i = 0; l && i < l->n_devices; i++)
		if (l->devices[i]->path && !strcmp(l->devices[i]->path, path))
			return (int)i;
	return -1;
}

static int invalid(struct kerr *err, const char *fmt, const char *a)
{
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, fmt, a);
}

/* Every update names one spec entry, no two the same path or host device. */
static int check_updates(const Grpc__Linux *l, const struct dev_update *u, size_t n, int *idx,
			 struct kerr *err)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (!strcmp(u[i].container_path, u[j].container_path))
				return invalid(err, "conflicting device updates for %.200s",
					       u[i].container_path);
		idx[i] = find_entry(l, u[i].container_path);
		if (idx[i] < 0)
			return invalid(err, "device %.200s is not in the OCI spec's linux.devices",
				       u[i].container_path);
		const Grpc__LinuxDevice *a = l->devices[idx[i]];
		for (size_t j = 0; j < i; j++) {
			const Grpc__LinuxDevice *b = l->devices[idx[j]];
			if (!strcmp(a->type, b->type) && a->major == b->major &&
			    a->minor == b->minor)
				return invalid(err,
					       "conflicting updates of one host device (%.200s)",
					       u[i].container_path);
		}
	}
	return 0;
}

static Grpc__LinuxDeviceCgroup *allow_rule(const struct dev_update *u)
{
	Grpc__LinuxDeviceCgroup *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	grpc__linux_device_cgroup__init(r);
	char t[2] = { u->type, '\0' };
	r->allow = true;
	r->major = u->major;
	r->minor = u->minor;
	r->type = strdup(t);
	r->access = strdup("rwm");
	if (!r->type || !r->access) {
		free(r->type);
		free(r->access);
		free(r);
		return NULL;
	}
	return r;
}

/* Room for n more rules, and the rules themselves; nothing in spec changes
 * unless all of it could be allocated. */
static int prepare_rules(Grpc__LinuxResources *res, const struct dev_update *u, size_t n,
			 struct kerr *err)
{
	Grpc__LinuxDeviceCgroup **nd = realloc(res->devices, (res->n_devices + n) * sizeof(*nd));
	if (!nd)
		return oom(err);
	res->devices = nd;
	for (size_t i = 0; i < n; i++) {
		nd[res->n_devices + i] = allow_rule(&u[i]);
		if (!nd[res->n_devices + i]) {
			while (i-- > 0)
				protobuf_c_message_free_unpacked(&nd[res->n_devices + i]->base,
								 NULL);
			return oom(err);
		}
	}
	return 0;
}

int spec_devices_update(Grpc__Spec *spec, const struct dev_update *u, size_t n, struct kerr *err)
{
	if (n == 0)
		return 0;
	Grpc__Linux *l = spec->linux;
	cleanup_free int *idx = calloc(n, sizeof(*idx));
	cleanup_free char **paths = calloc(n, sizeof(*paths));
	if (!idx || !paths)
		return oom(err);
	int r = check_updates(l, u, n, idx, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (u[i].final_path && !(paths[i] = strdup(u[i].final_path))) {
			while (i-- > 0)
				free(paths[i]);
			return oom(err);
		}
	bool new_res = !l->resources;
	if (new_res) {
		l->resources = malloc(sizeof(*l->resources));
		if (l->resources)
			grpc__linux_resources__init(l->resources);
	}
	Grpc__LinuxResources *res = l->resources;
	if (!res || prepare_rules(res, u, n, err) < 0) {
		for (size_t i = 0; i < n; i++)
			free(paths[i]);
		if (new_res && res) {
			free(res);
			l->resources = NULL;
		}
		return res ? err->code : oom(err);
	}
	/* The rules that named a host device now name its guest device. */
	for (size_t k = 0; k < res->n_devices; k++) {
		Grpc__LinuxDeviceCgroup *d = res->devices[k];
		for (size_t i = 0; i < n; i++) {
			const Grpc__LinuxDevice *e = l->devices[idx[i]];
			if (d->type && !strcmp(d->type, e->type) && d->major == e->major &&
			    d->minor == e->minor) {
				d->major = u[i].major;
				d->minor = u[i].minor;
				break;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		Grpc__LinuxDevice *e = l->devices[idx[i]];
		e->major = u[i].major;
		e->minor = u[i].minor;
		if (paths[i]) {
			pb_free_str(e->path);
			e->path = take_ptr(&paths[i]);
		}
	}
	res->n_devices += n;
	return 0;
}

int spec_devices_add(Grpc__Spec *spec, const struct dev_update *u, uint32_t mode, uint32_t uid,
		     uint32_t gid, struct kerr *err)
{
	if (!spec->linux) {
		if (!(spec->linux = malloc(sizeof(*spec->linux))))
			return oom(err);
		grpc__linux__init(spec->linux);
	}
	Grpc__Linux *l = spec->linux;
	if (find_entry(l, u->container_path) >= 0)
		return 0;
	Grpc__LinuxDevice **nd = realloc(l->devices, (l->n_devices + 1) * sizeof(*nd));
	if (!nd)
		return oom(err);
	l->devices = nd;
	Grpc__LinuxDevice *d = malloc(sizeof(*d));
	char t[2] = { u->type, '\0' };
	if (!d)
		return oom(err);
	grpc__linux_device__init(d);
	d->path = strdup(u->container_path);
	d->type = strdup(t);
	if (!d->path || !d->type) {
		protobuf_c_message_free_unpacked(&d->base, NULL);
		return oom(err);
	}
	d->major = u->major;
	d->minor = u->minor;
	d->filemode = mode;
	d->uid = uid;
	d->gid = gid;
	/* The entry goes in only with its rule: both or neither. */
	if (!l->resources) {
		if (!(l->resources = malloc(sizeof(*l->resources)))) {
			protobuf_c_message_free_unpacked(&d->base, NULL);
			return oom(err);
		}
		grpc__linux_resources__init(l->resources);
	}
	int r = prepare_rules(l->resources, u, 1, err);
	if (r < 0) {
		protobuf_c_message_free_unpacked(&d->base, NULL);
		return r;
	}
	l->resources->n_devices++;
	l->devices[l->n_devices++] = d;
	return 0;
}

/* ---- PCIDEVICE_* ---- */

static const struct pci_map *map_find(const struct pci_map *m, size_t n, const struct pci_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (pci_addr_eq(&m[i].host, a))
			return &m[i];
	return NULL;
}

/* "NAME=a,b,c" -> "NAME=A,B,C" when every address maps; NULL otherwise. */
static char *translate_list(const char *var, size_t namelen, const struct pci_map *m, size_t n)
{
	const char *val = var + namelen + 1;
	size_t count = 1;
	for (const char *c = val; *c; c++)
		count += *c == ',';
	size_t cap = namelen + 2 + count * 14;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t o = (size_t)snprintf(out, cap, "%.*s=", (int)namelen, var);
	for (const char *c = val;;) {
		const char *e = strchrnul(c, ',');
		char one[32];
		struct pci_addr a;
		const struct pci_map *hit = NULL;
		if (e - c < (long)sizeof(one)) {
			snprintf(one, sizeof(one), "%.*s", (int)(e - c), c);
			if (pci_addr_parse(one, &a, NULL) == 0)
				hit = map_find(m, n, &a);
		}
		if (!hit || o + 14 > cap) {
			free(out);
			return NULL;
		}
		if (c != val)
			out[o++] = ',';
		pci_addr_format(&hit->guest, out + o, cap - o);
		o += strlen(out + o);
		if (!*e)
			break;
		c = e + 1;
	}
	return out;
}

/* s with every host address of m replaced by its guest address. */
static char *replace_addrs(const char *s, const struct pci_map *m, size_t n)
{
	char *cur = strdup(s);
	for (size_t i = 0; cur && i < n; i++) {
		char h[16], g[16];
		pci_addr_format(&m[i].host, h, sizeof(h));
		pci_addr_format(&m[i].guest, g, sizeof(g));
		size_t hl = strlen(h), gl = strlen(g);
		char *hit;
		size_t from = 0;
		while (cur && (hit = strstr(cur + from, h))) {
			size_t at = (size_t)(hit - cur), len = strlen(cur);
			char *nx = malloc(len - hl + gl + 1);
			if (nx) {
				memcpy(nx, cur, at);
				memcpy(nx + at, g, gl);
				memcpy(nx + at + gl, cur + at + hl, len - at - hl + 1);
			}
			free(cur);
			cur = nx;
			from = at + gl;
		}
	}
	return cur;
}

static bool is_pcidevice(const char *var, size_t *namelen, bool *info)
{
	const char *eq = strchr(var, '=');
	if (!eq || strncmp(var, "PCIDEVICE_", 10))
		return false;
	*namelen = (size_t)(eq - var);
	*info = *namelen >= 5 && !strncmp(eq - 5, "_INFO", 5);
	return true;
}

int spec_env_pci_update(Grpc__Spec *spec, const struct pci_map *m, size_t n, struct kerr *err)
{
	Grpc__Process *p = spec->process;
	if (!p || n == 0)
		return 0;
	/* First the lists; an _INFO variable follows its list only if the list
	 * was translated. */
	cleanup_free bool *done = calloc(p->n_env ? p->n_env : 1, sizeof(*done));
	if (!done)
		return oom(err);
	for (size_t i = 0; i < p->n_env; i++) {
		size_t nl;
		bool info;
		if (!is_pcidevice(p->env[i], &nl, &info) || info)
			continue;
		char *t = translate_list(p->env[i], nl, m, n);
		if (!t)
			continue;
		pb_free_str(p->env[i]);
		p->env[i] = t;
		done[i] = true;
	}
	for (size_t i = 0; i < p->n_env; i++) {
		size_t nl, ml;
		bool info, minfo;
		if (!is_pcidevice(p->env[i], &nl, &info) || !info)
			continue;
		bool listed = false;
		for (size_t j = 0; j < p->n_env && !listed; j++)
			listed = done[j] && is_pcidevice(p->env[j], &ml, &minfo) && ml + 5 == nl &&
				 !strncmp(p->env[j], p->env[i], ml);
		if (!listed)
			continue;
		char *t = replace_addrs(p->env[i], m, n);
		if (!t)
			return oom(err);
		pb_free_str(p->env[i]);
		p->env[i] = t;
	}
	return 0;
}
