/* SPDX-License-Identifier: Apache-2.0 */
/*
 * container_devices.c - CreateContainer's devices found, and its spec
 * rewritten for them (container_devices.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "container_devices.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "log.h"
#include "spec_devices.h"

/* As upstream validate_device; then the query for its type. */
static int device_query(const Grpc__Device *d, size_t i, struct dev_query *q, struct kerr *err)
{
	const char *t = d->type;
	if (!t[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "devices[%zu] has no type", i);
	if (!d->id[0] && !d->vm_path[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "devices[%zu] (%.32s) has neither an id nor a VM path", i,
				       t);
	if (!d->container_path[0])
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "devices[%zu] (%.32s) has no container path", i, t);
	int r;
	if (!strcmp(t, "blk"))
		r = dev_query_blk_pci(d->id, q, err);
	else if (!strcmp(t, "mmioblk"))
		r = dev_query_named(DEV_BLK_MMIO, d->vm_path, q, err);
	else if (!strcmp(t, "scsi"))
		r = dev_query_scsi(d->id, q, err);
	else if (!strcmp(t, "nvdimm"))
		r = dev_query_named(DEV_PMEM, d->vm_path, q, err);
	else if (!strcmp(t, "vfio-pci") || !strcmp(t, "vfio-pci-gk")) {
		memset(q, 0, sizeof(*q));
		q->kind = strcmp(t, "vfio-pci") ? DEV_PCI_GK : DEV_VFIO;
		snprintf(q->label, sizeof(q->label), "%s device %.64s", t, d->container_path);
		r = 0;
		for (size_t k = 0; r >= 0 && k < d->n_options; k++)
			r = dev_query_add_vfio_fn(q, d->options[k], err);
		if (r >= 0 && q->n_fn == 0)
			r = kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					    "%s lists no PCI function", q->label);
	} else if (!strcmp(t, "vfio-ap") || !strcmp(t, "vfio-ap-cold") || !strcmp(t, "blk-ccw"))
		r = kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENODEV,
				    "devices[%zu]: %s devices exist only on s390x", i, t);
	else
		r = kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				    "devices[%zu]: unknown device type \"%.32s\"", i, t);
	return r < 0 ? kerr_prefix(err, "CreateContainer") : 0;
}

int ctr_devices_batch(struct hotplug *h, const Grpc__CreateContainerRequest *req,
		      struct dev_batch **out, struct kerr *err)
{
	*out = NULL;
	struct dev_batch *b = NULL;
	struct dev_query q;
	int r = 0;
	for (size_t i = 0; r >= 0 && i < req->n_devices; i++) {
		r = device_query(req->devices[i], i, &q, err);
		if (r >= 0 && !b)
			r = dev_batch_new(h, &b, err);
		if (r >= 0)
			r = dev_batch_add(b, &q, err);
	}
	for (size_t i = 0; r >= 0 && i < req->n_storages; i++) {
		const Grpc__Storage *s = req->storages[i];
		int need = dev_query_from_storage(s->driver, s->source, &q, err);
		if (need < 0)
			r = kerr_prefix(err, "CreateContainer: storages[%zu]", i);
		else if (need && !b)
			r = dev_batch_new(h, &b, err);
		if (r >= 0 && need)
			r = dev_batch_add(b, &q, err);
	}
	if (r < 0) {
		dev_batch_free(b);
		return r;
	}
	*out = b;
	return 0;
}

/* Cold-plugged VFs bound to guest RDMA drivers make char devices in
 * /dev/infiniband (uverbsN, rdma_cm) that the runtime cannot list: a
 * container given a VFIO device gets them, as upstream (and no other
 * container does). At most 64, char devices only, no symlink followed. */
