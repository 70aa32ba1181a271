/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_initdata.c - common/initdata.c: devices built as the runtime builds
 * them (virtcontainers/hypervisor.go prepareInitdataImage: magic, LE u64
 * length, gzip, zero padding to 512 bytes) in files standing for the block
 * device, malformed ones (each refused with its own message), the digest
 * against coreutils' sha*sum of the same document, the TEE-sized digest, the
 * files written under a directory with planted symlinks, and the device
 * scan over loop devices (root, losetup; skipped without them).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#include "cleanup.h"
#include "initdata.h"
#include "tap.h"
#include "testutil.h"

/* The document, after its first line "algorithm = \"shaN\"\n". */
#define DOC_REST                                                                         \
	"version = \"0.1.0\"\n\n[data]\n\"aa.toml\" = '''\n[token_configs.kbs]\n"        \
	"url = 'http://kbs.example:8080'\n'''\n\"cdh.toml\" = '''\n"                     \
	"socket = 'unix:///run/confidential-containers/cdh.sock'\n\n[kbc]\n"             \
	"name = 'cc_kbc'\nurl = 'http://kbs.example:8080'\n'''\n\"policy.rego\" = '''\n" \
	"package agent_policy\n\ndefault ExecProcessRequest := false\n'''\n"

/* sha256sum, sha384sum and sha512sum of the document with each algorithm */
static const char *const known[][2] = {
	{ "sha256", "650338809f420dc875aff8f3446028e7ce65690ec2eed6f91dd47c8db62ec79d" },
	{ "sha384", "feb927fa18b813d471a902a02963c85f0ee4f94edb9f5ebf4ed137841d529baa65b4e81d"
		    "f7cbbb5f0262a6535938a061" },
	{ "sha512", "24df1b1ecb83780c6068d11763ecbf7032e88c1ab81d9ab3806c6a2d61cb523b7257aa2e"
		    "91dcdffafafc7265d517d46122aa46c22ce908a1289ed4b6f87397bf" },
};

static char tmp[64];

static char *doc_with(const char *algorithm)
{
	char *s = NULL;
	if (asprintf(&s, "algorithm = \"%s\"\n%s", algorithm, DOC_REST) < 0)
		return NULL;
	return s;
}

static uint8_t *gzip_buf(const void *in, size_t len, size_t *out_len)
{
	z_stream zs = { 0 };
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&zs, len);
	uint8_t *out = malloc(cap);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	int r = deflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (r != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/* A device image: magic, length (as given, or the real one when
 * stated == UINT64_MAX), payload, zero padding to 512. Returns its path. */
static const char *write_image(const char *name, const char *magic, uint64_t stated,
			       const void *payload, size_t len)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	FILE *f = fopen(path, "we");
	if (!f)
		return NULL;
	uint64_t le = htole64(stated == UINT64_MAX ? len : stated);
	fwrite(magic, 1, 8, f);
	fwrite(&le, 1, sizeof(le), f);
	fwrite(payload, 1, len, f);
	static const char zeros[512];
	size_t total = 16 + len;
	fwrite(zeros, 1, (512 - total % 512) % 512, f);
	fclose(f);
	return path;
}

static const char *gz_image(const char *name, const char *doc, size_t doc_len)
{
	size_t n;
	cleanup_free uint8_t *gz = gzip_buf(doc, doc_len, &n);
	return gz ? write_image(name, INITDATA_MAGIC, UINT64_MAX, gz, n) : NULL;
}

