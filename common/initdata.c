/* SPDX-License-Identifier: Apache-2.0 */
/* initdata.c - see initdata.h. */
#include "initdata.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "digest.h"
#include "openat2.h"
#include "toml.h"

#define INITDATA_VERSION "0.1.0"

_Static_assert(INITDATA_MAX_DIGEST >= DIGEST_MAX, "initdata digest field too small");

void initdata_free(struct initdata *d)
{
	if (!d)
		return;
	free(d->document);
	free(d->version);
	free(d->algorithm);
	for (size_t i = 0; i < d->n_data; i++) {
		free(d->data[i].key);
		free(d->data[i].value);
	}
	free(d->data);
	free(d);
}

const char *initdata_get(const struct initdata *d, const char *key)
{
	for (size_t i = 0; i < d->n_data; i++)
		if (strcmp(d->data[i].key, key) == 0)
			return d->data[i].value;
	return NULL;
}

/* ---- the device ---- */

static bool is_candidate(const char *name)
{
	/* upstream: virtio-blk (vd*) and virtio-scsi (sd*) disks */
	return strncmp(name, "vd", 2) == 0 || strncmp(name, "sd", 2) == 0;
}

static bool has_magic(int dir, const char *name)
{
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISBLK(st.st_mode))
		return false;
	cleanup_close int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char magic[sizeof(INITDATA_MAGIC) - 1];
	return fd >= 0 && pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	       memcmp(magic, INITDATA_MAGIC, sizeof(magic)) == 0;
}

