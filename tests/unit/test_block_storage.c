/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_block_storage.c - block and overlayfs storages (executor
 * storage.c with devices/) mounted for real, in a private mount namespace
 * (needs root, mkfs.ext4 and a loop device): an ext4 image with a known
 * file behind a loop device stands for the hot-plugged disk, announced in
 * a fake sysfs as a virtio disk (mmioblk) or at a PCI path (blk), its node
 * in a fake /dev; ext4 and xfs grown online (ResizeVolume) after their
 * loop device grew. Then what a hostile host tries: a /dev path of its
 * choosing, a symlink, a char device, another device's numbers, a node the
 * kernel never announced, a filesystem that is not on a disk, overlay
 * layers outside the shared dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_grow.h"
#include "grpc_status.h"
#include "hotplug.h"
#include "probe.h"
#include "storage.h"
#include "tap.h"
#include "testutil.h"

static char base[256], allowed[300], outside[300], sysr[300], devr[300], img[300], loopdev[64];
static const char *roots[1];
static struct storage_policy pol = { roots, 1 };
static struct dev_env fake;
static dev_t loop_rdev;
static const char *skip_all;

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd);
}

static const char *P(const char *a, const char *b)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *o = bufs[i++ % 8];
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%.600s/%.600s", a, b);
	memcpy(o, tmp, sizeof(tmp));
	return o;
}

/* The loop device, announced as the virtio disk "vdz" (mmioblk) and as
 * the virtio-blk disk at PCI path 02/00 (blk), its node in the fake /dev. */
static void announce(void)
{
	char dev[32];
	snprintf(dev, sizeof(dev), "%u:%u\n", major(loop_rdev), minor(loop_rdev));
	tu_put_path(P(sysr, "devices/platform/virtio-mmio.9/virtio9/block/vdz/dev"), dev);
	tu_mkdirs(P(sysr, "class/block"));
	unlink(P(sysr, "class/block/vdz"));
	if (symlink("../../devices/platform/virtio-mmio.9/virtio9/block/vdz",
		    P(sysr, "class/block/vdz")) < 0)
		printf("# symlink: %s\n", strerror(errno));
	tu_mkdirs(P(sysr, "devices/pci0000:00/0000:00:02.0/pci_bus/0000:01"));
	tu_put_path(P(sysr, "devices/pci0000:00/0000:00:02.0/0000:01:00.0/virtio4/block/vdz/dev"),
		    dev);
	unlink(P(devr, "vdz"));
	if (mknod(P(devr, "vdz"), S_IFBLK | 0600, loop_rdev) < 0)
		printf("# mknod: %s\n", strerror(errno));
}

static Grpc__Storage blk(const char *driver, const char *source, const char *fstype, const char *mp,
			 char **opts, size_t n)
{
	Grpc__Storage s = GRPC__STORAGE__INIT;
	s.driver = (char *)driver;
	s.source = (char *)source;
	s.fstype = (char *)fstype;
	s.mount_point = (char *)mp;
	s.options = opts;
	s.n_options = n;
	return s;
}

/* storage_add must fail with status, leaving the mount table alone. */
static bool refused(Grpc__Storage *s, int status, const char *says)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr e = { 0 };
	storage_set_new(&set, &e);
	int r = storage_add(set, s, &pol, &e);
	bool ok = r < 0 && e.status == status && (!says || strstr(e.msg, says));
	if (!ok)
		printf("# storage_add: %d, status %d: %s\n", r, e.status, e.msg);
	storage_set_free(set);
	char *after = tu_read_file("/proc/self/mountinfo");
	if (strcmp(before, after)) {
		printf("# the mount table changed\n");
		ok = false;
	}
	free(before);
	free(after);
	return ok;
}

