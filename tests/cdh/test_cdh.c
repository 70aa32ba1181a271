/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cdh.c - the test CDH (tests/cdh/test-cdh), the real binary, driven
 * through the agent's CDH client (common/cdh_client.c) as upstream's agent
 * calls the CDH.
 *
 * PullImage gets the busybox image tests/cdh/make-oci-image builds, and
 * hostile layers this file writes with libarchive: entries named with ".."
 * or "/", a directory or a hard link reached through a symlink that leads
 * out of the rootfs, a symlink replaced by a file, a blob whose content
 * does not match its digest. Each hostile pull must fail naming the entry
 * and leave nothing outside the bundle's rootfs.
 *
 * Environment: TEST_CDH (the binary), MAKE_OCI_IMAGE (the script).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base64.h"
#include "cdh_client.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "tap.h"
#include "testutil.h"

extern char **environ;

static char tmp[64];           /* per-run scratch directory */
static char busybox[PATH_MAX]; /* the busybox layout */

/* tmp/<fmt...> in one of 8 rotating buffers: for immediate use only;
 * keep a path with strdup. */
static const char *path_in(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *path_in(const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];
	int n = snprintf(b, PATH_MAX, "%s/", tmp);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b + n, PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

/* ---------------------------------------------------- the test CDH */

struct cdh {
	pid_t pid;
	char addr[PATH_MAX + 8];
	struct cdh_client *client;
};

static int spawn_ready(pid_t *pid, const char **argv);

/* Start test-cdh with its socket in a fresh directory and extra args
 * (NULL-terminated), and wait for its ready line. */
static int cdh_start(struct cdh *c, const char *name, ...)
{
	const char *dir = path_in("%s", name);
	if (mkdir(dir, 0755) < 0)
		return -1;
	char sock[PATH_MAX];
	snprintf(sock, sizeof(sock), "%s/cdh.sock", dir);
	snprintf(c->addr, sizeof(c->addr), "unix://%s", sock);
	const char *argv[32] = { getenv("TEST_CDH"), "--socket", sock, "--ready-fd", "3" };
	int argc = 5;
	va_list ap;
	va_start(ap, name);
	for (const char *a; argc < 31 && (a = va_arg(ap, const char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	int r = spawn_ready(&c->pid, argv);
	struct kerr err;
	if (r == 0)
		r = cdh_client_new_at(&c->client, c->addr, 50000, 1200000, &err);
	return r;
}

/* Spawn argv (which asks for "--ready-fd 3") and wait for its ready line. */
static int spawn_ready(pid_t *pid, const char **argv)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 3);
	int r = posix_spawn(pid, argv[0], &fa, NULL, (char **)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	char buf[8] = "";
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };
	if (r == 0 && poll(&pfd, 1, 10000) == 1 && read(p[0], buf, sizeof(buf)) > 0)
		r = strncmp(buf, "ready\n", 6) == 0 ? 0 : -1;
	else
		r = -1;
	close(p[0]);
	return r;
}

/* Stop it; returns its exit status (or 128 + signal). */
static int cdh_stop(struct cdh *c)
{
	cdh_client_free(c->client);
	c->client = NULL;
	kill(c->pid, SIGTERM);
	int st;
	waitpid(c->pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ------------------------------------------------ image layouts */

struct entry {
	char type; /* 'f' file, 'd' dir, 'l' symlink, 'h' hard link */
	const char *path;
	const char *data; /* file content, symlink or hard link target */
};

static int sha256_file(const char *path, char hex[65])
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (fd < 0 || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	uint8_t buf[8192], md[32];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	unsigned int len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return n < 0 ? -1 : 0;
}

/* Move file into layout/blobs/sha256 under its digest; its descriptor. */
static json_t *add_blob(const char *layout, const char *file, const char *media_type)
{
	char hex[65], dst[PATH_MAX + 100];
	struct stat st;
	if (sha256_file(file, hex) < 0 || stat(file, &st) < 0)
		return NULL;
	snprintf(dst, sizeof(dst), "%s/blobs/sha256/%s", layout, hex);
	if (rename(file, dst) < 0)
		return NULL;
	char digest[80];
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size",
			 (json_int_t)st.st_size);
}

/* A tar layer of entries, written as given (no name is cleaned). */
/* Layers make_layout writes: plain tar, or tar+zstd when set. */
static bool zstd_layers;

static int write_layer(const char *file, const struct entry *e, size_t n)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if ((zstd_layers ? archive_write_add_filter_zstd(a) : archive_write_add_filter_none(a)) !=
		    ARCHIVE_OK ||
	    archive_write_open_filename(a, file) != ARCHIVE_OK) {
		archive_write_free(a);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_perm(ae, e[i].type == 'd' ? 0755 : 0644);
		switch (e[i].type) {
		case 'f':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			break;
		}
		archive_write_header(a, ae);
		if (e[i].type == 'f')
			archive_write_data(a, e[i].data, strlen(e[i].data));
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return 0;
}

/* A layout named name under tmp with one uncompressed layer per entry
 * list; returns its path (malloc'd). */
static char *make_layout(const char *name, const struct entry *l1, size_t n1,
			 const struct entry *l2, size_t n2)
{
	cleanup_free char *layout = strdup(path_in("%s", name));
	char blobs[PATH_MAX];
	snprintf(blobs, sizeof(blobs), "%s/blobs", layout);
	mkdir(layout, 0755);
	mkdir(blobs, 0755);
	strcat(blobs, "/sha256");
	mkdir(blobs, 0755);
	json_t *layers = json_array();
	const struct entry *ls[2] = { l1, l2 };
	size_t ns[2] = { n1, n2 };
	for (int i = 0; i < 2 && ls[i]; i++) {
		const char *f = path_in("%s.layer%d", name, i);
		if (write_layer(f, ls[i], ns[i]) < 0)
			return NULL;
		json_array_append_new(layers,
				      add_blob(layout, f,
					       zstd_layers
						       ? "application/vnd.oci.image.layer.v1.tar+zstd"
						       : "application/vnd.oci.image.layer.v1.tar"));
	}
	json_t *cfg = json_pack("{s:s, s:s, s:{s:[s]}}", "architecture", "amd64", "os", "linux",
				"config", "Cmd", "sh");
	const char *cf = path_in("%s.config", name);
	json_dump_file(cfg, cf, 0);
	json_decref(cfg);
	json_t *manifest = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
				     "application/vnd.oci.image.manifest.v1+json", "config",
				     add_blob(layout, cf,
					      "application/vnd.oci.image.config.v1+json"),
				     "layers", layers);
	const char *mf = path_in("%s.manifest", name);
	json_dump_file(manifest, mf, 0);
	json_decref(manifest);
	json_t *index = json_pack("{s:i, s:[o]}", "schemaVersion", 2, "manifests",
				  add_blob(layout, mf,
					   "application/vnd.oci.image.manifest.v1+json"));
	char idx[PATH_MAX + 16];
	snprintf(idx, sizeof(idx), "%s/index.json", layout);
	int r = json_dump_file(index, idx, 0);
	json_decref(index);
	return r == 0 ? take_ptr(&layout) : NULL;
}

/* Pull ref from a test CDH serving layout; returns the call's result and
 * leaves the error in err. */
static int pull(const char *name, const char *layout, const char *bundle, struct kerr *err)
{
	struct cdh c;
	char map[PATH_MAX + 32], dir[128];
	snprintf(map, sizeof(map), "img:1=%s", layout);
	snprintf(dir, sizeof(dir), "%s-cdh", name);
	if (cdh_start(&c, dir, "--image", map, NULL) < 0)
		return kerr_set(err, -EIO, "test-cdh did not start");
	int r = cdh_pull_image(c.client, "img:1", bundle, err);
	cdh_stop(&c);
	return r;
}

/* ---------------------------------------------------------- PullImage */

TEST(pull_busybox_image_into_the_bundle)
{
	struct cdh c;
	char map[PATH_MAX + 32];
	snprintf(map, sizeof(map), "registry.test/busybox:1.36=%s", busybox);
	REQUIRE(cdh_start(&c, "pull", "--image", map, NULL) == 0);
	cleanup_free char *bundle = strdup(path_in("pull/bundle"));
	REQUIRE(mkdir(bundle, 0755) == 0);
	struct kerr err = { 0 };
	int r = cdh_pull_image(c.client, "registry.test/busybox:1.36", bundle, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK_EQ_INT(r, 0);
	struct stat st;
	CHECK(stat(path_in("pull/bundle/rootfs/bin/busybox"), &st) == 0 && S_ISREG(st.st_mode) &&
	      (st.st_mode & 0111));
	char link[64] = "";
	CHECK(readlink(path_in("pull/bundle/rootfs/bin/sh"), link, sizeof(link) - 1) > 0);
	CHECK_EQ_STR(link, "busybox");
	CHECK(tu_exists(path_in("pull/bundle/rootfs/etc/passwd")));
	/* layer 2's whiteouts: the file is gone, the opaque directory holds
	 * only what layer 2 put there */
	CHECK(!tu_exists(path_in("pull/bundle/rootfs/etc/test-cdh-lower")));
	CHECK(tu_exists(path_in("pull/bundle/rootfs/etc/test-cdh-upper")));
	CHECK(!tu_exists(path_in("pull/bundle/rootfs/var/lower/a")));
	CHECK(!tu_exists(path_in("pull/bundle/rootfs/var/lower/b")));
	CHECK(tu_exists(path_in("pull/bundle/rootfs/var/lower/c")));
	CHECK(!tu_exists(path_in("pull/bundle/rootfs/var/lower/.wh..wh..opq")));
	CHECK(!tu_exists(path_in("pull/bundle/rootfs/etc/.wh.test-cdh-lower")));
	/* the unpacked busybox runs */
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "%s true", path_in("pull/bundle/rootfs/bin/busybox"));
	CHECK_EQ_INT(system(cmd), 0);
	/* config.json as image-rs writes it */
	json_error_t je;
	json_t *cfg = json_load_file(path_in("pull/bundle/config.json"), 0, &je);
	REQUIRE(cfg);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(cfg, "root"), "path")),
		     "rootfs");
	json_t *args = json_object_get(json_object_get(cfg, "process"), "args");
	CHECK(json_array_size(args) == 1 &&
	      strcmp(json_string_value(json_array_get(args, 0)), "sh") == 0);
	json_decref(cfg);
	/* a second pull of another reference of the same layout fails */
	r = cdh_pull_image(c.client, "registry.test/busybox:1.37", bundle, &err);
	CHECK(r < 0 && err.status == GRPC_INTERNAL);
	CHECK(strstr(err.msg, "[CDH] [ERROR]: test-cdh: no image is mapped to reference "
			      "\"registry.test/busybox:1.37\""));
	CHECK_EQ_INT(cdh_stop(&c), 128 + SIGTERM);
}

