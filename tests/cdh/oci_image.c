/* SPDX-License-Identifier: Apache-2.0 */
/* oci_image.c - see oci_image.h. */
#include "oci_image.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "openat2.h"

#define RESOLVE_ROOTFS (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
#define JSON_BLOB_MAX (4 << 20)
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
	*a = NULL;
}
#define cleanup_archive __attribute__((cleanup(archive_freep)))

/* ---- blobs ---- */

struct desc {
	const char *media_type;
	const char *digest;
	json_int_t size;
};

/* "sha256:" and 64 lowercase hex digits: the only digests we open, so a
 * digest can never name a path of its own. */
static int check_digest(const char *digest, struct kerr *err)
{
	if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64)
		return kerr_set(err, -EINVAL, "digest \"%.80s\": not sha256:<64 hex digits>",
				digest);
	for (const char *p = digest + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return kerr_set(err, -EINVAL, "digest \"%s\": not lowercase hex", digest);
	return 0;
}

static int sha256_fd(int fd, char hex[65], struct kerr *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return kerr_set(err, -ENOMEM, "sha256: cannot set up a digest");
	}
	static uint8_t buf[65536];
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = kerr_set(err, -errno, "read: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	uint8_t md[32];
	unsigned int mdlen = 0;
	if (r == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		r = kerr_set(err, -EIO, "sha256: final failed");
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; r == 0 && i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return r;
}

/* The blob d names, checked against its size and digest, read position at
 * its start. */
static int open_blob(int layout, const struct desc *d, struct kerr *err)
{
	int r = check_digest(d->digest, err);
	if (r < 0)
		return r;
	char path[96];
	snprintf(path, sizeof(path), "blobs/sha256/%s", d->digest + 7);
	cleanup_close int fd = sys_openat2(layout, path, O_RDONLY | O_CLOEXEC,
					   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return kerr_set(err, -errno, "blob %s: %s", d->digest, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return kerr_set(err, -EINVAL, "blob %s: not a regular file", d->digest);
	if (st.st_size != d->size)
		return kerr_set(err, -EINVAL, "blob %s: %lld bytes, the descriptor says %lld",
				d->digest, (long long)st.st_size, (long long)d->size);
	char hex[65];
	if ((r = sha256_fd(fd, hex, err)) < 0)
		return kerr_prefix(err, "blob %s", d->digest);
	if (strcmp(hex, d->digest + 7) != 0)
		return kerr_set(err, -EINVAL, "blob %s: content has digest sha256:%s", d->digest,
				hex);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return kerr_set(err, -errno, "blob %s: seek: %s", d->digest, strerror(errno));
	return take_fd(&fd);
}

static json_t *load_json_fd(int fd, const char *what, struct kerr *err)
{
	json_error_t je;
	json_t *j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		kerr_set(err, -EINVAL, "%s: bad JSON: %s (line %d)", what, je.text, je.line);
	else if (!json_is_object(j)) {
		json_decref(j);
		j = NULL;
		kerr_set(err, -EINVAL, "%s: not a JSON object", what);
	}
	return j;
}

static json_t *load_json_blob(int layout, const struct desc *d, struct kerr *err)
{
	if (d->size > JSON_BLOB_MAX) {
		kerr_set(err, -EFBIG, "blob %s: %lld bytes is too large for JSON", d->digest,
			 (long long)d->size);
		return NULL;
	}
	cleanup_close int fd = open_blob(layout, d, err);
	return fd < 0 ? NULL : load_json_fd(fd, d->digest, err);
}

static int get_desc(json_t *j, const char *what, struct desc *d, struct kerr *err)
{
	json_t *mt = json_object_get(j, "mediaType"), *dg = json_object_get(j, "digest");
	json_t *sz = json_object_get(j, "size");
	if (!json_is_string(mt) || !json_is_string(dg) || !json_is_integer(sz) ||
	    json_integer_value(sz) < 0)
		return kerr_set(err, -EINVAL, "%s: not a descriptor (mediaType, digest, size)",
				what);
	d->media_type = json_string_value(mt);
	d->digest = json_string_value(dg);
	d->size = json_integer_value(sz);
	return 0;
}

/* The manifest ref names: org.opencontainers.image.ref.name equal to ref
 * or to its tag, else the only manifest of the index. */
static int select_manifest(json_t *index, const char *ref, struct desc *d, struct kerr *err)
{
	json_t *list = json_object_get(index, "manifests");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return kerr_set(err, -EINVAL, "index.json: no manifests");
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	const char *tag = colon && (!slash || colon > slash) ? colon + 1 : "latest";
	size_t i;
	json_t *m, *pick = NULL;
	json_array_foreach(list, i, m) {
		const char *name = json_string_value(
			json_object_get(json_object_get(m, "annotations"),
					"org.opencontainers.image.ref.name"));
		if (name && (strcmp(name, ref) == 0 || strcmp(name, tag) == 0)) {
			pick = m;
			break;
		}
	}
	if (!pick && json_array_size(list) == 1)
		pick = json_array_get(list, 0);
	if (!pick)
		return kerr_set(err, -ENOENT, "index.json: no manifest is named %s or %s", ref,
				tag);
	int r = get_desc(pick, "index.json manifest", d, err);
	if (r < 0)
		return r;
	if (strcmp(d->media_type, "application/vnd.oci.image.manifest.v1+json") != 0)
		return kerr_set(err, -ENOTSUP,
				"index.json: manifest media type %s is not supported "
				"(nested indexes are not)",
				d->media_type);
	return 0;
}

/* ---- paths ---- */

/* An entry name made relative to the rootfs: "./" and empty or "."
 * components dropped, a trailing "/" too; "" is the rootfs itself.
 * Absolute names and ".." components are refused, never repaired. */
static int clean_path(const char *in, char out[PATH_MAX], struct kerr *err)
{
	if (in[0] == '/')
		return kerr_set(err, -EPERM, "entry \"%.200s\": absolute name", in);
	size_t o = 0;
	for (const char *p = in; *p;) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return kerr_set(err, -EPERM, "entry \"%.200s\": \"..\" component", in);
		if (n && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > PATH_MAX)
				return kerr_set(err, -ENAMETOOLONG,
						"entry \"%.200s\": name too long", in);
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *e ? e + 1 : e;
	}
	out[o] = '\0';
	return 0;
}

/* Split "a/b/c" into dir "a/b" (or "." ) and base "c", in place. */
static const char *split_path(char *path, const char **base)
{
	char *slash = strrchr(path, '/');
	if (!slash) {
		*base = path;
		return ".";
	}
	*slash = '\0';
	*base = slash + 1;
	return path;
}

static int escape_err(struct kerr *err, int e, const char *entry, const char *dir)
{
	if (e == EXDEV || e == ELOOP)
		return kerr_set(err, -EPERM,
				"entry \"%.200s\": \"%.200s\" leads out of the rootfs "
				"(through a symlink)",
				entry, dir);
	return kerr_set(err, -e, "entry \"%.200s\": directory \"%.200s\": %s", entry, dir,
			strerror(e));
}

/* Open directory dir (clean, relative) below root, every step resolved
 * from root with RESOLVE_ROOTFS; with create, missing directories are made
 * (0755, as tar does for directories a layer does not list). */
static int open_dir(int root, const char *dir, bool create, const char *entry, struct kerr *err)
{
	int fd = sys_openat2(root, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_ROOTFS);
	if (fd >= 0 || errno != ENOENT || !create)
		return fd >= 0 ? fd : escape_err(err, errno, entry, dir);
	char prefix[PATH_MAX];
	snprintf(prefix, sizeof(prefix), "%s", dir);
	cleanup_close int cur = sys_openat2(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	for (char *p = prefix; cur >= 0;) {
		char *e = strchrnul(p, '/');
		char saved = *e;
		*e = '\0';
		int next = sys_openat2(root, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC,
				       RESOLVE_ROOTFS);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST)
				return kerr_set(err, -errno, "entry \"%.200s\": mkdir %s: %s",
						entry, prefix, strerror(errno));
			next = sys_openat2(root, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC,
					   RESOLVE_ROOTFS);
		}
		if (next < 0)
			return escape_err(err, errno, entry, prefix);
		close(cur);
		cur = next;
		if (!saved)
			return take_fd(&cur);
		*e = saved;
		p = e + 1;
	}
	return kerr_set(err, -errno, "open rootfs: %s", strerror(errno));
}

static int remove_at(int dirfd, const char *name, struct kerr *err);

/* Remove everything in directory fd (opened O_RDONLY). */
static int empty_dir(int fd, struct kerr *err)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return kerr_set(err, -errno, "dup: %s", strerror(errno));
	cleanup_closedir DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return kerr_set(err, -errno, "opendir: %s", strerror(errno));
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int r = remove_at(fd, de->d_name, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* rm -rf dirfd/name, never following a symlink; a missing name is fine. */
static int remove_at(int dirfd, const char *name, struct kerr *err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			       ? 0
			       : kerr_set(err, -errno, "stat %s: %s", name, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int fd = openat(dirfd, name,
					      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return kerr_set(err, -errno, "open %s: %s", name, strerror(errno));
		int r = empty_dir(fd, err);
		if (r < 0)
			return r;
	}
	if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		return kerr_set(err, -errno, "remove %s: %s", name, strerror(errno));
	return 0;
}

/* ---- layers ---- */

static int open_layer(int fd, const struct desc *d, struct archive **out, struct kerr *err)
{
	cleanup_archive struct archive *a = archive_read_new();
	if (!a)
		return kerr_set(err, -ENOMEM, "libarchive: out of memory");
	int r;
	const char *mt = d->media_type;
	if (strcmp(mt, "application/vnd.oci.image.layer.v1.tar") == 0)
		r = archive_read_support_filter_none(a);
	else if (strcmp(mt, "application/vnd.oci.image.layer.v1.tar+gzip") == 0 ||
		 strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip") == 0)
		r = archive_read_support_filter_gzip(a);
	else if (strcmp(mt, "application/vnd.oci.image.layer.v1.tar+zstd") == 0)
		r = archive_read_support_filter_zstd(a);
	else
		return kerr_set(err, -ENOTSUP, "layer %s: media type %s is not supported",
				d->digest, mt);
	if (r != ARCHIVE_OK || archive_read_support_format_tar(a) != ARCHIVE_OK)
		return kerr_set(err, -ENOTSUP, "layer %s: libarchive: %s", d->digest,
				archive_error_string(a));
	if (lseek(fd, 0, SEEK_SET) < 0)
		return kerr_set(err, -errno, "layer %s: seek: %s", d->digest, strerror(errno));
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
		return kerr_set(err, -EINVAL, "layer %s: %s", d->digest, archive_error_string(a));
	*out = take_ptr(&a);
	return 0;
}

/* The next entry and its clean name; 0 at the end, 1 with an entry. */
static int next_entry(struct archive *a, const struct desc *d, struct archive_entry **e,
		      char path[PATH_MAX], struct kerr *err)
{
	int r = archive_read_next_header(a, e);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return kerr_set(err, -EINVAL, "layer %s: %s", d->digest, archive_error_string(a));
	const char *name = archive_entry_pathname(*e);
	if (!name)
		return kerr_set(err, -EINVAL, "layer %s: an entry without a name", d->digest);
	r = clean_path(name, path, err);
	return r < 0 ? kerr_prefix(err, "layer %s", d->digest) : 1;
}

static bool is_whiteout(const char *base)
{
	return strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0;
}

static int apply_whiteout(int root, char *path, struct kerr *err)
{
	char entry[PATH_MAX];
	snprintf(entry, sizeof(entry), "%s", path);
	const char *base;
	const char *dir = split_path(path, &base);
	cleanup_close int pfd = -1;
	if (strcmp(base, WH_OPAQUE) == 0) {
		/* a directory lower layers do not have has nothing to hide */
		pfd = sys_openat2(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, RESOLVE_ROOTFS);
		if (pfd < 0 && errno == ENOENT)
			return 0;
		if (pfd < 0)
			return escape_err(err, errno, entry, dir);
		return empty_dir(pfd, err);
	}
	const char *victim = base + strlen(WH_PREFIX);
	if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
		return kerr_set(err, -EPERM, "entry \"%.200s\": whiteout of nothing", entry);
	pfd = sys_openat2(root, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_ROOTFS);
	if (pfd < 0 && errno == ENOENT)
		return 0;
	if (pfd < 0)
		return escape_err(err, errno, entry, dir);
	return remove_at(pfd, victim, err);
}

static int apply_whiteouts(int root, int fd, const struct desc *d, struct kerr *err)
{
	cleanup_archive struct archive *a = NULL;
	int r = open_layer(fd, d, &a, err);
	struct archive_entry *e;
	char path[PATH_MAX];
	while (r >= 0 && (r = next_entry(a, d, &e, path, err)) == 1) {
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (is_whiteout(base) && (r = apply_whiteout(root, path, err)) < 0)
			return kerr_prefix(err, "layer %s", d->digest);
	}
	return r;
}

static int copy_data(struct archive *a, int fd, int64_t size, const char *entry, struct kerr *err)
{
	const void *buf;
	size_t n;
	la_int64_t off;
	int r;
	while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
		for (size_t done = 0; done < n;) {
			ssize_t w = pwrite(fd, (const char *)buf + done, n - done,
					   (off_t)off + (off_t)done);
			if (w < 0)
				return kerr_set(err, -errno, "entry \"%s\": write: %s", entry,
						strerror(errno));
			done += (size_t)w;
		}
	}
	if (r != ARCHIVE_EOF)
		return kerr_set(err, -EIO, "entry \"%s\": %s", entry, archive_error_string(a));
	if (ftruncate(fd, (off_t)size) < 0) /* a sparse file's trailing hole */
		return kerr_set(err, -errno, "entry \"%s\": truncate: %s", entry, strerror(errno));
	return 0;
}

/* Owner then mode (chown clears set-id bits), on an open fd. */
static int set_owner_mode(int fd, struct archive_entry *e, const char *entry, struct kerr *err)
{
	if (geteuid() == 0 &&
	    fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return kerr_set(err, -errno, "entry \"%s\": chown: %s", entry, strerror(errno));
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return kerr_set(err, -errno, "entry \"%s\": chmod: %s", entry, strerror(errno));
	return 0;
}

static int make_file(struct archive *a, struct archive_entry *e, int pfd, const char *base,
		     const char *entry, struct kerr *err)
{
	cleanup_close int fd = openat(pfd, base,
				      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return kerr_set(err, -errno, "entry \"%s\": create: %s", entry, strerror(errno));
	int r = copy_data(a, fd, archive_entry_size(e), entry, err);
	return r < 0 ? r : set_owner_mode(fd, e, entry, err);
}

static int make_dir(struct archive_entry *e, int pfd, const char *base, const char *entry,
		    struct kerr *err)
{
	if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
		return kerr_set(err, -errno, "entry \"%s\": mkdir: %s", entry, strerror(errno));
	cleanup_close int fd = sys_openat2(pfd, base, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
					   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return kerr_set(err, -errno, "entry \"%s\": open: %s", entry, strerror(errno));
	return set_owner_mode(fd, e, entry, err);
}

static int make_link(struct archive_entry *e, int root, int pfd, const char *base,
		     const char *entry, struct kerr *err)
{
	char target[PATH_MAX];
	int r = clean_path(archive_entry_hardlink(e), target, err);
	if (r < 0)
		return kerr_prefix(err, "hard link \"%s\"", entry);
	const char *tbase;
	const char *tdir = split_path(target, &tbase);
	if (!*tbase)
		return kerr_set(err, -EPERM, "entry \"%s\": hard link to the rootfs", entry);
	cleanup_close int tfd = open_dir(root, tdir, false, entry, err);
	if (tfd < 0)
		return tfd;
	if (linkat(tfd, tbase, pfd, base, 0) < 0)
		return kerr_set(err, -errno, "entry \"%s\": link to %s/%s: %s", entry, tdir, tbase,
				strerror(errno));
	return 0;
}

static int make_special(struct archive_entry *e, int pfd, const char *base, const char *entry,
			struct kerr *err)
{
	mode_t type = archive_entry_filetype(e);
	if (type == AE_IFLNK) {
		if (symlinkat(archive_entry_symlink(e), pfd, base) < 0)
			return kerr_set(err, -errno, "entry \"%s\": symlink: %s", entry,
					strerror(errno));
	} else if (type == AE_IFIFO || type == AE_IFCHR || type == AE_IFBLK) {
		if (mknodat(pfd, base, type | (archive_entry_perm(e) & 0777),
			    archive_entry_rdev(e)) < 0)
			return kerr_set(err, -errno, "entry \"%s\": mknod: %s", entry,
					strerror(errno));
	} else {
		return kerr_set(err, -ENOTSUP, "entry \"%s\": file type 0%o is not supported",
				entry, (unsigned)type);
	}
	if (geteuid() == 0 && fchownat(pfd, base, (uid_t)archive_entry_uid(e),
				       (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return kerr_set(err, -errno, "entry \"%s\": chown: %s", entry, strerror(errno));
	return 0;
}

static int extract(struct archive *a, struct archive_entry *e, int root, char *path,
		   struct kerr *err)
{
	if (!*path)
		return 0; /* the rootfs itself: keep ours */
	char entry[PATH_MAX];
	snprintf(entry, sizeof(entry), "%s", path);
	const char *base;
	const char *dir = split_path(path, &base);
	if (is_whiteout(base))
		return 0;
	cleanup_close int pfd = open_dir(root, dir, true, entry, err);
	if (pfd < 0)
		return pfd;
	bool is_dir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
	struct stat st;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !(is_dir && S_ISDIR(st.st_mode))) {
		int r = remove_at(pfd, base, err);
		if (r < 0)
			return kerr_prefix(err, "entry \"%s\"", entry);
	}
	if (archive_entry_hardlink(e))
		return make_link(e, root, pfd, base, entry, err);
	if (is_dir)
		return make_dir(e, pfd, base, entry, err);
	if (archive_entry_filetype(e) == AE_IFREG)
		return make_file(a, e, pfd, base, entry, err);
	return make_special(e, pfd, base, entry, err);
}

static int apply_entries(int root, int fd, const struct desc *d, struct kerr *err)
{
	cleanup_archive struct archive *a = NULL;
	int r = open_layer(fd, d, &a, err);
	struct archive_entry *e;
	char path[PATH_MAX];
	while (r >= 0 && (r = next_entry(a, d, &e, path, err)) == 1) {
		if ((r = extract(a, e, root, path, err)) < 0)
			return kerr_prefix(err, "layer %s", d->digest);
	}
	return r;
}

static int apply_layer(int layout, int root, json_t *j, size_t i, struct kerr *err)
{
	char what[48];
	snprintf(what, sizeof(what), "manifest layer %zu", i);
	struct desc d;
	int r = get_desc(j, what, &d, err);
	if (r < 0)
		return r;
	cleanup_close int fd = open_blob(layout, &d, err);
	if (fd < 0)
		return fd;
	r = apply_whiteouts(root, fd, &d, err);
	return r < 0 ? r : apply_entries(root, fd, &d, err);
}

/* ---- config.json ---- */

/* The runtime config image-rs writes (bundle.rs create_runtime_config):
 * Entrypoint + Cmd, Env, WorkingDir, hostname "image-rs". */
static int write_config(int bundle, json_t *image_config, struct kerr *err)
{
	json_t *c = json_object_get(image_config, "config");
	json_t *args = json_array();
	json_t *part;
	size_t i;
	json_array_foreach(json_object_get(c, "Entrypoint"), i, part)
		json_array_append(args, part);
	json_array_foreach(json_object_get(c, "Cmd"), i, part)
		json_array_append(args, part);
	json_t *env = json_object_get(c, "Env");
	env = json_is_array(env) ? json_incref(env) : json_array();
	json_t *cwd = json_object_get(c, "WorkingDir");
	json_auto_t *spec = json_pack("{s:s, s:s, s:{s:b, s:{s:i, s:i}, s:o, s:o, s:s}, s:{s:s}}",
				      "ociVersion", "1.0.2", "hostname", "image-rs", "process",
				      "terminal", 0, "user", "uid", 0, "gid", 0, "args", args,
				      "env", env, "cwd",
				      json_is_string(cwd) && json_string_length(cwd)
					      ? json_string_value(cwd)
					      : "/",
				      "root", "path", "rootfs");
	if (!spec)
		return kerr_set(err, -ENOMEM, "config.json: out of memory");
	cleanup_free char *text = json_dumps(spec, JSON_INDENT(2));
	cleanup_close int fd = openat(bundle, "config.json",
				      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (!text || fd < 0)
		return kerr_set(err, -errno, "config.json: %s", strerror(errno));
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n)
		return kerr_set(err, -EIO, "config.json: short write");
	return 0;
}

/* ---- the whole image ---- */

static int open_bundle(const char *bundle_dir, int *bundle, int *root, struct kerr *err)
{
	if (bundle_dir[0] != '/')
		return kerr_set(err, -EINVAL, "bundle path \"%s\" is not absolute", bundle_dir);
	if (mkdir(bundle_dir, 0755) < 0 && errno != EEXIST)
		return kerr_set(err, -errno, "bundle %s: %s", bundle_dir, strerror(errno));
	*bundle = open(bundle_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*bundle < 0)
		return kerr_set(err, -errno, "bundle %s: %s", bundle_dir, strerror(errno));
	if (mkdirat(*bundle, "rootfs", 0755) < 0 && errno != EEXIST)
		return kerr_set(err, -errno, "bundle %s: mkdir rootfs: %s", bundle_dir,
				strerror(errno));
	*root = sys_openat2(*bundle, "rootfs", O_PATH | O_DIRECTORY | O_CLOEXEC,
			    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (*root < 0)
		return kerr_set(err, -errno, "bundle %s: rootfs: %s", bundle_dir, strerror(errno));
	return 0;
}

static int check_config(json_t *config, struct kerr *err)
{
	const char *os = json_string_value(json_object_get(config, "os"));
	if (!os || strcmp(os, "linux") != 0)
		return kerr_set(err, -ENOTSUP, "image config: os %s is not linux",
				os ? os : "(missing)");
	return 0;
}

int oci_image_unpack(const char *layout_dir, const char *ref, const char *bundle_dir,
		     char manifest_digest[OCI_DIGEST_LEN], struct kerr *err)
{
	cleanup_close int layout = open(layout_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (layout < 0)
		return kerr_set(err, -errno, "image layout %s: %s", layout_dir, strerror(errno));
	cleanup_close int ifd = sys_openat2(layout, "index.json", O_RDONLY | O_CLOEXEC,
					    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (ifd < 0)
		return kerr_set(err, -errno, "%s/index.json: %s", layout_dir, strerror(errno));
	json_auto_t *index = load_json_fd(ifd, "index.json", err);
	if (!index)
		return -EINVAL;
	struct desc md;
	int r = select_manifest(index, ref, &md, err);
	if (r < 0)
		return r;
	json_auto_t *manifest = load_json_blob(layout, &md, err);
	if (!manifest)
		return -EINVAL;
	struct desc cd;
	if ((r = get_desc(json_object_get(manifest, "config"), "manifest config", &cd, err)) < 0)
		return r;
	json_auto_t *config = load_json_blob(layout, &cd, err);
	if (!config)
		return -EINVAL;
	if ((r = check_config(config, err)) < 0)
		return r;
	json_t *layers = json_object_get(manifest, "layers");
	if (!json_is_array(layers))
		return kerr_set(err, -EINVAL, "manifest %s: no layers array", md.digest);
	cleanup_close int bundle = -1, root = -1;
	if ((r = open_bundle(bundle_dir, &bundle, &root, err)) < 0)
		return r;
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l) {
		if ((r = apply_layer(layout, root, l, i, err)) < 0)
			return r;
	}
	if ((r = write_config(bundle, config, err)) < 0)
		return r;
	snprintf(manifest_digest, OCI_DIGEST_LEN, "%s", md.digest);
	return 0;
}
