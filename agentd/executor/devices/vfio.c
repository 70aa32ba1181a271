/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio.c - VFIO groups and vfio-pci binding in the guest's sysfs (vfio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "log.h"
#include "sysfs.h"
#include "vfio.h"

/* The last component of a sysfs link, when it is a plain name. */
static const char *link_base(int dirfd, const char *name, char *buf, size_t len, int *e)
{
	ssize_t n = readlinkat(dirfd, name, buf, len - 1);
	if (n < 0) {
		*e = errno;
		return NULL;
	}
	buf[n] = '\0';
	const char *b = strrchr(buf, '/');
	b = b ? b + 1 : buf;
	if (!b[0] || b[0] == '.' || strlen(b) > 64) {
		*e = EINVAL;
		return NULL;
	}
	return b;
}

int vfio_iommu_group(int sysfd, const char *dir, unsigned *group, struct kerr *err)
{
	cleanup_close int d = sys_openat2(sysfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
					  RESOLVE_SYSDEV);
	if (d < 0)
		return kerr_set(err, -errno, "/sys/%s: %s", dir, strerror(errno));
	char buf[PATH_MAX];
	int e = 0;
	const char *b = link_base(d, "iommu_group", buf, sizeof(buf), &e);
	if (!b)
		return e == ENOENT ? -ENOENT
				   : kerr_set(err, -e, "/sys/%s/iommu_group: %s", dir, strerror(e));
	char *end;
	errno = 0;
	unsigned long g = strtoul(b, &end, 10);
	if (errno || *end || end == b || g > 0xffffff)
		return kerr_set(err, -EINVAL, "/sys/%s/iommu_group -> %s is not a group", dir, buf);
	*group = (unsigned)g;
	return 0;
}

static int write_attr(int dirfd, const char *rel, const char *val, struct kerr *err)
{
	/* Links to the driver and the bus stay in sysfs: only magic links and
	 * paths above sysfd are refused. */
	cleanup_close int fd = sys_openat2(dirfd, rel, O_WRONLY | O_CLOEXEC, RESOLVE_SYSFS);
	size_t n = strlen(val);
	if (fd < 0 || write(fd, val, n) != (ssize_t)n)
		return kerr_set(err, -errno, "write \"%s\" to /sys/%s: %s", val, rel,
				strerror(errno));
	return 0;
}

/* Hand the function at dir (address bdf) to vfio-pci, as `driverctl
 * set-override`: nothing when vfio-pci drives it already. */
static int vfio_bind(int sysfd, const char *dir, const char *bdf, struct kerr *err)
{
	char rel[PATH_MAX], buf[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/driver_override", dir);
	int r = write_attr(sysfd, rel, "vfio-pci", err);
	if (r < 0)
		return r;
	cleanup_close int d = sys_openat2(sysfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
					  RESOLVE_SYSDEV);
	if (d < 0)
		return kerr_set(err, -errno, "/sys/%s: %s", dir, strerror(errno));
	int e = 0;
	const char *drv = link_base(d, "driver", buf, sizeof(buf), &e);
	if (drv && !strcmp(drv, "vfio-pci"))
		return 0;
	if (!drv && e != ENOENT)
		return kerr_set(err, -e, "/sys/%s/driver: %s", dir, strerror(e));
	if (drv) {
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/unbind", drv);
		if ((r = write_attr(sysfd, rel, bdf, err)) < 0)
			return r;
		log_info("VFIO: %s unbound from %s", bdf, drv);
	}
	r = write_attr(sysfd, "bus/pci/drivers_probe", bdf, err);
	if (r == 0)
		log_info("VFIO: %s handed to vfio-pci", bdf);
	return r;
}

int vfio_probe(const struct dev_env *env, int sysfd, const struct dev_query *q, struct dev_found *f,
	       struct kerr *err)
{
	(void)env;
	cleanup_close int devs = sys_openat2(sysfd, "devices", O_PATH | O_DIRECTORY | O_CLOEXEC,
					     RESOLVE_SYSDEV);
	if (devs < 0)
		return kerr_set(err, -errno, "sysfs devices: %s", strerror(errno));
	char dirs[DEV_VFIO_MAX][PCI_SYSFS_MAX];
	unsigned group = 0;
	for (unsigned i = 0; i < q->n_fn; i++) {
		struct kerr pe = { 0 };
		int r = pci_path_to_sysfs(devs, &q->guest[i], dirs[i], sizeof(dirs[i]),
					  &f->guest[i], &pe);
		if (r == -ENOENT)
			return r;
		if (r < 0) {
			*err = pe;
			return kerr_prefix(err, "%s", q->label);
		}
		if (q->kind != DEV_VFIO)
			continue;
		unsigned g;
		char bdf[16];
		pci_addr_format(&f->guest[i], bdf, sizeof(bdf));
		r = vfio_iommu_group(sysfd, dirs[i], &g, err);
		if (r == -ENOENT)
			return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENODEV,
					       "%s: %s has no IOMMU group", q->label, bdf);
		if (r < 0)
			return r;
		if (i > 0 && g != group)
			return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EINVAL,
					       "%s: %s is in IOMMU group %u, not in group %u",
					       q->label, bdf, g, group);
		group = g;
	}
	f->n_fn = q->n_fn;
	if (q->kind != DEV_VFIO)
		return 0;
	for (unsigned i = 0; !f->vfio_bound && i < q->n_fn; i++) {
		char bdf[16];
		pci_addr_format(&f->guest[i], bdf, sizeof(bdf));
		int r = vfio_bind(sysfd, dirs[i], bdf, err);
		if (r < 0)
			return kerr_prefix(err, "%s", q->label);
	}
	f->vfio_bound = true;
	snprintf(f->devname, sizeof(f->devname), "vfio/%u", group);
	snprintf(f->syspath, sizeof(f->syspath), "devices/virtual/vfio/%u", group);
	f->block = false;
	return 0;
}