static void check_refused(const char *name, const struct entry *l1, size_t n1,
			  const struct entry *l2, size_t n2, const char *want, int *tap_failed)
{
	cleanup_free char *layout = make_layout(name, l1, n1, l2, n2);
	REQUIRE(layout);
	char bundle[PATH_MAX];
	snprintf(bundle, sizeof(bundle), "%s/%s-bundle", tmp, name);
	struct kerr err = { 0 };
	int r = pull(name, layout, bundle, &err);
	CHECK(r < 0);
	CHECK_EQ_INT(err.status, GRPC_INTERNAL);
	if (!strstr(err.msg, want))
		printf("# %s: \"%s\" lacks \"%s\"\n", name, err.msg, want);
	CHECK(strstr(err.msg, want) != NULL);
}

TEST(pull_refuses_a_dotdot_entry)
{
	/* the bundle is tmp/dotdot-bundle: "../../escaped" would be tmp/escaped */
	struct entry l1[] = { { 'f', "ok", "fine" }, { 'f', "../../dotdot-escaped", "x" } };
	check_refused("dotdot", l1, 2, NULL, 0, "entry \"../../dotdot-escaped\": \"..\" component",
		      tap_failed);
	CHECK(!tu_exists(path_in("dotdot-escaped")));
	struct entry l2[] = { { 'f', "a/b/../../../dotdot2-escaped", "x" } };
	check_refused("dotdot2", l2, 1, NULL, 0, "\"..\" component", tap_failed);
	CHECK(!tu_exists(path_in("dotdot2-escaped")));
}