static int read_image(const char *path, struct initdata **d, struct kerr *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s", path);
	*d = NULL;
	return initdata_read_fd(fd, d, err);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* ------------------------------------------------------------ good */

TEST(device_as_the_runtime_writes_it)
{
	for (size_t i = 0; i < 3; i++) {
		cleanup_free char *doc = doc_with(known[i][0]);
		const char *img = gz_image("good.img", doc, strlen(doc));
		REQUIRE(img);
		struct stat st;
		CHECK(stat(img, &st) == 0 && st.st_size % 512 == 0);
		struct initdata *d = NULL;
		struct kerr err = { 0 };
		int r = read_image(img, &d, &err);
		if (r < 0)
			printf("# %s\n", err.msg);
		REQUIRE(r == 0);
		CHECK_EQ_STR(d->algorithm, known[i][0]);
		CHECK_EQ_STR(d->version, "0.1.0");
		/* the digest is over the decompressed document, byte for byte */
		CHECK(d->document_len == strlen(doc) && memcmp(d->document, doc, strlen(doc)) == 0);
		char h[2 * INITDATA_MAX_DIGEST + 1];
		hex(d->digest, d->digest_len, h);
		CHECK_EQ_STR(h, known[i][1]);
		CHECK_EQ_INT(d->n_data, 3);
		CHECK_EQ_STR(initdata_get(d, "aa.toml"),
			     "[token_configs.kbs]\nurl = 'http://kbs.example:8080'\n");
		CHECK(strstr(initdata_get(d, "cdh.toml"), "name = 'cc_kbc'\n") != NULL);
		CHECK_EQ_STR(initdata_get(d, INITDATA_POLICY_KEY),
			     "package agent_policy\n\ndefault ExecProcessRequest := false\n");
		CHECK(initdata_get(d, "nothing") == NULL);
		initdata_free(d);
	}
}

TEST(digest_sized_for_each_tee)
{
	/* kata-types adjust_digest and the Go runtime's adjustProperLength */
	struct initdata *d256 = NULL, *d512 = NULL;
	struct kerr err;
	cleanup_free char *a = doc_with("sha256");
	cleanup_free char *b = doc_with("sha512");
	REQUIRE(initdata_parse(a, strlen(a), &d256, &err) == 0);
	REQUIRE(initdata_parse(b, strlen(b), &d512, &err) == 0);
	uint8_t out[256];
	static const uint8_t zero[256];
	CHECK_EQ_INT(initdata_digest_for(d256, INITDATA_NO_TEE, out, sizeof(out)), 32);
	CHECK_EQ_INT(initdata_digest_for(d256, INITDATA_TDX, out, sizeof(out)), 48);
	CHECK(memcmp(out, d256->digest, 32) == 0 && memcmp(out + 32, zero, 16) == 0);
	CHECK_EQ_INT(initdata_digest_for(d256, INITDATA_SE, out, sizeof(out)), 256);
	CHECK(memcmp(out, d256->digest, 32) == 0 && memcmp(out + 32, zero, 224) == 0);
	CHECK_EQ_INT(initdata_digest_for(d512, INITDATA_SNP, out, sizeof(out)), 32);
	CHECK(memcmp(out, d512->digest, 32) == 0);
	CHECK_EQ_INT(initdata_digest_for(d512, INITDATA_CCA, out, sizeof(out)), 64);
	CHECK(memcmp(out, d512->digest, 64) == 0);
	initdata_free(d256);
	initdata_free(d512);
}

TEST(documents_upstream_accepts)
{
	static const char *const ok[] = {
		/* an empty [data], as kata-types' test_empty_data_section */
		"algorithm = \"sha384\"\nversion = \"0.1.0\"\n\n[data]\n",
		/* unknown top-level keys are ignored, as serde ignores them */
		"algorithm = \"sha256\"\nversion = \"0.1.0\"\nextra = 1\n[data]\nk = \"v\"\n",
		/* data inline, values in any TOML string form */
		"version = \"0.1.0\"\nalgorithm = \"sha512\"\n"
		"data = { \"aa.toml\" = \"a = 1\", 'cdh.toml' = '''x''' }\n",
	};
	for (size_t i = 0; i < 3; i++) {
		struct initdata *d = NULL;
		struct kerr err = { 0 };
		int r = initdata_parse(ok[i], strlen(ok[i]), &d, &err);
		if (r < 0)
			printf("# %zu: %s\n", i, err.msg);
		CHECK_EQ_INT(r, 0);
		initdata_free(d);
	}
}

/* ------------------------------------------------------------- bad */

static void check_image_refused(const char *path, const char *want, int *tap_failed)
{
	struct initdata *d = NULL;
	struct kerr err = { 0 };
	int r = read_image(path, &d, &err);
	CHECK(r < 0 && d == NULL);
	if (!strstr(err.msg, want))
		printf("# got \"%s\", want \"%s\"\n", err.msg, want);
	CHECK(strstr(err.msg, want) != NULL);
}

TEST(malformed_devices_are_refused)
{
	cleanup_free char *doc = doc_with("sha256");
	size_t n;
	cleanup_free uint8_t *gz = gzip_buf(doc, strlen(doc), &n);
	REQUIRE(gz);
	check_image_refused(write_image("magic.img", "INITDATA", UINT64_MAX, gz, n),
			    "initdata: no \"initdata\" magic at the start", tap_failed);
	check_image_refused(write_image("empty.img", INITDATA_MAGIC, 0, gz, n),
			    "initdata: empty (length 0)", tap_failed);
	/* the padding makes the file 512 bytes: say more than that */
	char want[128];
	snprintf(want, sizeof(want), "initdata: truncated: the header says %zu bytes, %u follow",
		 n + 1000, 512 - 16);
	check_image_refused(write_image("short.img", INITDATA_MAGIC, n + 1000, gz, n), want,
			    tap_failed);
	check_image_refused(write_image("huge.img", INITDATA_MAGIC, 1ull << 40, gz, n),
			    "initdata: length 1099511627776 exceeds the 1048576 byte limit",
			    tap_failed);
	check_image_refused(write_image("notgz.img", INITDATA_MAGIC, UINT64_MAX, doc, strlen(doc)),
			    "initdata: not a gzip stream", tap_failed);
	check_image_refused(write_image("cut.img", INITDATA_MAGIC, UINT64_MAX, gz, n - 10),
			    "initdata: the gzip stream is truncated", tap_failed);
	/* two gzip members: the stated length covers bytes after the first */
	cleanup_free uint8_t *two = malloc(2 * n);
	memcpy(two, gz, n);
	memcpy(two + n, gz, n);
	snprintf(want, sizeof(want), "initdata: %zu bytes after the gzip stream", n);
	check_image_refused(write_image("two.img", INITDATA_MAGIC, UINT64_MAX, two, 2 * n), want,
			    tap_failed);
	/* a header alone, cut short */
	const char *p = write_image("tiny.img", INITDATA_MAGIC, 5, "", 0);
	REQUIRE(p && truncate(p, 10) == 0);
	check_image_refused(p, "initdata: truncated: 10 bytes, the header alone is 16", tap_failed);
}

TEST(a_document_that_inflates_past_the_limit_is_refused)
{
	/* 8 MiB of spaces gzip to a few KiB */
	size_t big = 8u << 20;
	cleanup_free char *spaces = malloc(big);
	REQUIRE(spaces);
	memset(spaces, ' ', big);
	const char *img = gz_image("bomb.img", spaces, big);
	REQUIRE(img);
	struct stat st;
	CHECK(stat(img, &st) == 0 && st.st_size < 64 * 1024);
	check_image_refused(img, "initdata: the document is larger than 4194304 bytes", tap_failed);
}

static void check_doc_refused(const char *doc, const char *want, int *tap_failed)
{
	/* through a device, as the agent reads it */
	const char *img = gz_image("doc.img", doc, strlen(doc));
	REQUIRE(img);
	check_image_refused(img, want, tap_failed);
}

TEST(malformed_documents_are_refused)
{
	check_doc_refused("algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\nx = '''never\n",
			  "initdata:5: unterminated multi-line string (started on line 4)",
			  tap_failed);
	check_doc_refused("algorithm = sha256\n", "initdata:1: invalid value \"sha256\"",
			  tap_failed);
	check_doc_refused("algorithm = \"md5\"\nversion = \"0.1.0\"\n[data]\n",
			  "initdata: unsupported algorithm: md5, supported algorithms: sha256, "
			  "sha384, sha512",
			  tap_failed);
	check_doc_refused("algorithm = \"sha256\"\nversion = \"0.2.0\"\n[data]\n",
			  "initdata: unsupported version: 0.2.0, expected: 0.1.0", tap_failed);
	check_doc_refused("version = \"0.1.0\"\n[data]\n", "initdata: missing field `algorithm`",
			  tap_failed);
	check_doc_refused("algorithm = \"sha256\"\n[data]\n", "initdata: missing field `version`",
			  tap_failed);
	check_doc_refused("algorithm = \"sha256\"\nversion = \"0.1.0\"\n",
			  "initdata: missing field `data`", tap_failed);
	check_doc_refused("algorithm = \"sha256\"\nversion = 1\n[data]\n",
			  "initdata:2: version must be a string, not an integer", tap_failed);
	check_doc_refused("algorithm = \"sha256\"\nversion = \"0.1.0\"\ndata = [\"a\"]\n",
			  "initdata:3: data must be a table, not an array", tap_failed);
	check_doc_refused("algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\n\"aa.toml\" = true\n",
			  "initdata:4: data.\"aa.toml\" must be a string, not a boolean",
			  tap_failed);
	check_doc_refused("algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\nk = \"\\u0000\"\n",
			  "initdata:4: NUL character", tap_failed);
}

/* ----------------------------------------------------------- write */

static mode_t mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_mode : 0;
}

