/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe.c - finding the guest device a runtime reference names, in sysfs,
 * and opening its node (probe.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "log.h"
#include "probe.h"
#include "sysfs.h"
#include "vfio.h"

const struct dev_env dev_env_real = { "/sys", "/dev" };

/* ---- queries ---- */

/* A kernel disk name: what the host may put after "/dev/". */
static bool disk_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

int dev_query_blk_pci(const char *pcipath, struct dev_query *q, struct kerr *err)
{
	memset(q, 0, sizeof(*q));
	q->kind = DEV_BLK_PCI;
	int r = pci_path_parse(pcipath, &q->pci, err);
	if (r < 0)
		return r;
	char p[64];
	pci_path_format(&q->pci, p, sizeof(p));
	snprintf(q->label, sizeof(q->label), "blk device at PCI path %s", p);
	return 0;
}

int dev_query_scsi(const char *addr, struct dev_query *q, struct kerr *err)
{
	memset(q, 0, sizeof(*q));
	q->kind = DEV_SCSI;
	unsigned id, lun;
	int end = 0;
	if (!addr || sscanf(addr, "%5u:%5u%n", &id, &lun, &end) != 2 || addr[end] ||
	    addr[0] < '0' || addr[0] > '9' || id > 65535 || lun > 65535)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "SCSI address \"%.64s\" is not target:lun",
				       addr ? addr : "");
	q->scsi_id = id;
	q->scsi_lun = lun;
	snprintf(q->label, sizeof(q->label), "scsi device %u:%u", id, lun);
	return 0;
}

int dev_query_named(enum dev_kind kind, const char *devpath, struct dev_query *q, struct kerr *err)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	const char *what = kind == DEV_PMEM ? "nvdimm" : "mmioblk";
	if (!devpath || strncmp(devpath, "/dev/", 5) || !disk_name_ok(devpath + 5) ||
	    (kind == DEV_PMEM && strncmp(devpath + 5, "pmem", 4)))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s device \"%.64s\" is not /dev/<disk name>%s", what,
				       devpath ? devpath : "", kind == DEV_PMEM ? " (pmemN)" : "");
	snprintf(q->name, sizeof(q->name), "%s", devpath + 5);
	snprintf(q->label, sizeof(q->label), "%s device %s", what, devpath);
	return 0;
}

int dev_query_add_vfio_fn(struct dev_query *q, const char *option, struct kerr *err)
{
	const char *eq = option ? strchr(option, '=') : NULL;
	if (!eq || strchr(eq + 1, '='))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "VFIO option \"%.64s\" is not <host PCI address>=<guest PCI "
				       "path>",
				       option ? option : "");
	if (q->n_fn >= DEV_VFIO_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "more than %d PCI functions in one VFIO device",
				       DEV_VFIO_MAX);
	char host[32];
	snprintf(host, sizeof(host), "%.*s", (int)(eq - option < 31 ? eq - option : 31), option);
	int r = pci_addr_parse(host, &q->host[q->n_fn], err);
	if (r >= 0)
		r = pci_path_parse(eq + 1, &q->guest[q->n_fn], err);
	if (r < 0)
		return kerr_prefix(err, "VFIO option \"%.64s\"", option);
	q->n_fn++;
	return 0;
}

int dev_query_from_storage(const char *driver, const char *source, struct dev_query *q,
			   struct kerr *err)
{
	const char *d = driver ? driver : "";
	if (!strcmp(d, "blk")) {
		if (source && source[0] == '/')
			return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
					       "blk storage source \"%.64s\": a device is named by its "
					       "PCI path, never by a /dev path the host chose",
					       source);
		return dev_query_blk_pci(source, q, err) < 0 ? err->code : 1;
	}
	if (!strcmp(d, "mmioblk"))
		return dev_query_named(DEV_BLK_MMIO, source, q, err) < 0 ? err->code : 1;
	if (!strcmp(d, "nvdimm"))
		return dev_query_named(DEV_PMEM, source, q, err) < 0 ? err->code : 1;
	if (!strcmp(d, "scsi"))
		return dev_query_scsi(source, q, err) < 0 ? err->code : 1;
	return 0;
}

bool dev_query_same(const struct dev_query *a, const struct dev_query *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case DEV_BLK_PCI:
		return pci_path_eq(&a->pci, &b->pci);
	case DEV_BLK_MMIO:
	case DEV_PMEM:
		return !strcmp(a->name, b->name);
	case DEV_SCSI:
		return a->scsi_id == b->scsi_id && a->scsi_lun == b->scsi_lun;
	case DEV_VFIO:
	case DEV_PCI_GK:
		if (a->n_fn != b->n_fn)
			return false;
		for (unsigned i = 0; i < a->n_fn; i++)
			if (!pci_addr_eq(&a->host[i], &b->host[i]) ||
			    !pci_path_eq(&a->guest[i], &b->guest[i]))
				return false;
		return true;
	}
	return false;
}