#define IB_MAX 64
static int expose_infiniband(Grpc__Spec *spec, const struct dev_env *env, struct kerr *err)
{
	cleanup_close int devfd = open(env->dev, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = devfd < 0 ? -1
			   : sys_openat2(devfd, "infiniband", O_RDONLY | O_DIRECTORY | O_CLOEXEC,
					 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return 0; /* no RDMA driver in this guest */
	cleanup_closedir DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	struct dirent *de;
	int n = 0, r = 0;
	while (r >= 0 && n < IB_MAX && (de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || strlen(de->d_name) > 64 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISCHR(st.st_mode))
			continue;
		char path[96];
		snprintf(path, sizeof(path), "/dev/infiniband/%s", de->d_name);
		struct dev_update u = { .container_path = path,
					.type = 'c',
					.major = major(st.st_rdev),
					.minor = minor(st.st_rdev) };
		r = spec_devices_add(spec, &u, st.st_mode & 07777, st.st_uid, st.st_gid, err);
		n++;
		log_info("device %s: guest c %u:%u (RDMA, for the VFIO device)", path,
			 major(st.st_rdev), minor(st.st_rdev));
	}
	return r;
}

int ctr_devices_apply(Grpc__CreateContainerRequest *req, const struct dev_batch *b,
		      const struct dev_env *env, struct kerr *err)
{
	size_t n = req->n_devices, nu = 0, nm = 0;
	if (!n)
		return 0;
	cleanup_free struct dev_update *u = calloc(n, sizeof(*u));
	cleanup_free struct pci_map *m = calloc(n * DEV_VFIO_MAX, sizeof(*m));
	cleanup_free char(*paths)[80] = calloc(n, sizeof(*paths));
	if (!u || !m || !paths)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const Grpc__Device *d = req->devices[i];
		struct dev_query q;
		int r = device_query(d, i, &q, err);
		if (r < 0)
			return r;
		const struct dev_found *f = dev_batch_lookup(b, &q);
		if (!f)
			return kerr_set(err, -ENODEV, "CreateContainer: %s was not looked for",
					q.label);
		for (unsigned k = 0; k < f->n_fn; k++)
			m[nm++] = (struct pci_map){ .host = q.host[k], .guest = f->guest[k] };
		if (q.kind == DEV_PCI_GK)
			continue;
		u[nu] = (struct dev_update){ .container_path = d->container_path,
					     .type = f->block ? 'b' : 'c',
					     .major = major(f->rdev),
					     .minor = minor(f->rdev) };
		if (q.kind == DEV_VFIO) {
			/* The group's number is the guest's, so is its node. */
			snprintf(paths[nu], sizeof(paths[nu]), "/dev/%s", f->devname);
			u[nu].final_path = paths[nu];
		}
		nu++;
	}
	int r = spec_env_pci_update(req->oci, m, nm, err);
	if (r >= 0)
		r = spec_devices_update(req->oci, u, nu, err);
	if (r >= 0 && nm)
		r = expose_infiniband(req->oci, env, err);
	if (r < 0)
		return kerr_prefix(err, "CreateContainer");
	for (size_t i = 0; i < nu; i++)
		log_info("device %s: guest %c %lld:%lld%s%s", u[i].container_path, u[i].type,
			 (long long)u[i].major, (long long)u[i].minor,
			 u[i].final_path ? ", at " : "", u[i].final_path ? u[i].final_path : "");
	return 0;
}

int ctr_devices_find(const Grpc__CreateContainerRequest *req, const struct dev_batch *b,
		     const char *container_path, struct dev_found *f, char *label, size_t len,
		     struct kerr *err)
{
	for (size_t i = 0; i < req->n_devices; i++) {
		const Grpc__Device *d = req->devices[i];
		if (strcmp(d->container_path, container_path))
			continue;
		struct dev_query q;
		int r = device_query(d, i, &q, err);
		if (r < 0)
			return r;
		const struct dev_found *found = dev_batch_lookup(b, &q);
		if (!found)
			return kerr_set(err, -ENODEV, "CreateContainer: %s was not looked for",
					q.label);
		*f = *found;
		snprintf(label, len, "%s", q.label);
		return 1;
	}
	return 0;
}
