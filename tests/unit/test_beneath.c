/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_beneath.c - common/beneath.c, the one way the executor writes a path
 * the host or a container can influence: every planted obstacle (a symlink
 * in any component, a fifo, a device node, a hard link, "..") is refused
 * and nothing is written outside; modes come out exact whatever the umask.
 * Device nodes need root (skipped otherwise). Reads for the host
 * (beneath_read_file) meet the same obstacles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "beneath.h"
#include "grpc_status.h"
#include "tap.h"
#include "testutil.h"

static char top[64];     /* the trusted directory */
static char outside[96]; /* where planted links point */

static void path_of(char *out, size_t n, const char *base, const char *rel)
{
	snprintf(out, n, "%s/%s", base, rel);
}

static int root_fd(void)
{
	struct kerr e = { 0 };
	return beneath_open_root(top, &e);
}

static bool empty_dir(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", dir);
	return system(cmd) == 0;
}

TEST(setup)
{
	snprintf(top, sizeof(top), "/tmp/test_beneath.XXXXXX");
	REQUIRE(mkdtemp(top) != NULL);
	snprintf(outside, sizeof(outside), "%s.outside", top);
	REQUIRE(mkdir(outside, 0755) == 0);
	umask(077);
}

TEST(rel_paths)
{
	CHECK(beneath_rel_ok("a"));
	CHECK(beneath_rel_ok("a/b/..c"));
	CHECK(!beneath_rel_ok(""));
	CHECK(!beneath_rel_ok("/a"));
	CHECK(!beneath_rel_ok("a/../b"));
	CHECK(!beneath_rel_ok("a/./b"));
	CHECK(!beneath_rel_ok("a//b"));
	CHECK(!beneath_rel_ok("a/"));
	CHECK(!beneath_rel_ok(".."));
	int root = root_fd();
	REQUIRE(root >= 0);
	struct kerr e = { 0 };
	CHECK(beneath_open_file(root, "../escape", O_WRONLY | O_CREAT, 0644, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	CHECK(beneath_open_dir(root, "/etc", true, 0755, &e) < 0);
	char p[128];
	snprintf(p, sizeof(p), "%s.escape", top);
	CHECK(access(p, F_OK) < 0);
	close(root);
}

TEST(directories_exact_mode)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	struct kerr e = { 0 };
	int d = beneath_open_dir(root, "a/b/c", true, 0750, &e);
	CHECK(d >= 0);
	close(d);
	char p[256];
	struct stat st;
	path_of(p, sizeof(p), top, "a/b/c");
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
	/* an existing directory keeps its mode */
	d = beneath_open_dir(root, "a/b", true, 0700, &e);
	CHECK(d >= 0);
	close(d);
	path_of(p, sizeof(p), top, "a/b");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0750);
	/* set-group-id directories (kubelet's fsGroup) come out as asked */
	bool created = false;
	d = beneath_mkdir(root, "g", 02775, &created, &e);
	CHECK(d >= 0 && created);
	close(d);
	path_of(p, sizeof(p), top, "g");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 02775);
	d = beneath_mkdir(root, "g", 0700, &created, &e);
	CHECK(d >= 0 && !created);
	close(d);
	/* without create: NOT_FOUND, nothing made */
	CHECK(beneath_open_dir(root, "nope/x", false, 0755, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_NOT_FOUND);
	path_of(p, sizeof(p), top, "nope");
	CHECK(access(p, F_OK) < 0);
	close(root);
}

/* A symlink planted in each component of sl/x/y/file, in turn: refused,
 * nothing written where it points. */
TEST(symlink_in_every_component)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	const char *links[] = { "sl", "sl/x", "sl/x/y", "sl/x/y/file" };
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char cmd[512], p[256];
		snprintf(cmd, sizeof(cmd), "rm -rf %s/sl %s/* && mkdir -p %s/sl/x/y", top, outside,
			 top);
		REQUIRE(system(cmd) == 0);
		path_of(p, sizeof(p), top, links[i]);
		REQUIRE(tu_rm_rf(p) == 0);
		REQUIRE(symlink(outside, p) == 0);
		struct kerr e = { 0 };
		int fd = beneath_write_file(root, "sl/x/y/file", "evil", 4, 0644, &e);
		if (fd >= 0)
			close(fd);
		printf("# link at %s: %s\n", links[i], e.msg);
		CHECK(fd < 0);
		CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
		/* the same for directory creation below it */
		int d = beneath_open_dir(root, "sl/x/y/newdir", true, 0755, &e);
		if (d >= 0)
			close(d);
		CHECK(i == 3 || d < 0);
		CHECK(empty_dir(outside));
	}
	close(root);
}