/* ---- sysfs ---- */

static int open_root(const char *path, struct kerr *err)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "open %s: %s", path,
				       strerror(errno));
	return fd;
}

/* Read a small sysfs attribute below dirfd; -errno. */
static int read_attr(int dirfd, const char *rel, uint64_t resolve, char *buf, size_t len)
{
	cleanup_close int fd = sys_openat2(dirfd, rel, O_RDONLY | O_CLOEXEC, resolve);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* "MAJ:MIN\n" of the device directory rel (below sysfs). */
static int read_devnum(int sysfd, const char *rel, dev_t *out, struct kerr *err)
{
	char p[PATH_MAX], buf[32];
	snprintf(p, sizeof(p), "%s/dev", rel);
	int r = read_attr(sysfd, p, RESOLVE_SYSDEV, buf, sizeof(buf));
	if (r < 0)
		return r == -ENOENT ? r : kerr_set(err, r, "/sys/%s: %s", p, strerror(-r));
	unsigned ma, mi;
	int end = 0;
	if (sscanf(buf, "%u:%u%n", &ma, &mi, &end) != 2 || (buf[end] && buf[end] != '\n'))
		return kerr_set(err, -EINVAL, "/sys/%s holds \"%.20s\", not MAJ:MIN", p, buf);
	*out = makedev(ma, mi);
	return 0;
}

/* The kernel's disk names are plain; anything else in sysfs is not ours. */
static bool sysfs_name_ok(const char *s)
{
	return s[0] && s[0] != '.' && strlen(s) < 32 && !strchr(s, '/');
}

/* The first disk of "<dir>/block": its name into name. */
static int block_child(int sysfd, const char *dir, char *name, size_t len)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/block", dir);
	cleanup_closedir DIR *d = sysfs_opendir(sysfd, p);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d)))
		if (sysfs_name_ok(de->d_name)) {
			size_t n = strlen(de->d_name);
			if (n >= len)
				return -ENAMETOOLONG;
			memcpy(name, de->d_name, n + 1);
			return 0;
		}
	return -ENOENT;
}

/* virtio-blk behind the PCI function at dir: "<dir>/virtioN/block/<disk>". */
static int blk_pci_disk(int sysfd, const char *dir, struct dev_found *f)
{
	cleanup_closedir DIR *d = sysfs_opendir(sysfd, dir);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "virtio", 6) || !de->d_name[6] ||
		    strspn(de->d_name + 6, "0123456789") != strlen(de->d_name + 6))
			continue;
		char vdir[PATH_MAX], name[32];
		snprintf(vdir, sizeof(vdir), "%s/%s", dir, de->d_name);
		if (block_child(sysfd, vdir, name, sizeof(name)) < 0)
			continue;
		snprintf(f->devname, sizeof(f->devname), "%s", name);
		int k = snprintf(f->syspath, sizeof(f->syspath), "%s/block/%s", vdir, name);
		return k > 0 && (size_t)k < sizeof(f->syspath) ? 0 : -ENAMETOOLONG;
	}
	return -ENOENT;
}

/* class/block/<name> -> "../../devices/...": the device directory below
 * the sysfs root, checked to be a plain path below devices/. */
static int class_block_dir(int sysfd, const char *name, char *out, size_t len, struct kerr *err)
{
	char rel[64], link[PATH_MAX];
	snprintf(rel, sizeof(rel), "class/block/%s", name);
	ssize_t n = readlinkat(sysfd, rel, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? -ENOENT
				       : kerr_set(err, -errno, "/sys/%s: %s", rel, strerror(errno));
	link[n] = '\0';
	const char *p = link;
	if (strncmp(p, "../../devices/", 14) || strstr(p + 6, "/../") || strstr(p, "/./") ||
	    strstr(p, "//") || (size_t)n >= len + 6)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EINVAL,
				       "/sys/%s points to %.64s, not into /sys/devices", rel, link);
	memcpy(out, p + 6, (size_t)n - 5); /* the NUL too */
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* mmioblk: a virtio disk ("<...>/virtioN/block/<name>", not a partition,
 * not a loop or RAM disk). nvdimm: a disk of an ACPI NFIT region. */
static int named_disk(int sysfd, const struct dev_query *q, struct dev_found *f, struct kerr *err)
{
	char dir[sizeof(f->syspath)];
	int r = class_block_dir(sysfd, q->name, dir, sizeof(dir), err);
	if (r < 0)
		return r;
	char suffix[48];
	snprintf(suffix, sizeof(suffix), "/block/%s", q->name);
	bool ok = ends_with(dir, suffix);
	if (ok && q->kind == DEV_BLK_MMIO) {
		const char *v = dir + strlen(dir) - strlen(suffix);
		while (v > dir && v[-1] >= '0' && v[-1] <= '9')
			v--;
		ok = v - dir >= 7 && !strncmp(v - 7, "/virtio", 7) && v[0] != '/';
	} else if (ok) {
		ok = !strncmp(dir, "devices/LNXSYSTM", 16);
	}
	if (!ok)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EINVAL,
				       "%s: /dev/%s is not a %s (/sys/%.128s)", q->label, q->name,
				       q->kind == DEV_PMEM ? "pmem disk of an NVDIMM region"
							   : "virtio disk",
				       dir);
	snprintf(f->devname, sizeof(f->devname), "%s", q->name);
	snprintf(f->syspath, sizeof(f->syspath), "%s", dir);
	return 0;
}