TEST(pull_refuses_an_absolute_entry)
{
	cleanup_free char *victim = strdup(path_in("absolute-escaped"));
	struct entry l1[] = { { 'f', victim, "x" } };
	check_refused("absolute", l1, 1, NULL, 0, "absolute name", tap_failed);
	CHECK(!tu_exists(victim));
}

TEST(pull_refuses_a_directory_reached_through_an_escaping_symlink)
{
	/* absolute: "evil" -> tmp; then "evil/symlink-escaped" */
	struct entry l1[] = { { 'l', "evil", tmp } };
	struct entry l2[] = { { 'f', "evil/symlink-escaped", "x" } };
	check_refused("symabs", l1, 1, l2, 1, "\"evil\" leads out of the rootfs", tap_failed);
	CHECK(!tu_exists(path_in("symlink-escaped")));
	/* relative, in one layer: "up" -> "../..", then "up/symlink-escaped2" */
	struct entry l3[] = { { 'l', "up", "../.." }, { 'f', "up/symlink-escaped2", "x" } };
	check_refused("symrel", l3, 2, NULL, 0, "\"up\" leads out of the rootfs", tap_failed);
	CHECK(!tu_exists(path_in("symlink-escaped2")));
	/* a whiteout reached through the link must not delete outside either */
	cleanup_free char *keep = strdup(path_in("keep-me"));
	cleanup_fclose FILE *f = fopen(keep, "we");
	REQUIRE(f);
	struct entry l4[] = { { 'l', "out", tmp } };
	struct entry l5[] = { { 'f', "out/.wh.keep-me", "" } };
	check_refused("symwh", l4, 1, l5, 1, "\"out\" leads out of the rootfs", tap_failed);
	CHECK(tu_exists(keep));
}