static const char *at(const char *fmt, const char *name)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, PATH_MAX, fmt, tmp, name);
	return b;
}

TEST(files_written_as_upstream_names_them)
{
	cleanup_free char *doc = doc_with("sha384");
	struct initdata *d = NULL;
	struct kerr err = { 0 };
	REQUIRE(initdata_parse(doc, strlen(doc), &d, &err) == 0);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/run/confidential-containers/initdata", tmp);
	umask(077); /* modes are exact whatever the umask */
	int r = initdata_write(d, dir, &err);
	umask(022);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK_EQ_INT(r, 0);
	cleanup_free char *t = tu_read_file(
		at("%s/run/confidential-containers/initdata/%s", "initdata.toml"));
	CHECK_EQ_STR(t, doc);
	cleanup_free char *aa = tu_read_file(
		at("%s/run/confidential-containers/initdata/%s", "aa.toml"));
	CHECK_EQ_STR(aa, initdata_get(d, "aa.toml"));
	cleanup_free char *cdh = tu_read_file(
		at("%s/run/confidential-containers/initdata/%s", "cdh.toml"));
	CHECK_EQ_STR(cdh, initdata_get(d, "cdh.toml"));
	/* the policy is handed over in memory, as upstream's, not written */
	CHECK(mode_of(at("%s/run/confidential-containers/initdata/%s", "policy.rego")) == 0);
	CHECK_EQ_INT(mode_of(at("%s/run/confidential-containers/initdata/%s", "aa.toml")),
		     S_IFREG | 0644);
	CHECK_EQ_INT(mode_of(at("%s/%s", "run/confidential-containers")), S_IFDIR | 0755);
	/* nothing else: no temporary file left */
	CHECK(mode_of(at("%s/run/confidential-containers/initdata/%s", ".aa.toml.tmp")) == 0);
	/* a document without aa.toml writes no aa.toml */
	struct initdata *bare = NULL;
	const char *b = "algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\n";
	REQUIRE(initdata_parse(b, strlen(b), &bare, &err) == 0);
	char dir2[PATH_MAX];
	snprintf(dir2, sizeof(dir2), "%s/bare", tmp);
	CHECK_EQ_INT(initdata_write(bare, dir2, &err), 0);
	CHECK(mode_of(at("%s/bare/%s", "initdata.toml")) == (S_IFREG | 0644));
	CHECK(mode_of(at("%s/bare/%s", "aa.toml")) == 0);
	initdata_free(bare);
	initdata_free(d);
}