int initdata_find_device(const char *dev_dir, char *path, size_t path_len, struct kerr *err)
{
	cleanup_close int dir = open(dev_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return kerr_set(err, -errno, "initdata: %s: %s", dev_dir, strerror(errno));
	struct dirent **names = NULL;
	int n = scandirat(dir, ".", &names, NULL, alphasort);
	if (n < 0)
		return kerr_set(err, -errno, "initdata: %s: %s", dev_dir, strerror(errno));
	int found = 0;
	for (int i = 0; i < n; i++) {
		if (!found && is_candidate(names[i]->d_name) && has_magic(dir, names[i]->d_name)) {
			snprintf(path, path_len, "%s/%s", dev_dir, names[i]->d_name);
			found = 1;
		}
		free(names[i]);
	}
	free(names);
	return found;
}

static int read_at(int fd, void *buf, size_t len, off_t off, size_t *got, struct kerr *err)
{
	*got = 0;
	while (*got < len) {
		ssize_t r = pread(fd, (char *)buf + *got, len - *got, off + (off_t)*got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kerr_set(err, -errno, "initdata: read: %s", strerror(errno));
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* The whole gzip stream of in, nothing after it, at most
 * INITDATA_MAX_DOCUMENT bytes out. */
static int gunzip(const uint8_t *in, size_t len, char **out, size_t *out_len, struct kerr *err)
{
	z_stream zs = { 0 };
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return kerr_set(err, -ENOMEM, "initdata: zlib: cannot start inflating");
	cleanup_free char *buf = malloc(INITDATA_MAX_DOCUMENT + 1);
	if (!buf) {
		inflateEnd(&zs);
		return kerr_set(err, -ENOMEM, "initdata: out of memory");
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)buf;
	zs.avail_out = INITDATA_MAX_DOCUMENT + 1; /* one more: notice an excess */
	int z = inflate(&zs, Z_FINISH);
	size_t n = zs.total_out, left = zs.avail_in;
	const char *msg = zs.msg;
	inflateEnd(&zs);
	if (z == Z_STREAM_END && left)
		return kerr_set(err, -EINVAL,
				"initdata: %zu bytes after the gzip stream, within the "
				"stated length",
				left);
	if (z == Z_STREAM_END) {
		buf[n] = '\0';
		*out = take_ptr(&buf);
		*out_len = n;
		return 0;
	}
	if (n > INITDATA_MAX_DOCUMENT)
		return kerr_set(err, -EFBIG, "initdata: the document is larger than %u bytes",
				INITDATA_MAX_DOCUMENT);
	if (z == Z_BUF_ERROR)
		return kerr_set(err, -EINVAL, "initdata: the gzip stream is truncated");
	return kerr_set(err, -EINVAL, "initdata: not a gzip stream: %s", msg ? msg : "bad data");
}

int initdata_read_fd(int fd, struct initdata **out, struct kerr *err)
{
	uint8_t hdr[INITDATA_HEADER_LEN];
	size_t got;
	int r = read_at(fd, hdr, sizeof(hdr), 0, &got, err);
	if (r < 0)
		return r;
	if (got < sizeof(hdr))
		return kerr_set(err, -EINVAL,
				"initdata: truncated: %zu bytes, the header alone is %d", got,
				INITDATA_HEADER_LEN);
	if (memcmp(hdr, INITDATA_MAGIC, 8) != 0)
		return kerr_set(err, -EINVAL,
				"initdata: no \"" INITDATA_MAGIC "\" magic at the start");
	uint64_t len;
	memcpy(&len, hdr + 8, sizeof(len));
	len = le64toh(len);
	if (len == 0)
		return kerr_set(err, -EINVAL, "initdata: empty (length 0)");
	if (len > INITDATA_MAX_COMPRESSED)
		return kerr_set(err, -EFBIG, "initdata: length %llu exceeds the %u byte limit",
				(unsigned long long)len, INITDATA_MAX_COMPRESSED);
	cleanup_free uint8_t *gz = malloc(len);
	if (!gz)
		return kerr_set(err, -ENOMEM, "initdata: out of memory");
	if ((r = read_at(fd, gz, len, INITDATA_HEADER_LEN, &got, err)) < 0)
		return r;
	if (got < len)
		return kerr_set(err, -EINVAL,
				"initdata: truncated: the header says %llu bytes, %zu "
				"follow it",
				(unsigned long long)len, got);
	cleanup_free char *doc = NULL;
	size_t doc_len = 0;
	if ((r = gunzip(gz, len, &doc, &doc_len, err)) < 0)
		return r;
	return initdata_parse(doc, doc_len, out, err);
}

/* ---- the document ---- */

static const char *a_type(enum toml_type t)
{
	switch (t) {
	case TOML_INTEGER:
		return "an integer";
	case TOML_BOOLEAN:
		return "a boolean";
	case TOML_ARRAY:
		return "an array";
	case TOML_TABLE:
		return "a table";
	default:
		return "a string";
	}
}

static int get_string(const struct toml_value *root, const char *key, char **out, struct kerr *err)
{
	const struct toml_value *v = toml_table_get(root, key);
	if (!v)
		return kerr_set(err, -EINVAL, "initdata: missing field `%s`", key);
	if (v->type != TOML_STRING)
		return kerr_set(err, -EINVAL, "initdata:%d: %s must be a string, not %s", v->line,
				key, a_type(v->type));
	*out = strdup(v->str.s);
	return *out ? 0 : kerr_set(err, -ENOMEM, "initdata: out of memory");
}

static int get_data(const struct toml_value *root, struct initdata *d, struct kerr *err)
{
	const struct toml_value *t = toml_table_get(root, "data");
	if (!t)
		return kerr_set(err, -EINVAL, "initdata: missing field `data`");
	if (t->type != TOML_TABLE)
		return kerr_set(err, -EINVAL, "initdata:%d: data must be a table, not %s", t->line,
				a_type(t->type));
	d->data = calloc(t->tab.n ? t->tab.n : 1, sizeof(*d->data));
	if (!d->data)
		return kerr_set(err, -ENOMEM, "initdata: out of memory");
	for (size_t i = 0; i < t->tab.n; i++) {
		const struct toml_value *v = t->tab.kv[i].value;
		if (v->type != TOML_STRING)
			return kerr_set(err, -EINVAL,
					"initdata:%d: data.\"%s\" must be a string, "
					"not %s",
					v->line, t->tab.kv[i].key, a_type(v->type));
		struct initdata_entry *e = &d->data[d->n_data++];
		e->key = strdup(t->tab.kv[i].key);
		e->value = strdup(v->str.s);
		if (!e->key || !e->value)
			return kerr_set(err, -ENOMEM, "initdata: out of memory");
	}
	return 0;
}

/* kata-types InitData::validate, with its messages. */
static int validate(struct initdata *d, struct kerr *err)
{
	if (strcmp(d->version, INITDATA_VERSION) != 0)
		return kerr_set(err, -EINVAL,
				"initdata: unsupported version: %s, expected: " INITDATA_VERSION,
				d->version);
	d->digest_len = digest_of(d->algorithm, d->document, d->document_len, d->digest);
	if (d->digest_len == 0)
		return kerr_set(err, -EINVAL,
				"initdata: unsupported algorithm: %s, supported "
				"algorithms: sha256, sha384, sha512",
				d->algorithm);
	return 0;
}

int initdata_parse(const char *document, size_t len, struct initdata **out, struct kerr *err)
{
	if (len > INITDATA_MAX_DOCUMENT)
		return kerr_set(err, -EFBIG, "initdata: the document is larger than %u bytes",
				INITDATA_MAX_DOCUMENT);
	struct toml_value *root = NULL;
	int r = toml_parse(document, len, "initdata", &root, err);
	if (r < 0)
		return r;
	struct initdata *d = calloc(1, sizeof(*d));
	if (!d || !(d->document = malloc(len + 1))) {
		free(d);
		toml_free(root);
		return kerr_set(err, -ENOMEM, "initdata: out of memory");
	}
	memcpy(d->document, document, len);
	d->document[len] = '\0';
	d->document_len = len;
	/* serde's order: fields as the struct declares them, then validate() */
	if ((r = get_string(root, "version", &d->version, err)) >= 0 &&
	    (r = get_string(root, "algorithm", &d->algorithm, err)) >= 0 &&
	    (r = get_data(root, d, err)) >= 0)
		r = validate(d, err);
	toml_free(root);
	if (r < 0) {
		initdata_free(d);
		return r;
	}
	*out = d;
	return 0;
}

size_t initdata_digest_for(const struct initdata *d, enum initdata_platform platform, uint8_t *out,
			   size_t cap)
{
	size_t want;
	switch (platform) {
	case INITDATA_TDX:
		want = 48;
		break;
	case INITDATA_SNP:
		want = 32;
		break;
	case INITDATA_CCA:
		want = 64;
		break;
	case INITDATA_SE:
		want = 256;
		break;
	default:
		want = d->digest_len;
		break;
	}
	if (want > cap)
		want = cap;
	memset(out, 0, want);
	memcpy(out, d->digest, d->digest_len < want ? d->digest_len : want);
	return want;
}

/* ---- writing the files ---- */

/* Open the absolute directory dir, making what is missing (0755 exactly);
 * no component may be a symlink. */
static int open_dirs(const char *dir, struct kerr *err)
{
	if (dir[0] != '/' || strlen(dir) >= PATH_MAX)
		return kerr_set(err, -EINVAL, "initdata: \"%s\" is not an absolute path", dir);
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", dir);
	cleanup_close int cur = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (char *p = buf + 1; cur >= 0 && *p;) {
		char *e = strchrnul(p, '/');
		bool last = !*e;
		*e = '\0';
		if (*p) {
			uint64_t how = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
			int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
			int next = sys_openat2(cur, p, flags, how);
			bool made = false;
			if (next < 0 && errno == ENOENT) {
				made = mkdirat(cur, p, 0755) == 0;
				if (!made && errno != EEXIST)
					return kerr_set(err, -errno, "initdata: mkdir %s: %s", buf,
							strerror(errno));
				next = sys_openat2(cur, p, flags, how);
			}
			if (next < 0)
				return kerr_set(err, -errno, "initdata: %s: %s", buf,
						errno == ELOOP ? "a symlink" : strerror(errno));
			close(cur);
			cur = next;
			/* mkdir applied the umask; what we made gets 0755 exactly,
			 * through the fd we resolved, never a path */
			if (made && fchmod(cur, 0755) < 0)
				return kerr_set(err, -errno, "initdata: chmod %s: %s", buf,
						strerror(errno));
		}
		if (last)
			break;
		*e = '/';
		p = e + 1;
	}
	if (cur < 0)
		return kerr_set(err, -errno, "initdata: open /: %s", strerror(errno));
	return take_fd(&cur);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* dir/name = data, through a temporary name renamed over it. */
static int write_file(int dir, const char *dir_name, const char *name, const char *data, size_t len,
		      struct kerr *err)
{
	char tmp[NAME_MAX + 1];
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	cleanup_close int fd = openat(dir, tmp, flags, 0600);
	if (fd < 0 && errno == EEXIST && unlinkat(dir, tmp, 0) == 0)
		fd = openat(dir, tmp, flags, 0600);
	if (fd < 0)
		return kerr_set(err, -errno, "initdata: create %s/%s: %s", dir_name, tmp,
				strerror(errno));
	int r = write_all(fd, data, len);
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (r == 0 && renameat(dir, tmp, dir, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dir, tmp, 0);
		return kerr_set(err, r, "initdata: write %s/%s: %s", dir_name, name, strerror(-r));
	}
	return 0;
}

int initdata_write(const struct initdata *d, const char *dir, struct kerr *err)
{
	cleanup_close int fd = open_dirs(dir, err);
	if (fd < 0)
		return fd;
	int r = write_file(fd, dir, INITDATA_TOML_NAME, d->document, d->document_len, err);
	const char *names[] = { INITDATA_AA_NAME, INITDATA_CDH_NAME };
	for (size_t i = 0; r == 0 && i < 2; i++) {
		const char *v = initdata_get(d, names[i]);
		if (v)
			r = write_file(fd, dir, names[i], v, strlen(v), err);
	}
	return r;
}

int initdata_policy_memfd(const struct initdata *d, struct kerr *err)
{
	const char *policy = initdata_get(d, INITDATA_POLICY_KEY);
	if (!policy)
		return -ENOENT;
	cleanup_close int fd = memfd_create(INITDATA_POLICY_MEMFD_NAME,
					    MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return kerr_set(err, -errno, "initdata: memfd for the policy: %s", strerror(errno));
	int r = write_all(fd, policy, strlen(policy));
	if (r < 0)
		return kerr_set(err, r, "initdata: writing the policy memfd: %s", strerror(-r));
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
	if (fcntl(fd, F_ADD_SEALS, seals) < 0)
		return kerr_set(err, -errno, "initdata: sealing the policy memfd: %s",
				strerror(errno));
	return take_fd(&fd);
}