TEST(pull_refuses_a_hard_link_out_of_the_rootfs)
{
	cleanup_free char *secret = strdup(path_in("hardlink-secret"));
	cleanup_fclose FILE *f = fopen(secret, "we");
	REQUIRE(f);
	struct entry l1[] = { { 'h', "h", "../../hardlink-secret" } };
	check_refused("hard1", l1, 1, NULL, 0, "hard link \"h\"", tap_failed);
	struct entry l2[] = { { 'l', "evil", tmp }, { 'h', "h", "evil/hardlink-secret" } };
	check_refused("hard2", l2, 2, NULL, 0, "\"evil\" leads out of the rootfs", tap_failed);
	struct stat st;
	CHECK(stat(secret, &st) == 0 && st.st_nlink == 1);
}

TEST(pull_replaces_a_symlink_instead_of_writing_through_it)
{
	cleanup_free char *victim = strdup(path_in("through-victim"));
	cleanup_fclose FILE *f = fopen(victim, "we");
	REQUIRE(f && fputs("original", f) >= 0 && fflush(f) == 0);
	struct entry l1[] = { { 'l', "victim", victim }, { 'd', "dir", NULL } };
	struct entry l2[] = { { 'f', "victim", "new content" }, { 'l', "dir", victim } };
	cleanup_free char *layout = make_layout("through", l1, 2, l2, 2);
	REQUIRE(layout);
	cleanup_free char *bundle = strdup(path_in("through-bundle"));
	struct kerr err = { 0 };
	CHECK_EQ_INT(pull("through", layout, bundle, &err), 0);
	cleanup_free char *outside = tu_read_file(victim);
	CHECK_EQ_STR(outside, "original");
	cleanup_free char *inside = tu_read_file(path_in("through-bundle/rootfs/victim"));
	CHECK_EQ_STR(inside, "new content");
	struct stat st;
	CHECK(lstat(path_in("through-bundle/rootfs/dir"), &st) == 0 && S_ISLNK(st.st_mode));
}

TEST(pull_refuses_a_blob_that_does_not_match_its_digest)
{
	struct entry l1[] = { { 'f', "file", "genuine" } };
	cleanup_free char *layout = make_layout("tamper", l1, 1, NULL, 0);
	REQUIRE(layout);
	/* rewrite the layer blob in place, same size */
	json_error_t je;
	char idx[PATH_MAX + 16];
	snprintf(idx, sizeof(idx), "%s/index.json", layout);
	json_t *index = json_load_file(idx, 0, &je);
	REQUIRE(index);
	const char *md = json_string_value(
		json_object_get(json_array_get(json_object_get(index, "manifests"), 0), "digest"));
	char mpath[PATH_MAX + 100];
	snprintf(mpath, sizeof(mpath), "%s/blobs/sha256/%s", layout, md + 7);
	json_t *manifest = json_load_file(mpath, 0, &je);
	json_decref(index);
	REQUIRE(manifest);
	const char *ld = json_string_value(
		json_object_get(json_array_get(json_object_get(manifest, "layers"), 0), "digest"));
	char lpath[PATH_MAX + 100];
	snprintf(lpath, sizeof(lpath), "%s/blobs/sha256/%s", layout, ld + 7);
	json_decref(manifest);
	int fd = open(lpath, O_WRONLY | O_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, "X", 1, 0) == 1);
	close(fd);
	struct kerr err = { 0 };
	CHECK(pull("tamper", layout, path_in("tamper-bundle"), &err) < 0);
	CHECK(strstr(err.msg, "content has digest") != NULL);
	CHECK(!tu_exists(path_in("tamper-bundle/rootfs/file")));
}