TEST(planted_symlinks_are_replaced_or_refused_never_followed)
{
	cleanup_free char *doc = doc_with("sha256");
	struct initdata *d = NULL;
	struct kerr err = { 0 };
	REQUIRE(initdata_parse(doc, strlen(doc), &d, &err) == 0);
	char victim[PATH_MAX], victim2[PATH_MAX], dir[PATH_MAX];
	snprintf(victim, sizeof(victim), "%s/victim", tmp);
	snprintf(victim2, sizeof(victim2), "%s/victim2", tmp);
	FILE *f = fopen(victim, "we");
	REQUIRE(f && fputs("untouched", f) >= 0 && fclose(f) == 0);
	f = fopen(victim2, "we");
	REQUIRE(f && fputs("untouched", f) >= 0 && fclose(f) == 0);
	/* the final names and a temporary name are symlinks to the victims */
	snprintf(dir, sizeof(dir), "%s/planted", tmp);
	REQUIRE(mkdir(dir, 0755) == 0);
	REQUIRE(symlink(victim, at("%s/planted/%s", "aa.toml")) == 0);
	REQUIRE(symlink(victim2, at("%s/planted/%s", ".cdh.toml.tmp")) == 0);
	CHECK_EQ_INT(initdata_write(d, dir, &err), 0);
	cleanup_free char *v = tu_read_file(victim);
	CHECK_EQ_STR(v, "untouched");
	cleanup_free char *v2 = tu_read_file(victim2);
	CHECK_EQ_STR(v2, "untouched");
	CHECK_EQ_INT(mode_of(at("%s/planted/%s", "aa.toml")), S_IFREG | 0644);
	CHECK_EQ_INT(mode_of(at("%s/planted/%s", "cdh.toml")), S_IFREG | 0644);
	/* a directory of the path that is a symlink: refused */
	char real[PATH_MAX], link[PATH_MAX], through[PATH_MAX];
	snprintf(real, sizeof(real), "%s/elsewhere", tmp);
	snprintf(link, sizeof(link), "%s/linked", tmp);
	snprintf(through, sizeof(through), "%s/linked/initdata", tmp);
	REQUIRE(mkdir(real, 0755) == 0 && symlink(real, link) == 0);
	CHECK(initdata_write(d, through, &err) < 0);
	CHECK(strstr(err.msg, "linked: a symlink") != NULL);
	CHECK(mode_of(at("%s/%s", "elsewhere/initdata")) == 0);
	/* a directory where a file goes: an error, not a crash */
	char dir3[PATH_MAX];
	snprintf(dir3, sizeof(dir3), "%s/dirinplace", tmp);
	REQUIRE(mkdir(dir3, 0755) == 0 && mkdir(at("%s/dirinplace/%s", "initdata.toml"), 0755) == 0);
	CHECK(initdata_write(d, dir3, &err) < 0);
	CHECK(strstr(err.msg, "write") && strstr(err.msg, "initdata.toml"));
	CHECK(initdata_write(d, "relative/dir", &err) == -EINVAL);
	initdata_free(d);
}