TEST(relative_symlink_inside_refused_too)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	char p[256];
	path_of(p, sizeof(p), top, "real");
	REQUIRE(mkdir(p, 0755) == 0);
	path_of(p, sizeof(p), top, "alias");
	REQUIRE(symlink("real", p) == 0);
	struct kerr e = { 0 };
	CHECK(beneath_write_file(root, "alias/f", "x", 1, 0644, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
	path_of(p, sizeof(p), top, "real/f");
	CHECK(access(p, F_OK) < 0);
	close(root);
}

TEST(write_file_content_and_mode)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	struct kerr e = { 0 };
	int fd = beneath_write_file(root, "a/b/c/resolv.conf", "nameserver 1.1.1.1\n", 19, 0644,
				    &e);
	CHECK(fd >= 0);
	close(fd);
	fd = beneath_write_file(root, "a/b/c/resolv.conf", "x\n", 2, 0644, &e);
	CHECK(fd >= 0);
	close(fd);
	char p[256], buf[64] = "";
	path_of(p, sizeof(p), top, "a/b/c/resolv.conf");
	FILE *f = fopen(p, "re");
	CHECK(f && fgets(buf, sizeof(buf), f));
	if (f)
		fclose(f);
	CHECK_EQ_STR(buf, "x\n");
	struct stat st;
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644);
	/* O_EXCL: it exists */
	CHECK(beneath_open_file(root, "a/b/c/resolv.conf", O_WRONLY | O_CREAT | O_EXCL, 0600, &e) <
	      0);
	CHECK_EQ_INT(e.status, GRPC_ALREADY_EXISTS);
	close(root);
}

TEST(fifo_refused_without_blocking)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	char p[256];
	path_of(p, sizeof(p), top, "fifo");
	REQUIRE(mkfifo(p, 0644) == 0);
	struct kerr e = { 0 };
	/* O_RDWR on a fifo would succeed and O_WRONLY would block or fail:
	 * neither is tried */
	CHECK(beneath_open_file(root, "fifo", O_RDWR, 0, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	CHECK(strstr(e.msg, "a fifo") != NULL);
	CHECK(beneath_write_file(root, "fifo", "x", 1, 0644, &e) < 0);
	struct stat st;
	CHECK(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode));
	close(root);
}