TEST(pull_reads_zstd_layers)
{
	struct entry l1[] = { { 'd', "z", NULL }, { 'f', "z/file", "zstd content" } };
	zstd_layers = true;
	cleanup_free char *layout = make_layout("zstd", l1, 2, NULL, 0);
	zstd_layers = false;
	if (!layout)
		SKIP("this libarchive cannot write zstd");
	struct kerr err = { 0 };
	int r = pull("zstd", layout, path_in("zstd-bundle"), &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK_EQ_INT(r, 0);
	cleanup_free char *text = tu_read_file(path_in("zstd-bundle/rootfs/z/file"));
	CHECK_EQ_STR(text, "zstd content");
}

/* ------------------------------------------------------ UnsealSecret */

static char *sealed(const char *plaintext)
{
	char raw[256];
	snprintf(raw, sizeof(raw), "test:%s", plaintext);
	cleanup_free char *b = base64_encode((const uint8_t *)raw, strlen(raw));
	char *s = malloc(strlen(b) + 8);
	sprintf(s, "sealed.%s", b);
	return s;
}

TEST(unseal_test_format_and_refuse_the_rest)
{
	struct cdh c;
	REQUIRE(cdh_start(&c, "unseal", NULL) == 0);
	struct kerr err = { 0 };
	uint8_t *plain = NULL;
	size_t n = 0;
	cleanup_free char *s = sealed("hunter2");
	/* upstream's unseal_env passes the value after "KEY=" */
	CHECK_EQ_INT(cdh_unseal_secret(c.client, (uint8_t *)s, strlen(s), &plain, &n, &err), 0);
	CHECK(n == 7 && plain && strcmp((char *)plain, "hunter2") == 0);
	free(plain);
	const char *bad[][2] = {
		{ "plain-value", "secret \"plain-value\" does not start with \"sealed.\"" },
		{ "sealed.%%%", "secret \"sealed.%%%\" is not \"sealed.\" + base64" },
		/* base64("nope:x") */
		{ "sealed.bm9wZTp4", "secret \"sealed.bm9wZTp4\" is not a test-cdh secret" },
	};
	for (size_t i = 0; i < 3; i++) {
		int r = cdh_unseal_secret(c.client, (const uint8_t *)bad[i][0], strlen(bad[i][0]),
					  &plain, &n, &err);
		CHECK(r < 0 && err.status == GRPC_INTERNAL);
		if (!strstr(err.msg, bad[i][1]))
			printf("# got \"%s\"\n", err.msg);
		CHECK(strstr(err.msg, "CDH UnsealSecret: [CDH] [ERROR]: test-cdh: ") == err.msg);
		CHECK(strstr(err.msg, bad[i][1]) != NULL);
	}
	cdh_stop(&c);
}

/* ------------------------------------------------------- SecureMount */

TEST(secure_mount_is_recorded_and_its_mount_point_made)
{
	struct cdh c;
	cleanup_free char *log = strdup(path_in("mounts.log"));
	REQUIRE(cdh_start(&c, "smount", "--mount-log", log, NULL) == 0);
	struct cdh_option opts[] = { { "deviceId", "/dev/vdb" }, { "encryptType", "LUKS" } };
	const char *flags[] = { "ro" };
	cleanup_free char *mp = strdup(path_in("smount/storage/ephemeral"));
	struct kerr err = { 0 };
	CHECK_EQ_INT(cdh_secure_mount(c.client, "block-device", opts, 2, flags, 1, mp, &err), 0);
	struct stat st;
	CHECK(stat(mp, &st) == 0 && S_ISDIR(st.st_mode));
	cdh_stop(&c);
	/* a CDH told to fail records the call all the same */
	REQUIRE(cdh_start(&c, "smount2", "--mount-log", log, "--fail-secure-mount", NULL) == 0);
	int r = cdh_secure_mount(c.client, "block-device", NULL, 0, NULL, 0, "/nonexistent/x",
				 &err);
	CHECK(r < 0 && err.status == GRPC_INTERNAL);
	CHECK(strstr(err.msg, "secure mount of /nonexistent/x refused") != NULL);
	CHECK(!tu_exists("/nonexistent"));
	cdh_stop(&c);
	cleanup_free char *text = tu_read_file(log);
	REQUIRE(text);
	char want[PATH_MAX * 2];
	snprintf(want, sizeof(want),
		 "{\"volume_type\":\"block-device\",\"options\":{\"deviceId\":\"/dev/vdb\","
		 "\"encryptType\":\"LUKS\"},\"flags\":[\"ro\"],\"mount_point\":\"%s\"}\n"
		 "{\"volume_type\":\"block-device\",\"options\":{},\"flags\":[],"
		 "\"mount_point\":\"/nonexistent/x\"}\n",
		 mp);
	CHECK_EQ_STR(text, want);
}

/* ------------------------------------------------------- GetResource */

TEST(get_resource_serves_files_below_its_directory_only)
{
	cleanup_free char *res = strdup(path_in("resources"));
	REQUIRE(mkdir(res, 0755) == 0 && mkdir(path_in("resources/default"), 0755) == 0 &&
		mkdir(path_in("resources/default/key"), 0755) == 0);
	FILE *f = fopen(path_in("resources/default/key/1"), "we");
	REQUIRE(f && fputs("key one", f) >= 0 && fclose(f) == 0);
	f = fopen(path_in("outside-resource"), "we");
	REQUIRE(f && fputs("outside", f) >= 0 && fclose(f) == 0);
	REQUIRE(symlink(path_in("outside-resource"), path_in("resources/default/key/link")) == 0);
	struct cdh c;
	REQUIRE(cdh_start(&c, "res", "--resources", res, NULL) == 0);
	struct kerr err = { 0 };
	uint8_t *data = NULL;
	size_t n = 0;
	CHECK_EQ_INT(cdh_get_resource(c.client, "kbs:///default/key/1", &data, &n, &err), 0);
	CHECK(n == 7 && data && strcmp((char *)data, "key one") == 0);
	free(data);
	const char *bad[][2] = {
		{ "kbs:///default/key/2", "resource kbs:///default/key/2: not found" },
		{ "kbs:///../outside-resource", "Invalid cross-device link" },
		{ "kbs:///default/key/link", "Too many levels of symbolic links" },
		{ "file:///etc/passwd", "is not kbs://[HOST]/PATH" },
	};
	for (size_t i = 0; i < 4; i++) {
		int r = cdh_get_resource(c.client, bad[i][0], &data, &n, &err);
		CHECK(r < 0 && err.status == GRPC_INTERNAL);
		if (!strstr(err.msg, bad[i][1]))
			printf("# got \"%s\"\n", err.msg);
		CHECK(strstr(err.msg, bad[i][1]) != NULL);
	}
	cdh_stop(&c);
}

/* ------------------------------------------- -c, as the agent runs it */

/* The agent launches the CDH with -c and the initdata's cdh.toml only
 * (agentd/parent/guest_components.h): the socket comes from the file, its
 * directory is made and an old socket replaced, as the real CDH does. */
TEST(config_file_gives_the_socket_and_the_resources)
{
	REQUIRE(mkdir(path_in("cfgres"), 0755) == 0);
	FILE *f = fopen(path_in("cfgres/marker"), "we");
	REQUIRE(f && fputs("from cdh.toml", f) >= 0 && fclose(f) == 0);
	cleanup_free char *sock = strdup(path_in("cfg/sub/cdh.sock"));
	cleanup_free char *conf = strdup(path_in("cdh.toml"));
	f = fopen(conf, "we");
	REQUIRE(f &&
		fprintf(f,
			"socket = 'unix://%s'\n[kbc]\nname = 'cc_kbc'\n"
			"url = 'http://kbs.example:8080'\n[test_cdh]\nresources = '%s'\n",
			sock, path_in("cfgres")) > 0 &&
		fclose(f) == 0);
	/* an old socket at that path (a dead CDH's) */
	REQUIRE(mkdir(path_in("cfg"), 0755) == 0 && mkdir(path_in("cfg/sub"), 0755) == 0);
	int old = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	REQUIRE(old >= 0 && bind(old, (struct sockaddr *)&a, sizeof(a)) == 0);
	close(old);
	const char *argv[] = { getenv("TEST_CDH"), "-c", conf, "--ready-fd", "3", NULL };
	pid_t pid;
	CHECK_EQ_INT(spawn_ready(&pid, argv), 0);
	struct cdh c = { .pid = pid };
	snprintf(c.addr, sizeof(c.addr), "unix://%s", sock);
	struct kerr err = { 0 };
	REQUIRE(cdh_client_new_at(&c.client, c.addr, 5000, 5000, &err) == 0);
	uint8_t *data = NULL;
	size_t n = 0;
	int r = cdh_get_resource(c.client, "kbs:///marker", &data, &n, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0 && data && strcmp((char *)data, "from cdh.toml") == 0);
	free(data);
	cdh_stop(&c);
	/* a config that is not TOML: refused at start */
	f = fopen(conf, "we");
	REQUIRE(f && fputs("socket = \n", f) >= 0 && fclose(f) == 0);
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd), "%s -c %s 2>/dev/null", getenv("TEST_CDH"), conf);
	int st = system(cmd);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