TEST(policy_in_a_sealed_memfd)
{
	cleanup_free char *doc = doc_with("sha256");
	struct initdata *d = NULL;
	struct kerr err = { 0 };
	REQUIRE(initdata_parse(doc, strlen(doc), &d, &err) == 0);
	cleanup_close int fd = initdata_policy_memfd(d, &err);
	CHECK(fd >= 0);
	char buf[256] = { 0 };
	CHECK(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
	CHECK_EQ_STR(buf, initdata_get(d, "policy.rego"));
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* nobody changes it: not this process, not one it is handed to */
	CHECK(pwrite(fd, "x", 1, 0) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 0) < 0 && errno == EPERM);
	CHECK(fcntl(fd, F_ADD_SEALS, 0) < 0 && errno == EPERM);
	int seals = fcntl(fd, F_GET_SEALS);
	CHECK_EQ_INT(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	/* a read-write reopen through /proc cannot write either */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	cleanup_close int rw = open(proc, O_RDWR | O_CLOEXEC);
	CHECK(rw < 0 || (write(rw, "x", 1) < 0 && errno == EPERM));
	/* no policy in the data: -ENOENT, no fd */
	struct initdata *bare = NULL;
	const char *b = "algorithm = \"sha256\"\nversion = \"0.1.0\"\n[data]\n";
	REQUIRE(initdata_parse(b, strlen(b), &bare, &err) == 0);
	CHECK_EQ_INT(initdata_policy_memfd(bare, &err), -ENOENT);
	initdata_free(bare);
	initdata_free(d);
}

/* ---------------------------------------------------- device scan */

/* losetup a file; the loop device's path into dev, or -1. */
static int loop_attach(const char *file, char dev[64])
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null", file);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	int ok = fgets(dev, 64, p) != NULL;
	pclose(p);
	if (!ok || strncmp(dev, "/dev/loop", 9) != 0)
		return -1;
	dev[strcspn(dev, "\n")] = '\0';
	return 0;
}

