/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_devices.c - the executor's device layer (agentd/executor/devices/)
 * on fake sysfs and /dev trees: uevent parsing, PCI paths and their sysfs
 * directories, finding blk/mmioblk/scsi/nvdimm disks and VFIO groups, the
 * node checks (a symlink, a char device, another major:minor: refused),
 * memory blocks onlined from uevents, a batch that waits for a uevent and
 * one that times out while the loop keeps running, and the spec rewritten
 * for the guest's devices. Device nodes need root (mknod) and a private
 * tmpfs for the fake /dev (/tmp may be nodev): without them those checks
 * are skipped. A disk that "is there" must open: the fake nodes carry the
 * numbers of loop devices (7:1..7:6).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "container_devices.h"
#include "grpc_status.h"
#include "hotplug.h"
#include "loop.h"
#include "pci.h"
#include "probe.h"
#include "spec_devices.h"
#include "uevent.h"
#include "vfio.h"
#include "tap.h"
#include "testutil.h"

static char base[128], sys_root[192], dev_root[192];
static struct dev_env env;

static const char *at(const char *root, const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *o = bufs[i++ % 8];
	char rel[PATH_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(o, PATH_MAX, "%s/%s", root, rel);
	return o;
}

static void link_to(const char *target, const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	tu_mkdirs(dir);
	unlink(path);
	if (symlink(target, path) < 0)
		printf("# symlink %s: %s\n", path, strerror(errno));
}

static bool node(const char *name, mode_t type, unsigned ma, unsigned mi)
{
	const char *p = at(dev_root, "%s", name);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = '\0';
	tu_mkdirs(dir);
	unlink(p);
	return mknod(p, type | 0600, makedev(ma, mi)) == 0;
}

static void reset_trees(void)
{
	umount2(dev_root, MNT_DETACH);
	if (tu_rm_rf(sys_root) < 0 || tu_rm_rf(dev_root) < 0)
		printf("# rm -rf %s/sys %s/dev failed\n", base, base);
	tu_mkdirs(sys_root);
	tu_mkdirs(dev_root);
	if (geteuid() == 0 && mount("tmpfs", dev_root, "tmpfs", 0, "mode=0755") < 0)
		printf("# tmpfs on %s: %s\n", dev_root, strerror(errno));
}

/* A virtio-blk disk behind the root port in slot 2 (bus 1, slot 0). */
static void fake_blk_pci(const char *name, const char *devnum)
{
	const char *port = "devices/pci0000:00/0000:00:02.0";
	tu_mkdirs(at(sys_root, "%s/pci_bus/0000:01", port));
	tu_put_path(at(sys_root, "%s/0000:01:00.0/virtio3/block/%s/dev", port, name), devnum);
}

/* ---- uevents ---- */

static size_t msg(char *buf, const char *const *fields)
{
	size_t o = 0;
	for (; *fields; fields++) {
		size_t l = strlen(*fields) + 1;
		memcpy(buf + o, *fields, l);
		o += l;
	}
	return o;
}

TEST(uevent_parse)
{
	char buf[1024];
	struct uevent ev;
	struct kerr e = { 0 };
	const char *ok[] = {
		"add@/devices/pci0000:00/0000:00:02.0/0000:01:00.0/virtio3/block/vda",
		"ACTION=add",
		"DEVPATH=/devices/pci0000:00/0000:00:02.0/0000:01:00.0/virtio3/block/vda",
		"SUBSYSTEM=block",
		"MAJOR=254",
		"MINOR=0",
		"DEVNAME=vda",
		"DEVTYPE=disk",
		"SEQNUM=2048",
		NULL
	};
	size_t n = msg(buf, ok);
	REQUIRE(uevent_parse(buf, n, &ev, &e) == 0);
	CHECK_EQ_STR(ev.action, "add");
	CHECK_EQ_STR(ev.subsystem, "block");
	CHECK_EQ_STR(ev.devname, "vda");
	CHECK_EQ_STR(ev.devtype, "disk");
	CHECK_EQ_INT(ev.major, 254);
	CHECK_EQ_INT(ev.minor, 0);
	CHECK_EQ_INT(ev.seqnum, 2048);
	/* no device number: -1 */
	const char *mem[] = { "add@/devices/system/memory/memory40", "ACTION=add",
			      "DEVPATH=/devices/system/memory/memory40", "SUBSYSTEM=memory", NULL };
	n = msg(buf, mem);
	REQUIRE(uevent_parse(buf, n, &ev, &e) == 0);
	CHECK_EQ_INT(ev.major, -1);
	CHECK_EQ_STR(ev.devname, "");

	const char *bad[][6] = {
		{ "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=block", NULL },     /* no header */
		{ "add@/devices/x", "DEVPATH=/devices/x", "SUBSYSTEM=block", NULL }, /* no ACTION */
		{ "add@/x", "ACTION=add", "DEVPATH=/devices/../etc", "SUBSYSTEM=block", NULL },
		{ "add@/x", "ACTION=add", "DEVPATH=/etc/passwd", "SUBSYSTEM=block", NULL },
		{ "add@/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=block",
		  "DEVNAME=/etc/shadow", NULL },
		{ "add@/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=block", "DEVNAME=../sda",
		  NULL },
		{ "add@/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=block", "MAJOR=8", NULL },
		{ "add@/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=block", "MAJOR=8x",
		  NULL },
		{ "add@/x", "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=block", "MAJOR=99999",
		  NULL },
		{ "add@/x", "ACTIONNNNNNNNNNNNNNN=add", "ACTION=addddddddddddddddddd",
		  "DEVPATH=/devices/x", "SUBSYSTEM=block", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = msg(buf, bad[i]);
		kerr_clear(&e);
		if (uevent_parse(buf, n, &ev, &e) == 0) {
			printf("# bad message %zu parsed\n", i);
			CHECK(0);
		}
	}
	/* a field without its NUL at the end of the buffer */
	n = msg(buf, ok);
	CHECK(uevent_parse(buf, n - 1, &ev, &e) < 0);
}

/* ---- PCI ---- */

TEST(pci_path_parse)
{
	struct pci_path p;
	struct kerr e = { 0 };
	char out[64];
	REQUIRE(pci_path_parse("02/00", &p, &e) == 0);
	CHECK_EQ_INT(p.n, 2);
	CHECK_EQ_INT(p.root, 0);
	CHECK_EQ_INT(p.slot[0], 2);
	CHECK_EQ_INT(p.slot[1], 0);
	pci_path_format(&p, out, sizeof(out));
	CHECK_EQ_STR(out, "02/00");
	REQUIRE(pci_path_parse("1f.7", &p, &e) == 0);
	CHECK_EQ_INT(p.slot[0], 31);
	CHECK_EQ_INT(p.fn[0], 7);
	/* upstream's NUMA form: a pxb-pcie root complex first */
	REQUIRE(pci_path_parse("20/00/02", &p, &e) == 0);
	CHECK_EQ_INT(p.root, 0x20);
	CHECK_EQ_INT(p.n, 2);
	pci_path_format(&p, out, sizeof(out));
	CHECK_EQ_STR(out, "20/00/02");
	/* "02/00/01" stays on root bus 0 (OVMF q35 nesting) */
	REQUIRE(pci_path_parse("02/00/01", &p, &e) == 0);
	CHECK_EQ_INT(p.root, 0);
	CHECK_EQ_INT(p.n, 3);
	const char *bad[] = { "",
			      "..",
			      "02/..",
			      "02/../../..",
			      "/02",
			      "02/",
			      "02//00",
			      "20",
			      "20/00",
			      "xx",
			      "02/00.8",
			      "100",
			      "02 ",
			      "0000:00:02.0",
			      "1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kerr_clear(&e);
		int r = pci_path_parse(bad[i], &p, &e);
		if (r == 0)
			printf("# \"%s\" parsed\n", bad[i]);
		CHECK(r < 0 && e.status == GRPC_INVALID_ARGUMENT);
	}
	struct pci_addr a;
	REQUIRE(pci_addr_parse("0000:3b:1f.7", &a, &e) == 0);
	CHECK(a.bus == 0x3b && a.slot == 31 && a.fn == 7);
	CHECK(pci_addr_parse("0000:3b:20.0", &a, &e) < 0);
	CHECK(pci_addr_parse("0000:3b", &a, &e) < 0);
	CHECK(pci_addr_parse("0000:3b:00.0:1", &a, &e) < 0);
	uint32_t slots[] = { 2, 0 };
	REQUIRE(pci_path_from_slots(slots, 2, &p, &e) == 0);
	CHECK(p.n == 2 && p.slot[0] == 2);
	uint32_t big[] = { 32 };
	CHECK(pci_path_from_slots(big, 1, &p, &e) < 0);
	CHECK(pci_path_from_slots(slots, 0, &p, &e) < 0);
}

TEST(pci_path_to_sysfs)
{
	reset_trees();
	struct pci_path p;
	struct kerr e = { 0 };
	char out[PCI_SYSFS_MAX];
	struct pci_addr a;
	int devs = open(at(sys_root, "devices"), O_PATH | O_DIRECTORY);
	tu_mkdirs(at(sys_root, "devices"));
	if (devs < 0)
		devs = open(at(sys_root, "devices"), O_PATH | O_DIRECTORY);
	REQUIRE(devs >= 0);
	REQUIRE(pci_path_parse("02/00", &p, &e) == 0);
	/* nothing there yet: ENOENT, not an error */
	CHECK(pci_path_to_sysfs(devs, &p, out, sizeof(out), &a, &e) == -ENOENT);
	tu_mkdirs(at(sys_root, "devices/pci0000:00/0000:00:02.0/pci_bus/0000:01"));
	CHECK(pci_path_to_sysfs(devs, &p, out, sizeof(out), &a, &e) == -ENOENT);
	tu_mkdirs(at(sys_root, "devices/pci0000:00/0000:00:02.0/0000:01:00.0"));
	REQUIRE(pci_path_to_sysfs(devs, &p, out, sizeof(out), &a, &e) == 0);
	CHECK_EQ_STR(out, "devices/pci0000:00/0000:00:02.0/0000:01:00.0");
	CHECK(a.bus == 1 && a.slot == 0);
	/* a bridge without pci_bus: the bus of its children (upstream's fallback) */
	tu_mkdirs(at(sys_root, "devices/pci0000:00/0000:00:03.0/0000:05:01.0"));
	REQUIRE(pci_path_parse("03/01", &p, &e) == 0);
	REQUIRE(pci_path_to_sysfs(devs, &p, out, sizeof(out), &a, &e) == 0);
	CHECK_EQ_STR(out, "devices/pci0000:00/0000:00:03.0/0000:05:01.0");
	/* children on two buses: which one is meant cannot be told */
	tu_mkdirs(at(sys_root, "devices/pci0000:00/0000:00:03.0/0000:06:00.0"));
	kerr_clear(&e);
	CHECK(pci_path_to_sysfs(devs, &p, out, sizeof(out), &a, &e) < 0 &&
	      e.status == GRPC_FAILED_PRECONDITION);
	/* a symlink where a device directory should be is not followed */
	tu_mkdirs(at(sys_root, "elsewhere/0000:07:00.0"));
	tu_mkdirs(at(sys_root, "devices/pci0000:00/0000:00:04.0/pci_bus/0000:07"));
	link_to("../../../elsewhere/0000:07:00.0",
		at(sys_root, "devices/pci0000:00/0000:00:04.0/0000:07:00.0"));
	REQUIRE(pci_path_parse("04/00", &p, &e) == 0);
	kerr_clear(&e);
	CHECK(pci_path_to_sysfs(devs, &p, out, sizeof(out), &a, &e) < 0 &&
	      e.status == GRPC_INTERNAL);
	/* the pxb-pcie root complex's bus number starts the walk */
	tu_mkdirs(at(sys_root, "devices/pci0000:20/0000:20:00.0/0000:21:02.0"));
	REQUIRE(pci_path_parse("20/00/02", &p, &e) == 0);
	REQUIRE(pci_path_to_sysfs(devs, &p, out, sizeof(out), &a, &e) == 0);
	CHECK_EQ_STR(out, "devices/pci0000:20/0000:20:00.0/0000:21:02.0");
	close(devs);
}

/* ---- finding disks ---- */

TEST(probe_blk_pci)
{
	reset_trees();
	if (geteuid() != 0)
		SKIP("device nodes need root (mknod)");
	struct dev_query q;
	struct dev_found f = { 0 };
	struct kerr e = { 0 };
	REQUIRE(dev_query_blk_pci("02/00", &q, &e) == 0);
	CHECK_EQ_STR(q.label, "blk device at PCI path 02/00");
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0); /* not there */
	fake_blk_pci("vdb", "254:16\n");
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0); /* sysfs, but no node yet */
	/* a disk the kernel has not made live yet (no such device behind
	 * 254:16 here): it cannot be opened, so it is "not yet" */
	REQUIRE(node("vdb", S_IFBLK, 254, 16));
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0);
	/* the disk live: loop1 stands for it */
	fake_blk_pci("vdb", "7:1\n");
	REQUIRE(node("vdb", S_IFBLK, 7, 1));
	REQUIRE(dev_probe(&env, &q, &f, &e) == 1);
	CHECK_EQ_STR(f.devname, "vdb");
	CHECK(f.block && major(f.rdev) == 7 && minor(f.rdev) == 1);
	CHECK_EQ_STR(f.syspath, "devices/pci0000:00/0000:00:02.0/0000:01:00.0/virtio3/block/vdb");
	int fd = dev_node_open(&env, &f, &e);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	/* the node at the kernel's name is another device: refused */
	REQUIRE(node("vdb", S_IFBLK, 8, 0));
	kerr_clear(&e);
	CHECK(dev_probe(&env, &q, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
	CHECK(strstr(e.msg, "not the block device 7:1") != NULL);
	/* a char device with the right numbers: refused */
	REQUIRE(node("vdb", S_IFCHR, 7, 1));
	kerr_clear(&e);
	CHECK(dev_node_open(&env, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
	/* a symlink to the right device: refused (never followed) */
	REQUIRE(node("real", S_IFBLK, 7, 1));
	unlink(at(dev_root, "vdb"));
	CHECK(symlink("real", at(dev_root, "vdb")) == 0);
	kerr_clear(&e);
	CHECK(dev_node_open(&env, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
}

TEST(probe_named_disks)
{
	reset_trees();
	if (geteuid() != 0)
		SKIP("device nodes need root (mknod)");
	struct dev_query q;
	struct dev_found f = { 0 };
	struct kerr e = { 0 };
	/* mmioblk: a virtio disk by the name the host predicted */
	tu_put_path(at(sys_root, "devices/platform/virtio-mmio.0/virtio0/block/vda/dev"), "7:2\n");
	link_to("../../devices/platform/virtio-mmio.0/virtio0/block/vda",
		at(sys_root, "class/block/vda"));
	tu_put_path(at(sys_root, "devices/platform/virtio-mmio.0/virtio0/block/vda/vda1/dev"),
		    "254:1\n");
	link_to("../../devices/platform/virtio-mmio.0/virtio0/block/vda/vda1",
		at(sys_root, "class/block/vda1"));
	tu_put_path(at(sys_root, "devices/virtual/block/loop0/dev"), "7:0\n");
	link_to("../../devices/virtual/block/loop0", at(sys_root, "class/block/loop0"));
	REQUIRE(node("vda", S_IFBLK, 7, 2));
	REQUIRE(node("vda1", S_IFBLK, 254, 1));
	REQUIRE(node("loop0", S_IFBLK, 7, 0));
	REQUIRE(dev_query_named(DEV_BLK_MMIO, "/dev/vda", &q, &e) == 0);
	REQUIRE(dev_probe(&env, &q, &f, &e) == 1);
	CHECK(major(f.rdev) == 7 && minor(f.rdev) == 2);
	/* a partition, a loop device: not a virtio disk */
	REQUIRE(dev_query_named(DEV_BLK_MMIO, "/dev/vda1", &q, &e) == 0);
	memset(&f, 0, sizeof(f));
	kerr_clear(&e);
	CHECK(dev_probe(&env, &q, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
	REQUIRE(dev_query_named(DEV_BLK_MMIO, "/dev/loop0", &q, &e) == 0);
	kerr_clear(&e);
	CHECK(dev_probe(&env, &q, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
	/* names the host cannot use */
	const char *bad[] = { "/dev/../etc/passwd", "/dev/mapper/x", "vda",      "/dev/",
			      "/dev/VDA",           "/devx/vda",     "/dev/vda/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kerr_clear(&e);
		CHECK(dev_query_named(DEV_BLK_MMIO, bad[i], &q, &e) < 0 &&
		      e.status == GRPC_INVALID_ARGUMENT);
	}
	/* nvdimm: a pmem disk of an ACPI NFIT region */
	const char *pm = "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/namespace0.0"
			 "/block/pmem0";
	tu_put_path(at(sys_root, "%s/dev", pm), "7:4\n");
	link_to(at("../..", "%s", pm), at(sys_root, "class/block/pmem0"));
	REQUIRE(node("pmem0", S_IFBLK, 7, 4));
	REQUIRE(dev_query_named(DEV_PMEM, "/dev/pmem0", &q, &e) == 0);
	memset(&f, 0, sizeof(f));
	REQUIRE(dev_probe(&env, &q, &f, &e) == 1);
	CHECK(major(f.rdev) == 7 && minor(f.rdev) == 4);
	/* the virtio disk is no pmem disk, "vda" no pmem name */
	kerr_clear(&e);
	CHECK(dev_query_named(DEV_PMEM, "/dev/vda", &q, &e) < 0);
	tu_put_path(at(sys_root,
		       "devices/platform/e820_pmem/ndbus1/region1/namespace1.0/block/pmem1/dev"),
		    "259:1\n");
	link_to("../../devices/platform/e820_pmem/ndbus1/region1/namespace1.0/block/pmem1",
		at(sys_root, "class/block/pmem1"));
	REQUIRE(dev_query_named(DEV_PMEM, "/dev/pmem1", &q, &e) == 0);
	memset(&f, 0, sizeof(f));
	kerr_clear(&e);
	CHECK(dev_probe(&env, &q, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
	/* not there at all: "not yet" */
	REQUIRE(dev_query_named(DEV_PMEM, "/dev/pmem7", &q, &e) == 0);
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0);
}

TEST(probe_scsi)
{
	reset_trees();
	if (geteuid() != 0)
		SKIP("device nodes need root (mknod)");
	struct dev_query q;
	struct dev_found f = { 0 };
	struct kerr e = { 0 };
	const char *host = "devices/pci0000:00/0000:00:03.0/virtio1/host0";
	tu_put_path(at(sys_root, "%s/scsi_host/host0/scan", host), "");
	link_to("../../devices/pci0000:00/0000:00:03.0/virtio1/host0/scsi_host/host0",
		at(sys_root, "class/scsi_host/host0"));
	REQUIRE(dev_query_scsi("1:2", &q, &e) == 0);
	CHECK_EQ_STR(q.label, "scsi device 1:2");
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0);
	/* the first probe asked the host to scan for channel 0, target 1, lun 2 */
	CHECK_EQ_STR(tu_peek_file(at(sys_root, "%s/scsi_host/host0/scan", host)), "0 1 2");
	tu_put_path(at(sys_root, "%s/target0:0:1/0:0:1:2/block/sdb/dev", host), "7:6\n");
	link_to("../../../devices/pci0000:00/0000:00:03.0/virtio1/host0/target0:0:1/0:0:1:2",
		at(sys_root, "bus/scsi/devices/0:0:1:2"));
	/* another target and lun on the same host are not it */
	tu_put_path(at(sys_root, "%s/target0:0:2/0:0:2:1/block/sda/dev", host), "8:0\n");
	link_to("../../../devices/pci0000:00/0000:00:03.0/virtio1/host0/target0:0:2/0:0:2:1",
		at(sys_root, "bus/scsi/devices/0:0:2:1"));
	REQUIRE(node("sdb", S_IFBLK, 7, 6));
	REQUIRE(dev_probe(&env, &q, &f, &e) == 1);
	CHECK_EQ_STR(f.devname, "sdb");
	CHECK(major(f.rdev) == 7 && minor(f.rdev) == 6);
	/* the same address on a second host: ambiguous */
	tu_put_path(at(sys_root,
		       "devices/pci0000:00/0000:00:04.0/virtio2/host1/target1:0:1/1:0:1:2/block/"
		       "sdc/dev"),
		    "8:32\n");
	link_to("../../../devices/pci0000:00/0000:00:04.0/virtio2/host1/target1:0:1/1:0:1:2",
		at(sys_root, "bus/scsi/devices/1:0:1:2"));
	kerr_clear(&e);
	CHECK(dev_probe(&env, &q, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
	const char *bad[] = { "1", "1:2:3", "a:b", "-1:0", "1:2 ", "", "99999999:0" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kerr_clear(&e);
		CHECK(dev_query_scsi(bad[i], &q, &e) < 0 && e.status == GRPC_INVALID_ARGUMENT);
	}
}

/* A PCI function at 02/00 (bus 1), in IOMMU group 7 unless group < 0,
 * driven by driver (NULL: none). */
static void fake_vfio_fn(unsigned slot, int group, const char *driver)
{
	const char *dir = at(sys_root, "devices/pci0000:00/0000:00:02.0/0000:01:%02x.0", slot);
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", dir);
	tu_mkdirs(at(sys_root, "devices/pci0000:00/0000:00:02.0/pci_bus/0000:01"));
	tu_put_path(at(d, "driver_override"), "(null)\n");
	if (group >= 0) {
		char t[64];
		snprintf(t, sizeof(t), "../../../../kernel/iommu_groups/%d", group);
		link_to(t, at(d, "iommu_group"));
	}
	if (driver) {
		char t[96];
		snprintf(t, sizeof(t), "../../../../bus/pci/drivers/%s", driver);
		link_to(t, at(d, "driver"));
		tu_put_path(at(sys_root, "bus/pci/drivers/%s/unbind", driver), "");
	}
	tu_put_path(at(sys_root, "bus/pci/drivers_probe"), "");
}

TEST(probe_vfio)
{
	reset_trees();
	if (geteuid() != 0)
		SKIP("device nodes need root (mknod)");
	struct dev_query q = { .kind = DEV_VFIO };
	struct dev_found f = { 0 };
	struct kerr e = { 0 };
	snprintf(q.label, sizeof(q.label), "vfio-pci device /dev/vfio/45");
	REQUIRE(dev_query_add_vfio_fn(&q, "0000:3b:00.0=02/00", &e) == 0);
	REQUIRE(dev_query_add_vfio_fn(&q, "0000:3b:00.1=02/01", &e) == 0);
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0);
	fake_vfio_fn(0, 7, "virtio-pci");
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0); /* the second function is missing */
	/* the second function has no IOMMU group: refused, nothing unbound */
	fake_vfio_fn(1, -1, NULL);
	kerr_clear(&e);
	CHECK(dev_probe(&env, &q, &f, &e) < 0 && e.status == GRPC_FAILED_PRECONDITION);
	CHECK(strstr(e.msg, "0000:01:01.0 has no IOMMU group") != NULL);
	char ovr[PATH_MAX];
	snprintf(ovr, sizeof(ovr), "%s/%s", sys_root,
		 "devices/pci0000:00/0000:00:02.0/0000:01:00.0/driver_override");
	char o0[64];
	snprintf(o0, sizeof(o0), "%s", tu_peek_file(ovr));
	CHECK_EQ_STR(o0, "(null)\n");
	CHECK_EQ_STR(tu_peek_file(at(sys_root, "bus/pci/drivers/virtio-pci/unbind")), "");
	/* in another group: refused too */
	fake_vfio_fn(1, 8, NULL);
	kerr_clear(&e);
	CHECK(dev_probe(&env, &q, &f, &e) < 0 && strstr(e.msg, "not in group 7") != NULL);
	/* both in group 7: handed to vfio-pci, then the group's node */
	fake_vfio_fn(1, 7, NULL);
	CHECK_EQ_INT(dev_probe(&env, &q, &f, &e), 0); /* no /dev/vfio/7 yet */
	CHECK_EQ_STR(tu_peek_file(ovr), "vfio-pci");
	CHECK_EQ_STR(tu_peek_file(at(sys_root, "bus/pci/drivers/virtio-pci/unbind")),
		     "0000:01:00.0");
	CHECK(strstr(tu_peek_file(at(sys_root, "bus/pci/drivers_probe")), "0000:01:0") != NULL);
	CHECK(f.vfio_bound);
	tu_put_path(at(sys_root, "devices/virtual/vfio/7/dev"), "241:0\n");
	REQUIRE(node("vfio/7", S_IFCHR, 241, 0));
	REQUIRE(dev_probe(&env, &q, &f, &e) == 1);
	CHECK_EQ_STR(f.devname, "vfio/7");
	CHECK(!f.block && major(f.rdev) == 241);
	CHECK(f.n_fn == 2 && f.guest[1].bus == 1 && f.guest[1].slot == 1);
	unsigned g = 0;
	CHECK(vfio_iommu_group(open(sys_root, O_PATH | O_DIRECTORY),
			       "devices/pci0000:00/0000:00:02.0/0000:01:00.0", &g, &e) == 0 &&
	      g == 7);
	/* options the runtime never sends */
	const char *bad[] = { "0000:3b:00.0", "0000:3b:00.0=02=00", "3b:00.0=02", "0000:3b:00.0=..",
			      "=02" };
	struct dev_query q2 = { .kind = DEV_VFIO };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kerr_clear(&e);
		CHECK(dev_query_add_vfio_fn(&q2, bad[i], &e) < 0 &&
		      e.status == GRPC_INVALID_ARGUMENT);
	}
}

TEST(memory_online)
{
	reset_trees();
	tu_put_path(at(sys_root, "devices/system/memory/memory40/online"), "0\n");
	struct uevent ev = { .major = -1, .minor = -1 };
	strcpy(ev.action, "add");
	strcpy(ev.subsystem, "memory");
	strcpy(ev.devpath, "/devices/system/memory/memory40");
	struct kerr e = { 0 };
	CHECK_EQ_INT(dev_memory_online(&env, &ev, &e), 1);
	CHECK(tu_peek_file(at(sys_root, "devices/system/memory/memory40/online"))[0] == '1');
	CHECK_EQ_INT(dev_memory_online(&env, &ev, &e), 0); /* online already */
	strcpy(ev.devpath, "/devices/system/memory/memory40/../../cpu/cpu1");
	CHECK_EQ_INT(dev_memory_online(&env, &ev, &e), 0);
	strcpy(ev.devpath, "/devices/system/memory/memory40");
	strcpy(ev.subsystem, "block");
	CHECK_EQ_INT(dev_memory_online(&env, &ev, &e), 0);
}

/* ---- waiting in the loop ---- */

struct waitctx {
	struct loop *l;
	int calls;
	struct kerr failure;
	bool failed;
	int ticks; /* other work done while the batch waited */
	uint64_t done_ns;
};

static void on_done(struct dev_batch *b, const struct kerr *failure, void *data)
{
	struct waitctx *w = data;
	w->calls++;
	w->failed = failure != NULL;
	if (failure)
		w->failure = *failure;
	w->done_ns = loop_now_ns();
	loop_quit(w->l);
}

static void on_tick(struct loop *l, void *data)
{
	struct waitctx *w = data;
	w->ticks++;
	if (w->calls == 0)
		loop_timer_add(l, loop_now_ns() + 20000000ull, on_tick, w);
}

static struct hotplug *hp_now;

static void plug_later(struct loop *l, void *data)
{
	(void)l;
	(void)data;
	fake_blk_pci("vdc", "7:3\n");
	node("vdc", S_IFBLK, 7, 3);
	struct uevent ev = { .major = 7, .minor = 3 };
	strcpy(ev.action, "add");
	strcpy(ev.subsystem, "block");
	strcpy(ev.devname, "vdc");
	strcpy(ev.devpath, "/devices/pci0000:00/0000:00:02.0/0000:01:00.0/virtio3/block/vdc");
	hotplug_on_uevent(hp_now, &ev);
}

TEST(batch_waits_for_a_uevent)
{
	reset_trees();
	if (geteuid() != 0)
		SKIP("device nodes need root (mknod)");
	struct waitctx w = { 0 };
	struct kerr e = { 0 };
	REQUIRE(loop_new(&w.l, &e) == 0);
	REQUIRE(hotplug_start(&hp_now, w.l, &env, 5000, &e) == 0);
	struct dev_batch *b = NULL;
	struct dev_query q;
	REQUIRE(dev_query_blk_pci("02/00", &q, &e) == 0);
	REQUIRE(dev_batch_new(hp_now, &b, &e) == 0);
	CHECK_EQ_INT(dev_batch_add(b, &q, &e), 0);
	CHECK_EQ_INT(dev_batch_add(b, &q, &e), 0); /* the same device once */
	REQUIRE(dev_batch_run(b, on_done, &w, &e) == 0);
	CHECK_EQ_INT(w.calls, 0); /* never from inside run */
	loop_timer_add(w.l, loop_now_ns() + 100000000ull, plug_later, NULL);
	loop_timer_add(w.l, 0, on_tick, &w);
	uint64_t t0 = loop_now_ns();
	REQUIRE(loop_run(w.l, &e) == 0);
	CHECK_EQ_INT(w.calls, 1);
	CHECK(!w.failed);
	CHECK(w.ticks >= 2); /* the loop kept running other work */
	CHECK(w.done_ns - t0 < 4000000000ull);
	const struct dev_found *f = dev_batch_lookup(b, &q);
	CHECK(f && !strcmp(f->devname, "vdc") && minor(f->rdev) == 3);
	dev_batch_free(b);
	hotplug_stop(hp_now);
	loop_free(w.l);
}

TEST(batch_times_out_naming_the_device)
{
	reset_trees();
	struct waitctx w = { 0 };
	struct kerr e = { 0 };
	REQUIRE(loop_new(&w.l, &e) == 0);
	struct hotplug *h = NULL;
	REQUIRE(hotplug_start(&h, w.l, &env, 300, &e) == 0);
	struct dev_batch *b = NULL;
	struct dev_query q1, q2;
	REQUIRE(dev_query_scsi("0:9", &q1, &e) == 0);
	REQUIRE(dev_query_named(DEV_PMEM, "/dev/pmem3", &q2, &e) == 0);
	REQUIRE(dev_batch_new(h, &b, &e) == 0);
	dev_batch_add(b, &q1, &e);
	dev_batch_add(b, &q2, &e);
	REQUIRE(dev_batch_run(b, on_done, &w, &e) == 0);
	loop_timer_add(w.l, 0, on_tick, &w);
	REQUIRE(loop_run(w.l, &e) == 0);
	CHECK_EQ_INT(w.calls, 1);
	CHECK(w.failed && w.failure.status == GRPC_DEADLINE_EXCEEDED);
	CHECK(strstr(w.failure.msg, "scsi device 0:9") != NULL);
	CHECK(strstr(w.failure.msg, "and other devices") != NULL);
	CHECK(w.ticks >= 2);
	dev_batch_free(b);
	/* a batch freed while it waits never calls back */
	w.calls = 0;
	REQUIRE(dev_batch_new(h, &b, &e) == 0);
	dev_batch_add(b, &q1, &e);
	REQUIRE(dev_batch_run(b, on_done, &w, &e) == 0);
	dev_batch_free(b);
	hotplug_stop(h);
	CHECK_EQ_INT(w.calls, 0);
	loop_free(w.l);
}

/* ---- the spec ---- */

static Grpc__LinuxDevice *spec_dev(const char *path, const char *type, int64_t ma, int64_t mi)
{
	Grpc__LinuxDevice *d = calloc(1, sizeof(*d));
	grpc__linux_device__init(d);
	d->path = strdup(path);
	d->type = strdup(type);
	d->major = ma;
	d->minor = mi;
	return d;
}

static Grpc__LinuxDeviceCgroup *spec_rule(bool allow, const char *type, int64_t ma, int64_t mi)
{
	Grpc__LinuxDeviceCgroup *r = calloc(1, sizeof(*r));
	grpc__linux_device_cgroup__init(r);
	r->allow = allow;
	r->type = strdup(type);
	r->major = ma;
	r->minor = mi;
	r->access = strdup("rw");
	return r;
}

static Grpc__Spec *spec_with_devices(void)
{
	Grpc__Spec *s = calloc(1, sizeof(*s));
	grpc__spec__init(s);
	s->linux = calloc(1, sizeof(*s->linux));
	grpc__linux__init(s->linux);
	s->linux->n_devices = 2;
	s->linux->devices = calloc(2, sizeof(*s->linux->devices));
	s->linux->devices[0] = spec_dev("/dev/xda", "b", 8, 0);
	s->linux->devices[1] = spec_dev("/dev/vfio/45", "c", 244, 3);
	s->linux->resources = calloc(1, sizeof(*s->linux->resources));
	grpc__linux_resources__init(s->linux->resources);
	Grpc__LinuxResources *r = s->linux->resources;
	r->n_devices = 3;
	r->devices = calloc(3, sizeof(*r->devices));
	r->devices[0] = spec_rule(false, "a", -1, -1);
	r->devices[1] = spec_rule(true, "b", 8, 0);
	r->devices[2] = spec_rule(true, "c", 244, 3);
	return s;
}

TEST(spec_devices_rewritten)
{
	Grpc__Spec *s = spec_with_devices();
	struct kerr e = { 0 };
	struct dev_update u[] = {
		{ "/dev/xda", 'b', 254, 16, NULL },
		{ "/dev/vfio/45", 'c', 241, 0, "/dev/vfio/7" },
	};
	REQUIRE(spec_devices_update(s, u, 2, &e) == 0);
	Grpc__LinuxDevice **d = s->linux->devices;
	CHECK(d[0]->major == 254 && d[0]->minor == 16);
	CHECK_EQ_STR(d[0]->path, "/dev/xda");
	CHECK(d[1]->major == 241 && d[1]->minor == 0);
	CHECK_EQ_STR(d[1]->path, "/dev/vfio/7");
	Grpc__LinuxResources *r = s->linux->resources;
	REQUIRE(r->n_devices == 5);
	CHECK(r->devices[0]->major == -1);                                /* deny all stays */
	CHECK(r->devices[1]->major == 254 && r->devices[1]->minor == 16); /* host 8:0 -> guest */
	CHECK(r->devices[2]->major == 241 && r->devices[2]->minor == 0);
	CHECK(r->devices[3]->allow && !strcmp(r->devices[3]->type, "b") &&
	      r->devices[3]->major == 254 && !strcmp(r->devices[3]->access, "rwm"));
	CHECK(r->devices[4]->allow && !strcmp(r->devices[4]->type, "c") &&
	      r->devices[4]->major == 241);
	/* a guest number equal to another device's host number: the appended
	 * rule is not rewritten again */
	Grpc__Spec *s2 = spec_with_devices();
	struct dev_update chain[] = { { "/dev/xda", 'b', 244, 3, NULL } };
	REQUIRE(spec_devices_update(s2, chain, 1, &e) == 0);
	CHECK(s2->linux->resources->devices[3]->major == 244);
	/* refusals leave the spec as it was */
	struct dev_update missing[] = { { "/dev/none", 'b', 1, 1, NULL } };
	kerr_clear(&e);
	CHECK(spec_devices_update(s2, missing, 1, &e) < 0 && e.status == GRPC_INVALID_ARGUMENT);
	struct dev_update twice[] = { { "/dev/xda", 'b', 1, 1, NULL },
				      { "/dev/xda", 'b', 1, 2, NULL } };
	kerr_clear(&e);
	CHECK(spec_devices_update(s2, twice, 2, &e) < 0 && e.status == GRPC_INVALID_ARGUMENT);
	CHECK_EQ_INT(s2->linux->resources->n_devices, 4);
	CHECK_EQ_INT(s2->linux->devices[0]->major, 244);
	/* no resources yet: made, with the allow rule */
	Grpc__Spec *s3 = spec_with_devices();
	protobuf_c_message_free_unpacked(&s3->linux->resources->base, NULL);
	s3->linux->resources = NULL;
	REQUIRE(spec_devices_update(s3, u, 1, &e) == 0);
	CHECK(s3->linux->resources && s3->linux->resources->n_devices == 1);
	protobuf_c_message_free_unpacked(&s->base, NULL);
	protobuf_c_message_free_unpacked(&s2->base, NULL);
	protobuf_c_message_free_unpacked(&s3->base, NULL);
}

TEST(spec_env_pci)
{
	Grpc__Spec *s = calloc(1, sizeof(*s));
	grpc__spec__init(s);
	s->process = calloc(1, sizeof(*s->process));
	grpc__process__init(s->process);
	const char *env0[] = {
		"PCIDEVICE_NVIDIA_COM_GPU=0000:1a:01.0,0000:1b:00.0",
		"PCIDEVICE_NVIDIA_COM_GPU_INFO={\"0000:1a:01.0\":{},\"0000:1b:00.0\":{}}",
		"PCIDEVICE_PARTIAL=0000:1a:01.0,0000:99:00.0",
		"PCIDEVICE_PARTIAL_INFO={\"0000:1a:01.0\":{}}",
		"PCIDEVICE_SF=mlx5_core.sf.10",
		"OTHER=0000:1a:01.0",
	};
	s->process->n_env = 6;
	s->process->env = calloc(6, sizeof(char *));
	for (int i = 0; i < 6; i++)
		s->process->env[i] = strdup(env0[i]);
	struct pci_map m[2];
	struct kerr e = { 0 };
	pci_addr_parse("0000:1a:01.0", &m[0].host, &e);
	pci_addr_parse("0000:01:00.0", &m[0].guest, &e);
	pci_addr_parse("0000:1b:00.0", &m[1].host, &e);
	pci_addr_parse("0000:01:00.1", &m[1].guest, &e);
	REQUIRE(spec_env_pci_update(s, m, 2, &e) == 0);
	char **env = s->process->env;
	CHECK_EQ_STR(env[0], "PCIDEVICE_NVIDIA_COM_GPU=0000:01:00.0,0000:01:00.1");
	CHECK_EQ_STR(env[1],
		     "PCIDEVICE_NVIDIA_COM_GPU_INFO={\"0000:01:00.0\":{},\"0000:01:00.1\":{}}");
	CHECK_EQ_STR(env[2], env0[2]); /* no half translation */
	CHECK_EQ_STR(env[3], env0[3]);
	CHECK_EQ_STR(env[4], env0[4]);
	CHECK_EQ_STR(env[5], env0[5]);
	protobuf_c_message_free_unpacked(&s->base, NULL);
}

TEST(container_device_entries)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__Device d = GRPC__DEVICE__INIT;
	Grpc__Device *dl[] = { &d };
	req.devices = dl;
	req.n_devices = 1;
	struct dev_batch *b = NULL;
	struct kerr e = { 0 };
	struct hotplug *h = NULL;
	struct loop *l = NULL;
	REQUIRE(loop_new(&l, &e) == 0);
	REQUIRE(hotplug_start(&h, l, &env, 100, &e) == 0);
	/* kata_agent.go appendBlockDevice, VirtioBlock: id = PCI path */
	d.type = "blk";
	d.id = "02/00";
	d.vm_path = "/dev/vda";
	d.container_path = "/dev/xda";
	REQUIRE(ctr_devices_batch(h, &req, &b, &e) == 0);
	CHECK(b && dev_batch_count(b) == 1);
	dev_batch_free(b);
	struct {
		const char *type, *id, *vm_path, *cpath;
		int status;
		const char *says;
	} cases[] = {
		{ "gpu", "1", "", "/dev/x", GRPC_INVALID_ARGUMENT, "unknown device type \"gpu\"" },
		{ "", "1", "", "/dev/x", GRPC_INVALID_ARGUMENT, "no type" },
		{ "blk", "", "", "/dev/x", GRPC_INVALID_ARGUMENT, "neither an id nor a VM path" },
		{ "blk", "02/00", "", "", GRPC_INVALID_ARGUMENT, "no container path" },
		{ "blk", "../00", "", "/dev/x", GRPC_INVALID_ARGUMENT, "PCI path" },
		{ "vfio-ap", "1", "", "/dev/vfio/1", GRPC_FAILED_PRECONDITION, "s390x" },
		{ "vfio-pci", "45", "", "/dev/vfio/45", GRPC_INVALID_ARGUMENT, "no PCI function" },
		{ "mmioblk", "/dev/sda", "/dev/../sda", "/dev/x", GRPC_INVALID_ARGUMENT, "mmioblk" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d.type = (char *)cases[i].type;
		d.id = (char *)cases[i].id;
		d.vm_path = (char *)cases[i].vm_path;
		d.container_path = (char *)cases[i].cpath;
		kerr_clear(&e);
		b = NULL;
		int r = ctr_devices_batch(h, &req, &b, &e);
		if (r == 0 || e.status != cases[i].status || !strstr(e.msg, cases[i].says))
			printf("# case %zu: %d %d %s\n", i, r, e.status, e.msg);
		CHECK(r < 0 && e.status == cases[i].status && strstr(e.msg, cases[i].says));
		CHECK(b == NULL);
	}
	/* block storages wait in the same batch; a /dev path the host chose
	 * for a blk storage is refused */
	req.n_devices = 0;
	Grpc__Storage st = GRPC__STORAGE__INIT;
	Grpc__Storage *sl[] = { &st };
	req.storages = sl;
	req.n_storages = 1;
	st.driver = "blk";
	st.source = "/dev/sda";
	kerr_clear(&e);
	CHECK(ctr_devices_batch(h, &req, &b, &e) < 0 && e.status == GRPC_PERMISSION_DENIED);
	st.source = "03/00";
	REQUIRE(ctr_devices_batch(h, &req, &b, &e) == 0);
	CHECK(b && dev_batch_count(b) == 1);
	dev_batch_free(b);
	st.driver = "local";
	st.source = "local";
	REQUIRE(ctr_devices_batch(h, &req, &b, &e) == 0);
	CHECK(b == NULL);
	hotplug_stop(h);
	loop_free(l);
}

static void quit_on_done(struct dev_batch *b, const struct kerr *failure, void *data)
{
	(void)b;
	struct waitctx *w = data;
	w->calls++;
	w->failed = failure != NULL;
	loop_quit(w->l);
}

/* A vfio-pci-gk device (a VF left to its guest driver): PCIDEVICE_* gets
 * its guest address and the guest's RDMA char devices are added, as
 * upstream's expose_guest_infiniband_devices; symlinks and block devices
 * in /dev/infiniband are not. A container without VFIO gets none. */
TEST(vfio_gk_env_and_infiniband)
{
	reset_trees();
	if (geteuid() != 0)
		SKIP("device nodes need root (mknod)");
	fake_vfio_fn(0, -1, "mlx5_core");
	REQUIRE(node("infiniband/uverbs0", S_IFCHR, 231, 192));
	REQUIRE(node("infiniband/rdma_cm", S_IFCHR, 10, 58));
	REQUIRE(node("infiniband/blk", S_IFBLK, 7, 0));
	CHECK(symlink("/dev/null", at(dev_root, "infiniband/link")) == 0);
	Grpc__CreateContainerRequest *req = calloc(1, sizeof(*req));
	grpc__create_container_request__init(req);
	req->oci = spec_with_devices();
	req->oci->process = calloc(1, sizeof(*req->oci->process));
	grpc__process__init(req->oci->process);
	req->oci->process->n_env = 1;
	req->oci->process->env = calloc(1, sizeof(char *));
	req->oci->process->env[0] = strdup("PCIDEVICE_MLX=0000:3b:00.2");
	Grpc__Device *d = calloc(1, sizeof(*d));
	grpc__device__init(d);
	d->type = strdup("vfio-pci-gk");
	d->id = strdup("45");
	d->container_path = strdup("/dev/vfio/45");
	d->n_options = 1;
	d->options = calloc(1, sizeof(char *));
	d->options[0] = strdup("0000:3b:00.2=02/00");
	req->n_devices = 1;
	req->devices = calloc(1, sizeof(*req->devices));
	req->devices[0] = d;
	struct waitctx w = { 0 };
	struct kerr e = { 0 };
	struct hotplug *h = NULL;
	struct dev_batch *b = NULL;
	REQUIRE(loop_new(&w.l, &e) == 0);
	REQUIRE(hotplug_start(&h, w.l, &env, 1000, &e) == 0);
	REQUIRE(ctr_devices_batch(h, req, &b, &e) == 0 && b);
	REQUIRE(dev_batch_run(b, quit_on_done, &w, &e) == 0);
	REQUIRE(loop_run(w.l, &e) == 0);
	CHECK(w.calls == 1 && !w.failed);
	int r = ctr_devices_apply(req, b, &env, &e);
	if (r < 0)
		printf("# %s\n", e.msg);
	CHECK(r == 0);
	CHECK_EQ_STR(req->oci->process->env[0], "PCIDEVICE_MLX=0000:01:00.0");
	Grpc__Linux *l = req->oci->linux;
	int found = 0, bad = 0;
	for (size_t i = 0; i < l->n_devices; i++) {
		if (!strcmp(l->devices[i]->path, "/dev/infiniband/uverbs0"))
			found += l->devices[i]->major == 231 && l->devices[i]->minor == 192;
		if (!strcmp(l->devices[i]->path, "/dev/infiniband/rdma_cm"))
			found += l->devices[i]->major == 10;
		if (strstr(l->devices[i]->path, "blk") || strstr(l->devices[i]->path, "link"))
			bad++;
	}
	CHECK_EQ_INT(found, 2);
	CHECK_EQ_INT(bad, 0);
	int rules = 0;
	for (size_t i = 0; i < l->resources->n_devices; i++)
		rules += l->resources->devices[i]->major == 231 && l->resources->devices[i]->allow;
	CHECK_EQ_INT(rules, 1);
	dev_batch_free(b);
	/* the same guest, a container without VFIO: nothing exposed */
	Grpc__CreateContainerRequest plain = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	plain.oci = spec_with_devices();
	size_t before = plain.oci->linux->n_devices;
	CHECK(ctr_devices_apply(&plain, NULL, &env, &e) == 0);
	CHECK_EQ_INT(plain.oci->linux->n_devices, before);
	protobuf_c_message_free_unpacked(&plain.oci->base, NULL);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	hotplug_stop(h);
	loop_free(w.l);
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/test_devices.XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sys_root, sizeof(sys_root), "%s/sys", base);
	snprintf(dev_root, sizeof(dev_root), "%s/dev", base);
	env.sysfs = sys_root;
	env.dev = dev_root;
	/* the fake /dev's tmpfs stays in a mount namespace of our own */
	int ns = geteuid() == 0 ? tu_private_mount_ns() : 0;
	if (ns < 0)
		printf("# no private mount namespace: %s\n", strerror(-ns));
	int r = tap_run();
	umount2(dev_root, MNT_DETACH);
	if (tu_rm_rf(base) < 0)
		printf("# rm -rf %s failed\n", base);
	return r;
}