/* ------------------------------------------------- failure modes */

TEST(a_cdh_that_never_answers_times_out)
{
	struct cdh c;
	REQUIRE(cdh_start(&c, "silent", "--never-answer", NULL) == 0);
	struct cdh_client *quick;
	struct kerr err = { 0 };
	REQUIRE(cdh_client_new_at(&quick, c.addr, 200, 300, &err) == 0);
	uint8_t *plain = NULL;
	size_t n;
	cleanup_free char *s = sealed("x");
	int r = cdh_unseal_secret(quick, (uint8_t *)s, strlen(s), &plain, &n, &err);
	CHECK_EQ_INT(r, -ETIMEDOUT);
	CHECK_EQ_INT(err.status, GRPC_DEADLINE_EXCEEDED);
	r = cdh_pull_image(quick, "img", path_in("silent/b"), &err);
	CHECK(r < 0 && err.status == GRPC_DEADLINE_EXCEEDED && strstr(err.msg, "0.300 s"));
	cdh_client_free(quick);
	cdh_stop(&c);
}

TEST(a_cdh_that_exits_on_a_request_is_unavailable)
{
	struct cdh c;
	REQUIRE(cdh_start(&c, "exits", "--exit-on-request", NULL) == 0);
	struct kerr err = { 0 };
	int r = cdh_secure_mount(c.client, "block-device", NULL, 0, NULL, 0, "/m", &err);
	CHECK(r < 0 && err.status == GRPC_UNAVAILABLE);
	int st;
	CHECK(waitpid(c.pid, &st, 0) == c.pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);
	/* nothing listens any more */
	r = cdh_secure_mount(c.client, "block-device", NULL, 0, NULL, 0, "/m", &err);
	CHECK(r < 0 && err.status == GRPC_UNAVAILABLE && strstr(err.msg, "connect"));
	cdh_client_free(c.client);
}

TEST(a_cdh_that_exits_at_start_never_listens)
{
	cleanup_free char *sock = strdup(path_in("early.sock"));
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd), "%s --socket %s --exit-at-start 2>/dev/null", getenv("TEST_CDH"),
		 sock);
	int st = system(cmd);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	CHECK(!tu_exists(sock));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!getenv("TEST_CDH") || !getenv("MAKE_OCI_IMAGE")) {
		printf("1..0 # SKIP TEST_CDH and MAKE_OCI_IMAGE must be set\n");
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/test-cdh.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(busybox, sizeof(busybox), "%s/busybox-layout", tmp);
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd), "%s %s 1.36 >/dev/null", getenv("MAKE_OCI_IMAGE"), busybox);
	if (system(cmd) != 0) {
		printf("Bail out! %s failed\n", getenv("MAKE_OCI_IMAGE"));
		return 1;
	}
	int r = tap_run();
	if (!getenv("TEST_KEEP") && tu_rm_rf(tmp) < 0)
		r = 1;
	return r;
}