/* Ask every SCSI host to look for target:lun on channel 0, as upstream's
 * scan_scsi_bus; a host that refuses is only logged. */
static void scsi_scan(int sysfd, const struct dev_query *q)
{
	cleanup_closedir DIR *d = sysfs_opendir(sysfd, "class/scsi_host");
	if (!d)
		return;
	char line[32];
	int len = snprintf(line, sizeof(line), "0 %u %u", q->scsi_id, q->scsi_lun);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "host", 4) || !sysfs_name_ok(de->d_name))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "class/scsi_host/%s/scan", de->d_name);
		cleanup_close int s = sys_openat2(sysfd, p, O_WRONLY | O_CLOEXEC, RESOLVE_SYSFS);
		if (s < 0 || write(s, line, (size_t)len) != len)
			log_debug("%s: scan %s: %s", q->label, p, strerror(errno));
	}
}

/* The disk at H:0:T:L on any SCSI host; two of them is an error. */
static int scsi_disk(int sysfd, const struct dev_query *q, struct dev_found *f, struct kerr *err)
{
	cleanup_closedir DIR *d = sysfs_opendir(sysfd, "bus/scsi/devices");
	if (!d)
		return -ENOENT;
	int found = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned h, c, t, l;
		int end = 0;
		if (sscanf(de->d_name, "%u:%u:%u:%u%n", &h, &c, &t, &l, &end) != 4 ||
		    de->d_name[end] || c != 0 || t != q->scsi_id || l != q->scsi_lun)
			continue;
		/* The entry is a symlink into devices/: resolve it in sysfs. */
		char rel[sizeof(de->d_name) + 20], link[PATH_MAX], name[32];
		snprintf(rel, sizeof(rel), "bus/scsi/devices/%s", de->d_name);
		ssize_t n = readlinkat(sysfd, rel, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "../../../devices/", 17) || strstr(link + 9, "/../"))
			continue;
		if (block_child(sysfd, link + 9, name, sizeof(name)) < 0)
			continue;
		if (found++)
			return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EEXIST,
					       "%s: more than one SCSI host has a disk there",
					       q->label);
		snprintf(f->devname, sizeof(f->devname), "%s", name);
		snprintf(f->syspath, sizeof(f->syspath), "%.200s/block/%s", link + 9, name);
	}
	return found ? 0 : -ENOENT;
}

static int probe_block(int sysfd, const struct dev_query *q, struct dev_found *f, struct kerr *err)
{
	int r;
	if (q->kind == DEV_BLK_PCI) {
		cleanup_close int devs = sys_openat2(sysfd, "devices",
						     O_PATH | O_DIRECTORY | O_CLOEXEC,
						     RESOLVE_SYSDEV);
		char dir[PCI_SYSFS_MAX];
		struct kerr pe = { 0 };
		if (devs < 0)
			return kerr_set(err, -errno, "sysfs devices: %s", strerror(errno));
		r = pci_path_to_sysfs(devs, &q->pci, dir, sizeof(dir), NULL, &pe);
		if (r == -ENOENT)
			return r;
		if (r < 0) {
			*err = pe;
			return kerr_prefix(err, "%s", q->label);
		}
		r = blk_pci_disk(sysfd, dir, f);
	} else if (q->kind == DEV_SCSI) {
		if (!f->scsi_scanned) {
			f->scsi_scanned = true;
			scsi_scan(sysfd, q);
		}
		r = scsi_disk(sysfd, q, f, err);
	} else {
		r = named_disk(sysfd, q, f, err);
	}
	if (r < 0)
		return r;
	f->block = true;
	return 0;
}

