/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_storage.c - agentd/executor/storage/storage.c against real mounts, in a
 * private mount namespace (needs root): local, ephemeral (tmpfs, hugetlbfs,
 * UpdateEphemeralMounts), bind, watchable-bind, the allowed-root and
 * symlink checks, refcounting, nothing left behind.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "grpc_status.h"
#include "storage.h"
#include "watcher.h"
#include "tap.h"
#include "testutil.h"

/* Short on purpose: every path built from these fits PATH_MAX. */
static char base[256]; /* temp dir */
static char allowed[300];
static char outside[300];
static const char *roots[1];
static struct storage_policy pol = { roots, 1 };

static char *P(const char *a, const char *b)
{
	static char bufs[8][PATH_MAX + 8];
	static int i;
	char *o = bufs[i++ % 8];
	/* a may be an earlier result of P: build aside, then copy. */
	char tmp[sizeof(bufs[0])];
	snprintf(tmp, sizeof(tmp), "%.300s/%.300s", a, b);
	memcpy(o, tmp, sizeof(tmp));
	return o;
}

static bool is_fs(const char *path, unsigned long magic)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

static Grpc__Storage mk(const char *driver, const char *source, const char *fstype,
			const char *mount_point, char **opts, size_t n_opts)
{
	Grpc__Storage s = GRPC__STORAGE__INIT;
	s.driver = (char *)driver;
	s.source = (char *)source;
	s.fstype = (char *)fstype;
	s.mount_point = (char *)mount_point;
	s.options = opts;
	s.n_options = n_opts;
	return s;
}