TEST(device_refused)
{
	if (geteuid() != 0)
		SKIP("mknod needs root");
	int root = root_fd();
	REQUIRE(root >= 0);
	char p[256];
	path_of(p, sizeof(p), top, "dev");
	REQUIRE(mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0);
	struct kerr e = { 0 };
	CHECK(beneath_open_file(root, "dev", O_RDWR, 0, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	CHECK(strstr(e.msg, "character device") != NULL);
	close(root);
}

TEST(hard_link_refused)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	char victim[256], p[256];
	path_of(victim, sizeof(victim), top, "victim");
	FILE *f = fopen(victim, "we");
	REQUIRE(f != NULL);
	fputs("precious\n", f);
	fclose(f);
	path_of(p, sizeof(p), top, "linked");
	REQUIRE(link(victim, p) == 0);
	struct kerr e = { 0 };
	CHECK(beneath_write_file(root, "linked", "evil", 4, 0644, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
	char buf[32] = "";
	f = fopen(victim, "re");
	CHECK(f && fgets(buf, sizeof(buf), f));
	if (f)
		fclose(f);
	CHECK_EQ_STR(buf, "precious\n");
	close(root);
}

TEST(chown_link_itself)
{
	if (geteuid() != 0)
		SKIP("chown needs root");
	int root = root_fd();
	REQUIRE(root >= 0);
	char target[256], p[256];
	path_of(target, sizeof(target), top, "owned");
	FILE *f = fopen(target, "we");
	REQUIRE(f != NULL);
	fclose(f);
	path_of(p, sizeof(p), top, "lnk");
	REQUIRE(symlink("owned", p) == 0);
	struct kerr e = { 0 };
	CHECK_EQ_INT(beneath_chown_link(root, "lnk", 1234, 1234, &e), 0);
	struct stat st;
	CHECK(lstat(p, &st) == 0 && st.st_uid == 1234);
	CHECK(stat(target, &st) == 0 && st.st_uid == 0);
	CHECK(beneath_chown_link(root, "owned", 1234, 1234, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	CHECK(stat(target, &st) == 0 && st.st_uid == 0);
	close(root);
}

TEST(mkdir_over_symlink_refused)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	char p[256];
	path_of(p, sizeof(p), top, "dl");
	REQUIRE(symlink(outside, p) == 0);
	struct kerr e = { 0 };
	CHECK(beneath_mkdir(root, "dl", 0777, NULL, &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
	struct stat st;
	CHECK(stat(outside, &st) == 0 && (st.st_mode & 07777) == 0755);
	close(root);
}

/* beneath_read_file: the first max bytes of a plain file, nothing through
 * a symlink, a fifo (without blocking), a device or a hard link. */
static void put(const char *rel, const char *text)
{
	char p[256];
	path_of(p, sizeof(p), top, rel);
	FILE *f = fopen(p, "we");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

TEST(read_file_bounded)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	put("msg", "0123456789");
	put("empty", "");
	char buf[16] = "";
	struct kerr e = { 0 };
	CHECK_EQ_INT(beneath_read_file(root, "msg", buf, 4, &e), 4);
	CHECK(memcmp(buf, "0123", 4) == 0);
	CHECK_EQ_INT(beneath_read_file(root, "msg", buf, sizeof(buf), &e), 10);
	CHECK_EQ_INT(beneath_read_file(root, "empty", buf, sizeof(buf), &e), 0);
	CHECK(beneath_read_file(root, "missing", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_NOT_FOUND);
	CHECK(beneath_read_file(root, "../msg", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	close(root);
}

TEST(read_refuses_links_fifos_and_devices)
{
	int root = root_fd();
	REQUIRE(root >= 0);
	char p[256], secret[256], buf[16];
	path_of(secret, sizeof(secret), outside, "secret");
	FILE *f = fopen(secret, "we");
	REQUIRE(f != NULL);
	fputs("secret", f);
	fclose(f);
	struct kerr e = { 0 };
	/* a symlink as the file, out of the directory and inside it */
	path_of(p, sizeof(p), top, "rl-out");
	REQUIRE(symlink(secret, p) == 0);
	CHECK(beneath_read_file(root, "rl-out", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
	path_of(p, sizeof(p), top, "rl-in");
	REQUIRE(symlink("msg", p) == 0);
	CHECK(beneath_read_file(root, "rl-in", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
	/* a symlinked directory on the way */
	path_of(p, sizeof(p), top, "rdl");
	REQUIRE(symlink(outside, p) == 0);
	CHECK(beneath_read_file(root, "rdl/secret", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
	/* a fifo nobody writes: refused at once, not a blocked read */
	path_of(p, sizeof(p), top, "rfifo");
	REQUIRE(mkfifo(p, 0644) == 0);
	CHECK(beneath_read_file(root, "rfifo", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	CHECK(strstr(e.msg, "a fifo") != NULL && strstr(e.msg, "not read") != NULL);
	/* a directory */
	CHECK(beneath_read_file(root, "a", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	/* a hard link (the victim of hard_link_refused has two) */
	CHECK(beneath_read_file(root, "linked", buf, sizeof(buf), &e) < 0);
	CHECK_EQ_INT(e.status, GRPC_PERMISSION_DENIED);
	/* a device node (made by device_refused when root) */
	path_of(p, sizeof(p), top, "dev");
	if (access(p, F_OK) == 0) {
		CHECK(beneath_read_file(root, "dev", buf, sizeof(buf), &e) < 0);
		CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
	} else {
		CHECK(geteuid() != 0); /* only device_refused's SKIP leaves none */
	}
	close(root);
}

TEST(teardown)
{
	CHECK(tu_rm_rf(top) == 0);
	CHECK(tu_rm_rf(outside) == 0);
}

int main(void)
{
	return tap_run();
}