/* A disk is in sysfs and /dev before the kernel lets it be opened (sd
 * and virtio-blk announce it, with its add uevent, only once it is): until
 * it opens, it is "not yet". Opening it read-only, as udev does for every
 * disk, is all the probe does to it. */
static int disk_live(int node, const struct dev_found *f, struct kerr *err)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", node);
	int fd = open(p, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == ENXIO || errno == ENODEV || errno == ENOMEDIUM)
		return 0;
	return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -errno, "open /dev/%s: %s",
			       f->devname, strerror(errno));
}

int dev_probe(const struct dev_env *env, const struct dev_query *q, struct dev_found *f,
	      struct kerr *err)
{
	cleanup_close int sysfd = open_root(env->sysfs, err);
	if (sysfd < 0)
		return sysfd;
	int r;
	if (q->kind == DEV_VFIO || q->kind == DEV_PCI_GK)
		r = vfio_probe(env, sysfd, q, f, err);
	else
		r = probe_block(sysfd, q, f, err);
	if (r == 0 && q->kind != DEV_PCI_GK)
		r = read_devnum(sysfd, f->syspath, &f->rdev, err);
	if (r == -ENOENT)
		return 0; /* not (all) there yet */
	if (r < 0)
		return r;
	if (q->kind == DEV_PCI_GK)
		return 1;
	/* devtmpfs makes the node before the add uevent but after the sysfs
	 * directory: without a node yet, wait for the uevent. */
	cleanup_close int node = dev_node_open(env, f, err);
	if (node == -ENOENT)
		return 0;
	if (node < 0)
		return node;
	return f->block ? disk_live(node, f, err) : 1;
}

bool dev_uevent_concerns(const struct dev_query *q, const struct uevent *ev)
{
	bool add = !strcmp(ev->action, "add") || !strcmp(ev->action, "change") ||
		   !strcmp(ev->action, "bind");
	if (!add)
		return false;
	switch (q->kind) {
	case DEV_BLK_PCI:
	case DEV_BLK_MMIO:
	case DEV_SCSI:
	case DEV_PMEM:
		return !strcmp(ev->subsystem, "block");
	case DEV_VFIO:
		return !strcmp(ev->subsystem, "pci") || !strcmp(ev->subsystem, "vfio");
	case DEV_PCI_GK:
		return !strcmp(ev->subsystem, "pci");
	}
	return false;
}

int dev_node_open(const struct dev_env *env, const struct dev_found *f, struct kerr *err)
{
	cleanup_close int devfd = open_root(env->dev, err);
	if (devfd < 0)
		return devfd;
	cleanup_close int fd = sys_openat2(devfd, f->devname, O_PATH | O_NOFOLLOW | O_CLOEXEC,
					   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
						   RESOLVE_NO_MAGICLINKS);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return -ENOENT;
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -e, "%s/%s: %s", env->dev,
				       f->devname, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kerr_set(err, -errno, "%s/%s: %s", env->dev, f->devname, strerror(errno));
	bool type_ok = f->block ? S_ISBLK(st.st_mode) : S_ISCHR(st.st_mode);
	if (!type_ok || st.st_rdev != f->rdev)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENODEV,
				       "%s/%s is not the %s device %u:%u the kernel announced",
				       env->dev, f->devname, f->block ? "block" : "char",
				       major(f->rdev), minor(f->rdev));
	return take_fd(&fd);
}

int dev_memory_online(const struct dev_env *env, const struct uevent *ev, struct kerr *err)
{
	static const char prefix[] = "/devices/system/memory/memory";
	const char *num = ev->devpath + sizeof(prefix) - 1;
	if (strcmp(ev->subsystem, "memory") || strcmp(ev->action, "add") ||
	    strncmp(ev->devpath, prefix, sizeof(prefix) - 1) || !*num ||
	    strspn(num, "0123456789") != strlen(num) || strlen(num) > 10)
		return 0;
	cleanup_close int sysfd = open_root(env->sysfs, err);
	if (sysfd < 0)
		return sysfd;
	char rel[96];
	snprintf(rel, sizeof(rel), "%s/online", ev->devpath + 1);
	cleanup_close int fd = sys_openat2(sysfd, rel, O_RDWR | O_CLOEXEC, RESOLVE_SYSDEV);
	char c = 0;
	if (fd < 0 || pread(fd, &c, 1, 0) != 1)
		return kerr_set(err, -errno, "/sys/%s: %s", rel, strerror(errno));
	if (c != '0')
		return 0;
	if (pwrite(fd, "1", 1, 0) != 1)
		return kerr_set(err, -errno, "online memory block %s: %s", num, strerror(errno));
	return 1;
}