TEST(local_dir_with_mode)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *opts[] = { "mode=0750" };
	char *mp = P(allowed, "local/a/vol");
	Grpc__Storage s = mk("local", "local", "local", mp, opts, 1);
	int r = storage_add(set, &s, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	struct stat st;
	CHECK(stat(mp, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
	CHECK_EQ_INT(storage_set_count(set), 1);
	storage_set_free(set);
	CHECK(!tu_exists(P(allowed, "local")));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

TEST(ephemeral_tmpfs)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *opts[] = { "size=1m,nosuid", "fsgid=1234" };
	char *mp = P(allowed, "eph/e1");
	Grpc__Storage s = mk("ephemeral", "tmpfs", "tmpfs", mp, opts, 2);
	int r = storage_add(set, &s, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	CHECK(is_fs(mp, TMPFS_MAGIC));
	struct stat st;
	CHECK(stat(mp, &st) == 0 && st.st_gid == 1234 && (st.st_mode & S_ISGID));
	tu_write_file(P(mp, "f"), "x", 0644);
	CHECK(tu_exists(P(mp, "f")));
	char *mi = tu_read_file("/proc/self/mountinfo");
	CHECK(mi && strstr(mi, mp) && strstr(mi, "nosuid"));
	free(mi);
	storage_set_free(set);
	CHECK(!tu_exists(mp));
	CHECK(!tu_exists(P(allowed, "eph")));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

TEST(ephemeral_bad_option_undone)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *opts[] = { "bogus=1" };
	char *mp = P(allowed, "bad/e1");
	Grpc__Storage s = mk("ephemeral", "tmpfs", "tmpfs", mp, opts, 1);
	CHECK(storage_add(set, &s, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	printf("# %s\n", err.msg);
	CHECK(!tu_exists(P(allowed, "bad")));
	CHECK_EQ_INT(storage_set_count(set), 0);
	storage_set_free(set);
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

TEST(bind_allowed)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	mkdir(P(allowed, "src"), 0755);
	tu_write_file(P(allowed, "src/hello"), "hi", 0644);
	tu_write_file(P(allowed, "srcfile"), "file", 0644);
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *opts[] = { "bind", "ro" };
	char *mp = P(allowed, "dst/d");
	Grpc__Storage s = mk("bind", P(allowed, "src"), "bind", mp, opts, 2);
	int r = storage_add(set, &s, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	CHECK(tu_exists(P(mp, "hello")));
	CHECK(open(P(mp, "new"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644) < 0 && errno == EROFS);
	/* A file source gets a file mount point. */
	char *mpf = P(allowed, "dst/f");
	Grpc__Storage sf = mk("bind", P(allowed, "srcfile"), "", mpf, NULL, 0);
	r = storage_add(set, &sf, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	char *c = tu_read_file(mpf);
	CHECK_EQ_STR(c, "file");
	free(c);
	storage_set_free(set);
	CHECK(!tu_exists(P(allowed, "dst")));
	CHECK(tu_exists(P(allowed, "src/hello")));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

static void expect_refused(int *tap_failed, const char *source, const char *mp, int status)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	Grpc__Storage s = mk("bind", source, "bind", mp, NULL, 0);
	CHECK(storage_add(set, &s, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), status);
	printf("# refused: %s\n", err.msg);
	storage_set_free(set);
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

TEST(bind_source_outside_refused)
{
	mkdir(P(outside, "secret"), 0755);
	expect_refused(tap_failed, P(outside, "secret"), P(allowed, "m1"), GRPC_INVALID_ARGUMENT);
	CHECK(!tu_exists(P(allowed, "m1")));
	/* ".." cannot climb out either. */
	char up[PATH_MAX];
	snprintf(up, sizeof(up), "%s/../outside/secret", allowed);
	expect_refused(tap_failed, up, P(allowed, "m1"), GRPC_INVALID_ARGUMENT);
	/* A prefix that is not a path component boundary. */
	char sib[PATH_MAX];
	snprintf(sib, sizeof(sib), "%sX", allowed);
	mkdir(sib, 0755);
	expect_refused(tap_failed, sib, P(allowed, "m1"), GRPC_INVALID_ARGUMENT);
	rmdir(sib);
	CHECK(!tu_exists(P(allowed, "m1")));
}

TEST(bind_source_symlink_out_refused)
{
	mkdir(P(outside, "secret"), 0755);
	CHECK(symlink(P(outside, "secret"), P(allowed, "evil")) == 0);
	CHECK(symlink("../outside/secret", P(allowed, "evil2")) == 0);
	expect_refused(tap_failed, P(allowed, "evil"), P(allowed, "m2"), GRPC_INVALID_ARGUMENT);
	expect_refused(tap_failed, P(allowed, "evil2"), P(allowed, "m2"), GRPC_INVALID_ARGUMENT);
	CHECK(!tu_exists(P(allowed, "m2")));
	unlink(P(allowed, "evil"));
	unlink(P(allowed, "evil2"));
}

TEST(mount_point_symlinked_out_refused)
{
	mkdir(P(allowed, "src"), 0755);
	mkdir(P(outside, "target"), 0755);
	CHECK(symlink(P(outside, "target"), P(allowed, "mplink")) == 0);
	expect_refused(tap_failed, P(allowed, "src"), P(allowed, "mplink/sub"),
		       GRPC_INVALID_ARGUMENT);
	expect_refused(tap_failed, P(allowed, "src"), P(allowed, "mplink"), GRPC_INVALID_ARGUMENT);
	CHECK(!tu_exists(P(outside, "target/sub")));
	/* Same for an ephemeral mount point. */
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	Grpc__Storage s = mk("ephemeral", "tmpfs", "tmpfs", P(allowed, "mplink/eph"), NULL, 0);
	CHECK(storage_add(set, &s, &pol, &err) < 0);
	CHECK(!tu_exists(P(outside, "target/eph")));
	/* And a mount point outside the roots altogether. */
	Grpc__Storage s2 = mk("ephemeral", "tmpfs", "tmpfs", P(outside, "eph"), NULL, 0);
	CHECK(storage_add(set, &s2, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	CHECK(!tu_exists(P(outside, "eph")));
	storage_set_free(set);
	unlink(P(allowed, "mplink"));
}

/* virtio-fs and 9p: a bad tag or fstype is refused before anything; a tag
 * with no device behind it (this host has none) fails in the kernel; no
 * mount point is left either way. */
TEST(shared_fs_refusals_leave_nothing)
{
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	Grpc__Storage bad_tag = mk("virtio-fs", "a,b", "virtiofs", P(allowed, "sfs"), NULL, 0);
	CHECK(storage_add(set, &bad_tag, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	kerr_clear(&err);
	Grpc__Storage bad_type = mk("9p", "kataShared", "virtiofs", P(allowed, "sfs"), NULL, 0);
	CHECK(storage_add(set, &bad_type, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	kerr_clear(&err);
	char *o[] = { (char *)"trans=virtio" };
	Grpc__Storage nodev = mk("9p", "nosuchtag", "9p", P(allowed, "sfs"), o, 1);
	CHECK(storage_add(set, &nodev, &pol, &err) < 0);
	printf("# 9p without a device: %s\n", err.msg);
	CHECK(!tu_exists(P(allowed, "sfs")));
	storage_set_free(set);
}

TEST(unknown_driver_unimplemented)
{
	/* (blk, scsi, nvdimm, mmioblk, overlayfs: tests/unit/test_block_storage.c) */
	const char *drivers[] = { "ccw", "image_guest_pull", "uds" };
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		Grpc__Storage s = mk(drivers[i], "tag", "virtiofs", P(allowed, "vfs"), NULL, 0);
		kerr_clear(&err);
		CHECK(storage_add(set, &s, &pol, &err) < 0);
		CHECK_EQ_INT(kerr_status(&err), GRPC_UNIMPLEMENTED);
		CHECK(strstr(err.msg, drivers[i]) != NULL);
	}
	printf("# %s\n", err.msg);
	CHECK(!tu_exists(P(allowed, "vfs")));
	storage_set_free(set);
}

TEST(shared_refcount)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *a = NULL, *b = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&a, &err) == 0 && storage_set_new(&b, &err) == 0);
	char *mp = P(allowed, "shared/e");
	Grpc__Storage s = mk("ephemeral", "tmpfs", "tmpfs", mp, NULL, 0);
	s.shared = 1;
	CHECK(storage_add(a, &s, &pol, &err) == 0);
	CHECK(storage_add(b, &s, &pol, &err) == 0);
	/* A different storage on the same mount point is refused. */
	mkdir(P(allowed, "src"), 0755);
	Grpc__Storage other = mk("bind", P(allowed, "src"), "bind", mp, NULL, 0);
	CHECK(storage_add(b, &other, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_FAILED_PRECONDITION);
	char *mi = tu_read_file("/proc/self/mountinfo");
	/* Mounted once. */
	char *first = mi ? strstr(mi, mp) : NULL;
	CHECK(first && !strstr(first + 1, mp));
	free(mi);
	storage_set_free(a);
	CHECK(is_fs(mp, TMPFS_MAGIC));
	storage_set_free(b);
	CHECK(!tu_exists(mp));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

TEST(bad_mount_points)
{
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	const char *bad[] = { "relative/path", "", allowed };
	for (size_t i = 0; i < 3; i++) {
		Grpc__Storage s = mk("ephemeral", "tmpfs", "tmpfs", bad[i], NULL, 0);
		kerr_clear(&err);
		CHECK(storage_add(set, &s, &pol, &err) < 0);
		CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	}
	char dots[PATH_MAX];
	snprintf(dots, sizeof(dots), "%s/a/../b", allowed);
	Grpc__Storage s = mk("local", "local", "local", dots, NULL, 0);
	CHECK(storage_add(set, &s, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	CHECK(!tu_exists(P(allowed, "a")) && !tu_exists(P(allowed, "b")));
	storage_set_free(set);
}

/* Review finding 1: A at n/x/y, then B (another set) mounted over n/x;
 * releasing A first must still detach A (through its own fd, the path now
 * leads into B), then B. */
TEST(covered_mount_released)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *a = NULL, *b = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&a, &err) == 0 && storage_set_new(&b, &err) == 0);
	char inner[PATH_MAX], outer[PATH_MAX];
	snprintf(inner, sizeof(inner), "%s", P(allowed, "cov/x/y"));
	snprintf(outer, sizeof(outer), "%s", P(allowed, "cov/x"));
	Grpc__Storage in = mk("ephemeral", "tmpfs", "tmpfs", inner, NULL, 0);
	Grpc__Storage out = mk("ephemeral", "tmpfs", "tmpfs", outer, NULL, 0);
	CHECK(storage_add(a, &in, &pol, &err) == 0);
	CHECK(storage_add(b, &out, &pol, &err) == 0);
	/* A directory named like A's inside B is not A's to remove. */
	CHECK(mkdir(inner, 0755) == 0);
	storage_set_free(a);
	CHECK(is_fs(outer, TMPFS_MAGIC));
	CHECK(tu_exists(inner));
	char *mid = tu_read_file("/proc/self/mountinfo");
	/* Only B's mount is left. */
	char *first = mid ? strstr(mid, outer) : NULL;
	CHECK(first && !strstr(first + 1, outer));
	free(mid);
	storage_set_free(b);
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
	/* Released in the other order too. */
	before = tu_read_file("/proc/self/mountinfo");
	REQUIRE(storage_set_new(&a, &err) == 0 && storage_set_new(&b, &err) == 0);
	CHECK(storage_add(a, &in, &pol, &err) == 0);
	CHECK(storage_add(b, &out, &pol, &err) == 0);
	storage_set_free(b);
	storage_set_free(a);
	after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

/* Review finding 2: an in-root symlink must not give one directory a second
 * mount point name (two mounts stacked on it); any symlink in a mount point
 * path is refused, and a held mount point is found by what it is. */
TEST(symlinked_mount_point_refused)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	mkdir(P(allowed, "real"), 0755);
	mkdir(P(allowed, "real/sub"), 0755);
	CHECK(symlink("real", P(allowed, "alias")) == 0);
	struct storage_set *a = NULL, *b = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&a, &err) == 0 && storage_set_new(&b, &err) == 0);
	Grpc__Storage r1 = mk("ephemeral", "tmpfs", "tmpfs", P(allowed, "real"), NULL, 0);
	CHECK(storage_add(a, &r1, &pol, &err) == 0);
	const char *bad[] = { "alias", "alias/sub", "alias/new/dir" };
	for (size_t i = 0; i < 3; i++) {
		Grpc__Storage r2 = mk("ephemeral", "tmpfs", "tmpfs", P(allowed, bad[i]), NULL, 0);
		kerr_clear(&err);
		CHECK(storage_add(b, &r2, &pol, &err) < 0);
		CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	}
	printf("# %s\n", err.msg);
	Grpc__Storage l = mk("local", "local", "local", P(allowed, "alias/sub"), NULL, 0);
	CHECK(storage_add(b, &l, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	/* Another spelling of the held mount point shares it. */
	char spelled[PATH_MAX];
	snprintf(spelled, sizeof(spelled), "%s/./real/", allowed);
	Grpc__Storage r3 = mk("ephemeral", "tmpfs", "tmpfs", spelled, NULL, 0);
	CHECK(storage_add(b, &r3, &pol, &err) == 0);
	CHECK_EQ_INT(storage_set_count(b), 1);
	storage_set_free(a);
	CHECK(is_fs(P(allowed, "real"), TMPFS_MAGIC));
	storage_set_free(b);
	CHECK(!is_fs(P(allowed, "real"), TMPFS_MAGIC));
	CHECK(!tu_exists(P(allowed, "real/new")));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
	unlink(P(allowed, "alias"));
}

/* Review finding 4: the handler is chosen by driver alone, as upstream. */
TEST(driver_picks_handler)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	mkdir(P(allowed, "src"), 0755);
	/* "local" with fstype "bind": a local directory, no mount. */
	char *mp = P(allowed, "drv/loc");
	Grpc__Storage l = mk("local", P(allowed, "src"), "bind", mp, NULL, 0);
	int r = storage_add(set, &l, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	struct stat st, sst;
	CHECK(stat(mp, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat(P(allowed, "src"), &sst) == 0 && st.st_ino != sst.st_ino);
	/* "ephemeral" with fstype "bind": still a tmpfs. */
	char *ep = P(allowed, "drv/eph");
	Grpc__Storage e = mk("ephemeral", P(allowed, "src"), "", ep, NULL, 0);
	CHECK(storage_add(set, &e, &pol, &err) == 0);
	CHECK(is_fs(ep, TMPFS_MAGIC));
	/* No driver: refused whatever the fstype. */
	Grpc__Storage n = mk("", P(allowed, "src"), "bind", P(allowed, "drv/none"), NULL, 0);
	kerr_clear(&err);
	CHECK(storage_add(set, &n, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	CHECK(!tu_exists(P(allowed, "drv/none")));
	storage_set_free(set);
	CHECK(!tu_exists(P(allowed, "drv")));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

/* fsgid= without mode= on "local" changes the group only (upstream). */
TEST(local_fsgid_without_mode)
{
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *mp = P(allowed, "lg");
	mkdir(mp, 0700);
	chmod(mp, 0700);
	char *opts[] = { "fsgid=4321" };
	Grpc__Storage s = mk("local", "local", "", mp, opts, 1);
	CHECK(storage_add(set, &s, &pol, &err) == 0);
	struct stat st;
	CHECK(stat(mp, &st) == 0 && st.st_gid == 4321 && (st.st_mode & 07777) == 0700);
	storage_set_free(set);
	rmdir(mp);
}

/* Storages as kata_agent.go handleHugepages sends a hugepages emptyDir:
 * driver ephemeral, source "nodev", fstype hugetlbfs, one option string
 * "pagesize=<bytes>,size=<bytes>". The pool file is a fake (the test must
 * not change this machine's huge pages); the mount is real. */
TEST(ephemeral_hugetlbfs)
{
	if (!tu_exists("/sys/kernel/mm/hugepages/hugepages-2048kB"))
		SKIP_KERNEL("no 2 MiB huge pages in this kernel");
	char *before = tu_read_file("/proc/self/mountinfo");
	char *fake = P(base, "hp");
	mkdir(fake, 0755);
	mkdir(P(fake, "hugepages-2048kB"), 0755);
	tu_write_file(P(fake, "hugepages-2048kB/nr_hugepages"), "0\n", 0644);
	storage_hugepages_sysfs = fake;
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *bad[] = { "pagesize=2097152" };
	Grpc__Storage s = mk("ephemeral", "nodev", "hugetlbfs", P(allowed, "eph/hp"), bad, 1);
	CHECK(storage_add(set, &s, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	printf("# %s\n", err.msg);
	CHECK(!tu_exists(P(allowed, "eph")));
	char *opts[] = { "pagesize=2097152,size=4194304" };
	s = mk("ephemeral", "nodev", "hugetlbfs", P(allowed, "eph/hp"), opts, 1);
	kerr_clear(&err);
	int r = storage_add(set, &s, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	CHECK(is_fs(P(allowed, "eph/hp"), HUGETLBFS_MAGIC));
	char *n = tu_read_file(P(fake, "hugepages-2048kB/nr_hugepages"));
	CHECK(n && atoi(n) == 2);
	free(n);
	char *mi = tu_read_file("/proc/self/mountinfo");
	CHECK(mi && strstr(mi, "pagesize=2M"));
	free(mi);
	storage_set_free(set);
	storage_hugepages_sysfs = "/sys/kernel/mm/hugepages";
	CHECK(!tu_exists(P(allowed, "eph")));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

/* UpdateEphemeralMounts as Sandbox.prepareEphemeralMounts sends it:
 * ["remount", "size=<n>M"] for the memory emptyDir. */
TEST(update_ephemeral_with_remount)
{
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *mp = P(allowed, "sandbox/ephemeral/cache");
	Grpc__Storage s = mk("ephemeral", "tmpfs", "tmpfs", mp, NULL, 0);
	REQUIRE(storage_add(set, &s, &pol, &err) == 0);
	char *opts[] = { "remount", "size=2M", "fsgid=0" };
	Grpc__Storage u = mk("ephemeral", "tmpfs", "tmpfs", mp, opts, 3);
	int r = storage_update_ephemeral(&u, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	struct statfs sf;
	CHECK(statfs(mp, &sf) == 0 && (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize == 2u << 20);
	storage_set_free(set);
	CHECK(!tu_exists(P(allowed, "sandbox")));
}

static bool file_is(const char *path, const char *want)
{
	char *got = tu_read_file(path);
	bool ok = got && !strcmp(got, want);
	free(got);
	return ok;
}

/* watchable-bind as container.go mountSharedDirMounts sends a ConfigMap:
 * source the shared file's guest path, mount point
 * <shared>/shared/containers/watchable/<base>, fstype "bind". The source has
 * Kubernetes' layout (..data -> ..2024_1, key -> ..data/key), a symlink out
 * of the shared dir and a FIFO. The poll is driven here (watch_tick). */
TEST(watchable_bind)
{
	char *before = tu_read_file("/proc/self/mountinfo");
	char src[400], dst[400];
	snprintf(src, sizeof(src), "%.300s/shared/containers/cm", allowed);
	snprintf(dst, sizeof(dst), "%.300s/shared/containers/watchable/cm", allowed);
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p '%s/..2024_1'; echo v1 > '%s/..2024_1/key'; "
		 "ln -s ..2024_1 '%s/..data'; ln -s ..data/key '%s/key'; "
		 "echo SECRET > '%s/cmsecret'; ln -s '%s/cmsecret' '%s/out'; "
		 "ln -s ../../../../outside/cmsecret '%s/rel'; mkfifo '%s/fifo'",
		 src, src, src, src, outside, outside, src, src, src);
	REQUIRE(system(cmd) == 0);
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	char *opts[] = { "rbind", "rprivate", "ro" };
	Grpc__Storage s = mk("watchable-bind", src, "bind", dst, opts, 3);
	int r = storage_add(set, &s, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	CHECK(is_fs(P(allowed, "shared/containers/watchable"), TMPFS_MAGIC));
	CHECK(file_is(P(dst, "key"), "v1\n"));
	char link[PATH_MAX] = "";
	CHECK(readlink(P(dst, "out"), link, sizeof(link) - 1) > 0 &&
	      strstr(link, "/outside/cmsecret"));
	snprintf(cmd, sizeof(cmd), "! grep -rs SECRET '%s' && [ ! -e '%s/fifo' ]", dst, dst);
	CHECK(system(cmd) == 0);
	CHECK(watch_count() == 1);

	/* The host swaps the data as the kubelet does: new dir, symlink
	 * renamed over ..data, old dir removed. */
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir '%s/..2024_2'; echo value2 > '%s/..2024_2/key'; "
		 "ln -s ..2024_2 '%s/..tmp'; mv -T '%s/..tmp' '%s/..data'; rm -rf '%s/..2024_1'",
		 src, src, src, src, src, src);
	REQUIRE(system(cmd) == 0);
	CHECK(watch_tick() == 1);
	CHECK(file_is(P(dst, "key"), "value2\n"));
	CHECK(!tu_exists(P(dst, "..2024_1")));

	/* Over 16 entries: bound instead, no longer polled, the source seen. */
	snprintf(cmd, sizeof(cmd), "for i in $(seq 1 20); do echo $i > '%s/f'$i; done", src);
	REQUIRE(system(cmd) == 0);
	CHECK(watch_tick() == 0);
	CHECK(file_is(P(dst, "f20"), "20\n"));
	char *mi = tu_read_file("/proc/self/mountinfo");
	CHECK(mi && strstr(mi, dst));
	free(mi);

	storage_set_free(set);
	CHECK(!tu_exists(P(allowed, "shared/containers/watchable/cm")));
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK_EQ_STR(after, before);
	free(before);
	free(after);
}

/* A single-file watchable-bind: the copy is rewritten in place, so a bind
 * of that file (the container's) sees the change. */
TEST(watchable_bind_file)
{
	char src[400], dst[400];
	snprintf(src, sizeof(src), "%.300s/shared/containers/single.conf", allowed);
	snprintf(dst, sizeof(dst), "%.300s/shared/containers/watchable/single.conf", allowed);
	mkdir(P(allowed, "shared"), 0755);
	mkdir(P(allowed, "shared/containers"), 0755);
	tu_write_file(src, "a\n", 0644);
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	Grpc__Storage s = mk("watchable-bind", src, "bind", dst, NULL, 0);
	int r = storage_add(set, &s, &pol, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	struct stat a, b;
	CHECK(file_is(dst, "a\n") && stat(dst, &a) == 0);
	tu_write_file(src, "bbb\n", 0644);
	CHECK(watch_tick() == 1);
	CHECK(file_is(dst, "bbb\n") && stat(dst, &b) == 0 && a.st_ino == b.st_ino);
	storage_set_free(set);
	CHECK(!tu_exists(dst));
	CHECK(watch_count() == 0);
	unlink(src);
}

/* A watchable-bind whose mount point is not where the runtime puts them,
 * or whose source leads out, is refused and leaves nothing. */
TEST(watchable_bind_refusals)
{
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	mkdir(P(allowed, "w"), 0755);
	Grpc__Storage s = mk("watchable-bind", P(allowed, "w"), "bind", P(allowed, "elsewhere/x"),
			     NULL, 0);
	CHECK(storage_add(set, &s, &pol, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	printf("# %s\n", err.msg);
	CHECK(symlink(outside, P(allowed, "wout")) == 0);
	s = mk("watchable-bind", P(allowed, "wout"), "bind",
	       P(allowed, "shared/containers/watchable/x"), NULL, 0);
	kerr_clear(&err);
	CHECK(storage_add(set, &s, &pol, &err) < 0);
	printf("# %s\n", err.msg);
	CHECK_EQ_INT(storage_set_count(set), 0);
	CHECK(!tu_exists(P(allowed, "shared/containers/watchable/x")));
	CHECK(!is_fs(P(allowed, "shared/containers/watchable"), TMPFS_MAGIC));
	storage_set_free(set);
	unlink(P(allowed, "wout"));
	rmdir(P(allowed, "w"));
}

/* RemoveStaleVirtiofsShareMounts: every mount below the dir is looked up. */
TEST(revalidate_shares)
{
	struct storage_set *set = NULL;
	struct kerr err = { 0 };
	REQUIRE(storage_set_new(&set, &err) == 0);
	Grpc__Storage a = mk("ephemeral", "tmpfs", "tmpfs", P(allowed, "sc/a b"), NULL, 0);
	Grpc__Storage b = mk("ephemeral", "tmpfs", "tmpfs", P(allowed, "other/c"), NULL, 0);
	REQUIRE(storage_add(set, &a, &pol, &err) == 0 && storage_add(set, &b, &pol, &err) == 0);
	CHECK_EQ_INT(storage_revalidate_shares(P(allowed, "sc")), 1);
	storage_set_free(set);
	CHECK_EQ_INT(storage_revalidate_shares(P(allowed, "sc")), 0);
}

int main(void)
{
	if (tu_main_root_mount_ns() < 0)
		return 0;
	char tmpl[] = "/tmp/test-storage-XXXXXX";
	char real[PATH_MAX];
	if (!mkdtemp(tmpl) || !realpath(tmpl, real) || strlen(real) >= sizeof(base)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	memcpy(base, real, strlen(real) + 1); /* fits: checked above */
	snprintf(allowed, sizeof(allowed), "%s/allowed", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	mkdir(allowed, 0755);
	mkdir(outside, 0755);
	roots[0] = allowed;
	int r = tap_run();
	tu_rm_rf(base);
	return r;
}