static void loop_detach(const char *dev)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	if (system(cmd) != 0)
		printf("# could not detach %s\n", dev);
}

TEST(device_found_among_block_devices_as_upstream_looks)
{
	if (geteuid() != 0)
		SKIP("needs root for loop devices and device nodes");
	cleanup_free char *doc = doc_with("sha512");
	const char *img = gz_image("dev.img", doc, strlen(doc));
	REQUIRE(img);
	char good_img[PATH_MAX], plain_img[PATH_MAX];
	snprintf(good_img, sizeof(good_img), "%s", img);
	snprintf(plain_img, sizeof(plain_img), "%s/plain.img", tmp);
	REQUIRE(truncate(plain_img, 4096) == 0 ||
		(creat(plain_img, 0600) >= 0 && truncate(plain_img, 4096) == 0));
	char good[64], plain[64];
	if (loop_attach(good_img, good) < 0)
		SKIP_KERNEL("losetup cannot attach a loop device here");
	if (loop_attach(plain_img, plain) < 0) {
		loop_detach(good);
		SKIP_KERNEL("losetup cannot attach a second loop device here");
	}
	struct stat g, p;
	int ok = stat(good, &g) == 0 && stat(plain, &p) == 0;
	char devdir[PATH_MAX];
	snprintf(devdir, sizeof(devdir), "%s/dev", tmp);
	ok = ok && mkdir(devdir, 0755) == 0;
	/* vda: a disk without the magic; vdb: the initdata disk; sdz: a
	 * regular file with the magic; xvdc: the initdata disk under a name
	 * upstream does not look at; vdaa: a symlink to it */
	ok = ok && mknod(at("%s/dev/%s", "vda"), S_IFBLK | 0600, p.st_rdev) == 0;
	ok = ok && mknod(at("%s/dev/%s", "xvdc"), S_IFBLK | 0600, g.st_rdev) == 0;
	ok = ok && symlink(good, at("%s/dev/%s", "vdaa")) == 0;
	char cmd[2 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp %s %s/dev/sdz", good_img, tmp);
	ok = ok && system(cmd) == 0;
	char path[PATH_MAX];
	struct kerr err = { 0 };
	if (ok)
		CHECK_EQ_INT(initdata_find_device(devdir, path, sizeof(path), &err), 0);
	ok = ok && mknod(at("%s/dev/%s", "vdb"), S_IFBLK | 0600, g.st_rdev) == 0;
	if (ok) {
		CHECK_EQ_INT(initdata_find_device(devdir, path, sizeof(path), &err), 1);
		CHECK_EQ_STR(path, at("%s/dev/%s", "vdb"));
		/* and it reads, as a block device */
		struct initdata *d = NULL;
		int r = read_image(path, &d, &err);
		if (r < 0)
			printf("# %s\n", err.msg);
		CHECK_EQ_INT(r, 0);
		if (d) {
			char h[2 * INITDATA_MAX_DIGEST + 1];
			hex(d->digest, d->digest_len, h);
			CHECK_EQ_STR(h, known[2][1]);
		}
		initdata_free(d);
	}
	CHECK(ok);
	loop_detach(good);
	loop_detach(plain);
	CHECK(initdata_find_device("/nonexistent-dev", path, sizeof(path), &err) == -ENOENT);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/test-initdata.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	int r = tap_run();
	if (tu_rm_rf(tmp) < 0)
		r = 1;
	return r;
}