TEST(mmioblk_ext4_mounted_and_released)
{
	if (skip_all)
		SKIP(skip_all);
	announce();
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr e = { 0 };
	REQUIRE(storage_set_new(&set, &e) == 0);
	/* kata_agent.go handleDeviceBlockVolume, VirtioMmio: source = VirtPath,
	 * the mount's type and options, the mount point in sandbox/storage */
	char *opts[] = { "rw", "nosuid", "nodev", "errors=remount-ro" };
	const char *mp = P(allowed, "sandbox/storage/L2Rldi92ZHo=");
	Grpc__Storage s = blk("mmioblk", "/dev/vdz", "ext4", mp, opts, 4);
	int r = storage_add(set, &s, &pol, &e);
	if (r < 0)
		printf("# %s\n", e.msg);
	REQUIRE(r == 0);
	CHECK_EQ_STR(tu_peek_file(P(mp, "known.txt")), "a file made on the host\n");
	struct statvfs sv;
	CHECK(statvfs(mp, &sv) == 0 && (sv.f_flag & ST_NOSUID) && (sv.f_flag & ST_NODEV));
	/* a second container's reference: one mount */
	struct storage_set *set2 = NULL;
	REQUIRE(storage_set_new(&set2, &e) == 0);
	REQUIRE(storage_add(set2, &s, &pol, &e) == 0);
	storage_set_free(set);
	CHECK_EQ_STR(tu_peek_file(P(mp, "known.txt")), "a file made on the host\n");
	storage_set_free(set2);
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

TEST(blk_by_pci_path_read_only)
{
	if (skip_all)
		SKIP(skip_all);
	announce();
	struct storage_set *set = NULL;
	struct kerr e = { 0 };
	REQUIRE(storage_set_new(&set, &e) == 0);
	/* VirtioBlock: source = the PCI path; "ro" makes the superblock
	 * read-only too (no journal replay on a read-only disk) */
	char *opts[] = { "ro" };
	const char *mp = P(allowed, "sandbox/storage/MDIvMDA=");
	Grpc__Storage s = blk("blk", "02/00", "ext4", mp, opts, 1);
	int r = storage_add(set, &s, &pol, &e);
	if (r < 0)
		printf("# %s\n", e.msg);
	REQUIRE(r == 0);
	CHECK_EQ_STR(tu_peek_file(P(mp, "known.txt")), "a file made on the host\n");
	CHECK(open(P(mp, "new"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600) < 0 && errno == EROFS);
	char *mi = tu_read_file("/proc/self/mountinfo");
	CHECK(mi && strstr(mi, " ext4 /proc/self/fd/") != NULL);
	free(mi);
	storage_set_free(set);
}

TEST(block_fs_group)
{
	if (skip_all)
		SKIP(skip_all);
	announce();
	struct storage_set *set = NULL;
	struct kerr e = { 0 };
	REQUIRE(storage_set_new(&set, &e) == 0);
	Grpc__FSGroup g = GRPC__FSGROUP__INIT;
	g.group_id = 4321;
	const char *mp = P(allowed, "sandbox/storage/fsgroup");
	Grpc__Storage s = blk("mmioblk", "/dev/vdz", "ext4", mp, NULL, 0);
	s.fs_group = &g;
	REQUIRE(storage_add(set, &s, &pol, &e) == 0);
	struct stat st;
	CHECK(stat(P(mp, "known.txt"), &st) == 0 && st.st_gid == 4321 &&
	      (st.st_mode & 0660) == 0660);
	CHECK(stat(P(mp, "dir"), &st) == 0 && st.st_gid == 4321 && (st.st_mode & 02070) == 02070);
	CHECK(lstat(P(mp, "link"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_gid != 4321);
	CHECK(stat(mp, &st) == 0 && st.st_gid == 4321 && (st.st_mode & 02770) == 02770);
	/* the symlink's target outside the volume is untouched */
	CHECK(stat(P(outside, "target"), &st) == 0 && st.st_gid == 0);
	storage_set_free(set);
}

TEST(raw_block_volume_bound_as_a_node)
{
	if (skip_all)
		SKIP(skip_all);
	announce();
	struct storage_set *set = NULL;
	struct kerr e = { 0 };
	REQUIRE(storage_set_new(&set, &e) == 0);
	/* handleVhostUserBlkVolume / a "bind" block mount: the node itself */
	char *opts[] = { "bind" };
	const char *mp = P(allowed, "sandbox/storage/raw");
	Grpc__Storage s = blk("blk", "02/00", "bind", mp, opts, 1);
	REQUIRE(storage_add(set, &s, &pol, &e) == 0);
	struct stat st;
	CHECK(stat(mp, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == loop_rdev);
	storage_set_free(set);
	CHECK(lstat(mp, &st) < 0 && errno == ENOENT);
}

TEST(attack_host_chosen_nodes)
{
	if (skip_all)
		SKIP(skip_all);
	announce();
	char mp[PATH_MAX];
	snprintf(mp, sizeof(mp), "%s", P(allowed, "sandbox/storage/attack"));
	/* a blk storage naming a /dev path directly (upstream would mount it) */
	Grpc__Storage s = blk("blk", P(devr, "vdz"), "ext4", mp, NULL, 0);
	CHECK(refused(&s, GRPC_PERMISSION_DENIED, "PCI path"));
	s = blk("blk", "/dev/sda", "ext4", mp, NULL, 0);
	CHECK(refused(&s, GRPC_PERMISSION_DENIED, NULL));
	/* an mmioblk name that is no virtio disk, or with ".." */
	s = blk("mmioblk", "/dev/../dev/vdz", "ext4", mp, NULL, 0);
	CHECK(refused(&s, GRPC_INVALID_ARGUMENT, NULL));
	/* the kernel's name is a symlink in /dev (to the right device) */
	unlink(P(devr, "vdz"));
	CHECK(mknod(P(devr, "real"), S_IFBLK | 0600, loop_rdev) == 0);
	CHECK(symlink("real", P(devr, "vdz")) == 0);
	s = blk("mmioblk", "/dev/vdz", "ext4", mp, NULL, 0);
	CHECK(refused(&s, GRPC_FAILED_PRECONDITION, NULL));
	/* a char device with the disk's numbers */
	unlink(P(devr, "vdz"));
	CHECK(mknod(P(devr, "vdz"), S_IFCHR | 0600, loop_rdev) == 0);
	CHECK(refused(&s, GRPC_FAILED_PRECONDITION, "not the block device"));
	/* a block node of another device (/dev/ram0's numbers) */
	unlink(P(devr, "vdz"));
	CHECK(mknod(P(devr, "vdz"), S_IFBLK | 0600, makedev(1, 0)) == 0);
	CHECK(refused(&s, GRPC_FAILED_PRECONDITION, "not the block device"));
	/* a node the kernel never announced (no uevent, nothing in sysfs),
	 * though it is the very device: not used */
	CHECK(mknod(P(devr, "vdy"), S_IFBLK | 0600, loop_rdev) == 0);
	s = blk("mmioblk", "/dev/vdy", "ext4", mp, NULL, 0);
	CHECK(refused(&s, GRPC_NOT_FOUND, "is not there"));
	/* filesystems that are not on a disk could show guest trees */
	announce();
	s = blk("mmioblk", "/dev/vdz", "proc", mp, NULL, 0);
	CHECK(refused(&s, GRPC_INVALID_ARGUMENT, "not a filesystem on a block device"));
	s = blk("mmioblk", "/dev/vdz", "tmpfs", mp, NULL, 0);
	CHECK(refused(&s, GRPC_INVALID_ARGUMENT, "not a filesystem on a block device"));
	s = blk("mmioblk", "/dev/vdz", "", mp, NULL, 0);
	CHECK(refused(&s, GRPC_INVALID_ARGUMENT, "no fstype"));
	/* the mount point rules of every storage still hold */
	s = blk("mmioblk", "/dev/vdz", "ext4", P(outside, "x"), NULL, 0);
	CHECK(refused(&s, GRPC_INVALID_ARGUMENT, "outside the allowed roots"));
}

TEST(overlayfs_layers_below_the_shared_dir)
{
	if (geteuid() != 0)
		SKIP("needs root");
	tu_put_path(P(allowed, "virtual-volumes/l1/from-l1"), "1\n");
	tu_put_path(P(allowed, "virtual-volumes/l2/from-l2"), "2\n");
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr e = { 0 };
	REQUIRE(storage_set_new(&set, &e) == 0);
	/* fs_share_linux.go shareRootFilesystemWithErofs: lowerdir=<volumes>,
	 * upperdir/workdir created by the agent (create_directory) */
	char lower[700], upper[400], work[400], mkup[500], mkwork[500];
	snprintf(lower, sizeof(lower), "lowerdir=%s:%s", P(allowed, "virtual-volumes/l1"),
		 P(allowed, "virtual-volumes/l2"));
	snprintf(upper, sizeof(upper), "upperdir=%s", P(allowed, "c1/fs"));
	snprintf(work, sizeof(work), "workdir=%s", P(allowed, "c1/work"));
	snprintf(mkup, sizeof(mkup), "io.katacontainers.volume.overlayfs.create_directory=%s",
		 P(allowed, "c1/fs"));
	snprintf(mkwork, sizeof(mkwork), "io.katacontainers.volume.overlayfs.create_directory=%s",
		 P(allowed, "c1/work"));
	char *opts[] = { lower, upper, work };
	char *dopts[] = { mkup, mkwork };
	const char *mp = P(allowed, "c1/rootfs");
	Grpc__Storage s = blk("overlayfs", "overlay", "overlay", mp, opts, 3);
	s.driver_options = dopts;
	s.n_driver_options = 2;
	int r = storage_add(set, &s, &pol, &e);
	if (r < 0)
		printf("# %s\n", e.msg);
	REQUIRE(r == 0);
	CHECK_EQ_STR(tu_peek_file(P(mp, "from-l1")), "1\n");
	CHECK_EQ_STR(tu_peek_file(P(mp, "from-l2")), "2\n");
	tu_put_path(P(mp, "written"), "w\n");
	CHECK_EQ_STR(tu_peek_file(P(allowed, "c1/fs/written")), "w\n");
	storage_set_free(set);
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);

	/* layers outside the shared dir, or leaving it */
	struct {
		const char *opt;
		int status;
	} bad[] = {
		{ "lowerdir=/etc", GRPC_INVALID_ARGUMENT },
		{ "lowerdir=/", GRPC_INVALID_ARGUMENT },
		{ NULL, GRPC_INVALID_ARGUMENT }, /* outside, built below */
		{ NULL, GRPC_INVALID_ARGUMENT }, /* "..", built below */
		{ NULL, GRPC_INVALID_ARGUMENT }, /* a symlink out, built below */
	};
	char o2[600], o3[600], o4[600];
	snprintf(o2, sizeof(o2), "lowerdir=%s:%s", P(allowed, "virtual-volumes/l1"), outside);
	snprintf(o3, sizeof(o3), "lowerdir=%s/../outside", allowed);
	CHECK(symlink(outside, P(allowed, "virtual-volumes/out")) == 0);
	snprintf(o4, sizeof(o4), "lowerdir=%s", P(allowed, "virtual-volumes/out"));
	bad[2].opt = o2;
	bad[3].opt = o3;
	bad[4].opt = o4;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *o[] = { (char *)bad[i].opt };
		Grpc__Storage b = blk("overlayfs", "overlay", "overlay", P(allowed, "c2/rootfs"), o,
				      1);
		CHECK(refused(&b, bad[i].status, NULL));
	}
	char up[600];
	snprintf(up, sizeof(up), "upperdir=%s", outside);
	char *o5[] = { lower, up, work };
	Grpc__Storage b = blk("overlayfs", "overlay", "overlay", P(allowed, "c2/rootfs"), o5, 3);
	CHECK(refused(&b, GRPC_INVALID_ARGUMENT, "allowed roots"));
	char *o6[] = { "io.katacontainers.fs-opt.overlay-rw", lower };
	b = blk("overlayfs", "overlay", "overlay", P(allowed, "c2/rootfs"), o6, 2);
	CHECK(refused(&b, GRPC_UNIMPLEMENTED, "overlay-rw"));
	b = blk("overlayfs", "overlay", "fuse3.kata-overlay", P(allowed, "c2/rootfs"), opts, 1);
	CHECK(refused(&b, GRPC_INVALID_ARGUMENT, "only overlay"));
	char mkout[400];
	snprintf(mkout, sizeof(mkout), "io.katacontainers.volume.overlayfs.create_directory=%s/x",
		 outside);
	char *d7[] = { mkout };
	b = blk("overlayfs", "overlay", "overlay", P(allowed, "c2/rootfs"), opts, 1);
	b.driver_options = d7;
	b.n_driver_options = 1;
	CHECK(refused(&b, GRPC_INVALID_ARGUMENT, "is not below"));
	struct stat st;
	CHECK(stat(P(outside, "x"), &st) < 0);
}

/* A loop device on img; its node path into dev (64 bytes), its numbers. */
static bool loop_on(const char *image, char *dev, dev_t *rdev)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "losetup --find --show %s 2>/dev/null", image);
	FILE *p = popen(cmd, "r");
	bool ok = p && fgets(dev, 64, p);
	if (p)
		pclose(p);
	if (!ok)
		return false;
	dev[strcspn(dev, "\n")] = '\0';
	struct stat st;
	if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
		return false;
	*rdev = st.st_rdev;
	return true;
}

/* A virtio disk "name" in the fake trees for rdev, sized bytes. */
static void announce_disk(const char *name, dev_t rdev, uint64_t bytes)
{
	char rel[128], dev[32], size[32];
	snprintf(dev, sizeof(dev), "%u:%u\n", major(rdev), minor(rdev));
	snprintf(rel, sizeof(rel), "devices/platform/virtio-mmio.8/virtio8/block/%s/dev", name);
	tu_put_path(P(sysr, rel), dev);
	snprintf(rel, sizeof(rel), "../../devices/platform/virtio-mmio.8/virtio8/block/%s", name);
	char link[128];
	snprintf(link, sizeof(link), "class/block/%s", name);
	unlink(P(sysr, link));
	if (symlink(rel, P(sysr, link)) < 0)
		printf("# symlink: %s\n", strerror(errno));
	snprintf(rel, sizeof(rel), "dev/block/%u:%u/size", major(rdev), minor(rdev));
	snprintf(size, sizeof(size), "%llu\n", (unsigned long long)(bytes / 512));
	tu_put_path(P(sysr, rel), size);
	unlink(P(devr, name));
	if (mknod(P(devr, name), S_IFBLK | 0600, rdev) < 0)
		printf("# mknod: %s\n", strerror(errno));
}

/* Mount a fresh fstype disk of from bytes, grow its image and loop device
 * to to bytes, grow it online through storage_block_at and fs_grow. */
static void grow_one(const char *fstype, const char *mkfs, uint64_t from, uint64_t to,
		     int *tap_failed)
{
	char image[400], dev[64], name[16], cmd[1200];
	snprintf(image, sizeof(image), "%s/grow-%s.img", base, fstype);
	snprintf(name, sizeof(name), "vdg%s", fstype[0] == 'x' ? "x" : "e");
	snprintf(cmd, sizeof(cmd), "truncate -s %llu %s && %s %s >/dev/null 2>&1",
		 (unsigned long long)from, image, mkfs, image);
	dev_t rdev;
	REQUIRE(system(cmd) == 0 && loop_on(image, dev, &rdev));
	announce_disk(name, rdev, from);
	char source[32], mp[PATH_MAX];
	snprintf(source, sizeof(source), "/dev/%s", name);
	snprintf(mp, sizeof(mp), "%s/sandbox/storage/grow-%s", allowed, fstype);
	struct storage_set *set = NULL;
	struct kerr e = { 0 };
	REQUIRE(storage_set_new(&set, &e) == 0);
	Grpc__Storage s = blk("mmioblk", source, fstype, mp, NULL, 0);
	int r = storage_add(set, &s, &pol, &e);
	if (r < 0)
		printf("# %s\n", e.msg);
	struct storage_block b = { .root = -1 };
	struct statfs before, after;
	if (r == 0 && storage_block_at(mp, &pol, &b, &e) == 0 && fstatfs(b.root, &before) == 0) {
		CHECK(b.dev == rdev);
		CHECK_EQ_STR(b.fstype, fstype);
		/* the host grows the disk */
		snprintf(cmd, sizeof(cmd), "truncate -s %llu %s && losetup -c %s",
			 (unsigned long long)to, image, dev);
		CHECK(system(cmd) == 0);
		announce_disk(name, rdev, to);
		uint64_t have = 0;
		CHECK(fs_device_bytes(&fake, rdev, &have, &e) == 0 && have == to);
		r = fs_grow(b.root, fstype, to, mp, &e);
		if (r < 0)
			printf("# %s\n", e.msg);
		CHECK(r == 0);
		CHECK(fstatfs(b.root, &after) == 0 &&
		      (uint64_t)after.f_blocks * after.f_bsize >
			      (uint64_t)before.f_blocks * before.f_bsize + (to - from) / 2);
		/* a filesystem does not shrink */
		kerr_clear(&e);
		CHECK(fs_grow(b.root, fstype, from / 2, mp, &e) < 0 &&
		      e.status == GRPC_INVALID_ARGUMENT);
		close(b.root);
	} else {
		printf("# %s\n", e.msg);
		CHECK(0);
	}
	storage_set_free(set);
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	if (system(cmd) != 0)
		printf("# %s failed\n", cmd);
}

/* CAP_SYS_RESOURCE (24): ext4's online resize needs it; some sandboxes
 * running these tests drop it (the guest's agent has it). */
static bool has_cap_sys_resource(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned long long eff = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return eff & (1ull << 24);
}

TEST(resize_grows_ext4_online)
{
	if (skip_all)
		SKIP(skip_all);
	if (!has_cap_sys_resource())
		/* A machine feature no install can give: this host's root has
		 * no CAP_SYS_RESOURCE. */
		SKIP_KERNEL("no CAP_SYS_RESOURCE here, which ext4's online resize needs (the VM "
			    "suite grows ext4)");
	grow_one("ext4", "mkfs.ext4 -q -F", 16u << 20, 48u << 20, tap_failed);
}

TEST(resize_grows_xfs_online)
{
	if (skip_all)
		SKIP(skip_all);
	if (system("command -v mkfs.xfs >/dev/null 2>&1") != 0)
		SKIP("mkfs.xfs is missing (xfsprogs)");
	/* xfs wants 300 MiB at least; the images are sparse */
	grow_one("xfs", "mkfs.xfs -q -f", 320u << 20, 480u << 20, tap_failed);
	/* not a block storage of ours; another filesystem */
	struct storage_block b;
	struct kerr e = { 0 };
	CHECK(storage_block_at(P(allowed, "sandbox"), &pol, &b, &e) < 0 &&
	      e.status == GRPC_NOT_FOUND);
	kerr_clear(&e);
	CHECK(fs_grow(0, "vfat", 1 << 20, "x", &e) < 0 && e.status == GRPC_UNIMPLEMENTED);
}

/* The disk: an ext4 image with a known file, a directory and a symlink
 * pointing out of the volume, behind a loop device. */
static const char *setup_disk(void)
{
	if (geteuid() != 0)
		return "needs root";
	if (system("command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null") != 0)
		return "mkfs.ext4 or losetup is missing";
	char content[400];
	snprintf(content, sizeof(content), "%s/content", base);
	tu_put_path(P(content, "known.txt"), "a file made on the host\n");
	tu_mkdirs(P(content, "dir"));
	tu_put_path(P(outside, "target"), "outside\n");
	if (symlink(P(outside, "target"), P(content, "link")) < 0)
		return "symlink";
	snprintf(img, sizeof(img), "%s/disk.img", base);
	if (sh("truncate -s 16M %s%s", img, "") != 0)
		return "truncate failed";
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -d %s %s >/dev/null 2>&1", content, img);
	if (system(cmd) != 0)
		return "mkfs.ext4 -d failed";
	snprintf(cmd, sizeof(cmd), "losetup --find --show %s 2>/dev/null", img);
	FILE *p = popen(cmd, "r");
	if (!p || !fgets(loopdev, sizeof(loopdev), p)) {
		if (p)
			pclose(p);
		return "no free loop device";
	}
	pclose(p);
	loopdev[strcspn(loopdev, "\n")] = '\0';
	struct stat st;
	if (stat(loopdev, &st) < 0 || !S_ISBLK(st.st_mode))
		return "the loop device has no node";
	loop_rdev = st.st_rdev;
	return NULL;
}

int main(void)
{
	if (tu_main_root_mount_ns() < 0)
		return 0;
	char tmpl[] = "/tmp/test-blkstorage-XXXXXX";
	char real[PATH_MAX];
	if (!mkdtemp(tmpl) || !realpath(tmpl, real) || strlen(real) >= 200) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(base, sizeof(base), "%s", real);
	snprintf(allowed, sizeof(allowed), "%s/allowed", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(sysr, sizeof(sysr), "%s/sys", base);
	snprintf(devr, sizeof(devr), "%s/dev", base);
	tu_mkdirs(allowed);
	tu_mkdirs(outside);
	tu_mkdirs(sysr);
	tu_mkdirs(devr);
	/* /tmp may be nodev: the fake /dev gets its own tmpfs */
	if (mount("tmpfs", devr, "tmpfs", 0, "mode=0755") < 0)
		printf("# tmpfs on %s: %s\n", devr, strerror(errno));
	roots[0] = allowed;
	fake.sysfs = sysr;
	fake.dev = devr;
	storage_dev_env = &fake;
	skip_all = setup_disk();
	int r = tap_run();
	if (loopdev[0])
		sh("losetup -d %s%s", loopdev, "");
	umount2(devr, MNT_DETACH);
	tu_rm_rf(base);
	return r;
}
