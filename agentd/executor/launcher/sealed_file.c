/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sealed_file.c - sealed files in a container's volumes unsealed through
 * the CDH (sealed_file.h).
 */
#include "sealed_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "beneath.h"
#include "cdh_client.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"
#include "openat2.h"
#include "sealed_env.h"

#define SEALED_PREFIX "sealed."
#define FUSE_MAGIC 0x65735546
#define P9_MAGIC 0x01021997
#define MAX_ENTRIES 4096

static const char *const excluded[] = {
	"resolv.conf", "termination-log", "hostname", "hosts", "serviceaccount",
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

bool sealed_file_wanted(const char *containers_dir, const char *source, const char **rel)
{
	size_t n = strlen(containers_dir);
	if (!source || strncmp(source, containers_dir, n) || source[n] != '/' ||
	    !beneath_rel_ok(source + n + 1))
		return false;
	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
		if (ends_with(source, excluded[i]))
			return false;
	*rel = source + n + 1;
	return true;
}

struct unsealer {
	struct cdh_client *c;
	uint64_t api_ms;
	const char *source;
	size_t n;
};

/* The whole of fd (a regular file) when it starts with "sealed.", else
 * *out NULL. */
static int read_sealed(int fd, const struct stat *st, uint8_t **out, size_t *len, struct kerr *err)
{
	*out = NULL;
	char head[sizeof(SEALED_PREFIX) - 1];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	if (n != (ssize_t)sizeof(head) || memcmp(head, SEALED_PREFIX, sizeof(head)))
		return 0;
	if ((uint64_t)st->st_size > SEALED_FILE_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EFBIG, "larger than %u bytes",
				       SEALED_FILE_MAX);
	uint8_t *buf = malloc((size_t)st->st_size + 1);
	if (!buf)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	n = pread(fd, buf, (size_t)st->st_size + 1, 0);
	if (n != st->st_size) {
		sealed_env_free_secret(buf, (size_t)st->st_size + 1);
		return kerr_set_status(err, GRPC_INTERNAL, -EIO, "changed while read");
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* The path of the file fd below the volume (whose own path is vol_path),
 * components only: "..2024_x/secret" or "secret". */
static int rel_of(int fd, const char *vol_path, char *out, size_t len)
{
	char p[64], real[PATH_MAX];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(p, real, sizeof(real) - 1);
	if (n < 0)
		return -errno;
	real[n] = '\0';
	size_t vl = strlen(vol_path);
	if (strncmp(real, vol_path, vl) || real[vl] != '/' || !beneath_rel_ok(real + vl + 1))
		return -EXDEV;
	return snprintf(out, len, "%s", real + vl + 1) < (int)len ? 0 : -ENAMETOOLONG;
}

/* <rel>.unsealed beside the sealed file, with its mode and owner; the
 * entry then a symlink to it (made under a temporary name, renamed over). */
static int write_plain(int vol, const char *entry, const char *rel, const struct stat *st,
		       const uint8_t *plain, size_t n, struct kerr *err)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], link[PATH_MAX], tmp[NAME_MAX + 1];
	snprintf(dir, sizeof(dir), "%s", rel);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	if (snprintf(name, sizeof(name), "%s.unsealed", base) >= (int)sizeof(name) ||
	    snprintf(link, sizeof(link), "%s.unsealed", rel) >= (int)sizeof(link) ||
	    snprintf(tmp, sizeof(tmp), ".%.200s.unsealing", entry) >= (int)sizeof(tmp))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG, "name too long");
	if (slash)
		*slash = '\0';
	cleanup_close int dfd = beneath_open_dir(vol, slash ? dir : "", false, 0, err);
	if (dfd < 0)
		return dfd;
	struct statfs sf;
	if (fstatfs(dfd, &sf) == 0 && (sf.f_type == FUSE_MAGIC || sf.f_type == P9_MAGIC))
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EXDEV,
				       "on a filesystem shared with the host: the plaintext is "
				       "not written there");
	cleanup_close int fd = beneath_write_file(dfd, name, plain, n, st->st_mode & 0777, err);
	if (fd < 0)
		return fd;
	if (fchown(fd, st->st_uid, st->st_gid) < 0)
		return kerr_set(err, -errno, "chown %s: %s", link, strerror(errno));
	(void)unlinkat(vol, tmp, 0);
	if (symlinkat(link, vol, tmp) < 0 || renameat(vol, tmp, vol, entry) < 0) {
		int e = errno;
		(void)unlinkat(vol, tmp, 0);
		return kerr_set(err, -e, "replace %s by a symlink: %s", entry, strerror(e));
	}
	return 0;
}

/* One entry of a volume: unsealed when it is (or leads, inside the
 * volume, to) a sealed regular file. */
static int unseal_entry(struct unsealer *u, int vol, const char *vol_path, const char *entry,
			struct kerr *err)
{
	cleanup_close int path = sys_openat2(vol, entry, O_PATH | O_CLOEXEC,
					     RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (path < 0) {
		if (errno == EXDEV || errno == ELOOP)
			log_warn("sealed secrets: %s/%s leads out of the volume: skipped",
				 u->source, entry);
		return 0;
	}
	/* Only a regular file is opened for reading (never a device or fifo). */
	struct stat st;
	if (fstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", path);
	cleanup_close int fd = open(self, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, -errno, "open: %s", strerror(errno));
	uint8_t *sealed = NULL, *plain = NULL;
	size_t len = 0, n = 0;
	int r = read_sealed(fd, &st, &sealed, &len, err);
	if (r < 0 || !sealed)
		return r;
	char rel[PATH_MAX];
	r = rel_of(fd, vol_path, rel, sizeof(rel));
	if (r < 0) {
		sealed_env_free_secret(sealed, len);
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, r, "not below the volume: %s",
				       strerror(-r));
	}
	if (!u->c)
		r = cdh_client_new(&u->c, u->api_ms, u->api_ms, err);
	if (r == 0)
		r = cdh_unseal_secret(u->c, sealed, len, &plain, &n, err);
	sealed_env_free_secret(sealed, len);
	if (r == 0)
		r = write_plain(vol, entry, rel, &st, plain, n, err);
	sealed_env_free_secret(plain, n);
	if (r == 0)
		u->n++;
	return r;
}

static int unseal_volume(struct unsealer *u, int containers, const char *containers_dir,
			 const char *rel, struct kerr *err)
{
	char vol_path[PATH_MAX];
	if (snprintf(vol_path, sizeof(vol_path), "%s/%s", containers_dir, rel) >=
	    (int)sizeof(vol_path))
		return 0;
	int fd = sys_openat2(containers, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd < 0)
		return 0; /* a file, or gone: upstream's read_dir fails and it warns */
	cleanup_closedir DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	struct dirent *de;
	int r = 0;
	for (unsigned i = 0; r == 0 && i < MAX_ENTRIES && (de = readdir(d)); i++)
		if ((de->d_type == DT_REG || de->d_type == DT_LNK) && de->d_name[0] &&
		    strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			if ((r = unseal_entry(u, dirfd(d), vol_path, de->d_name, err)) < 0)
				kerr_prefix(err, "file %s/%s", u->source, de->d_name);
	return r;
}

int sealed_file_unseal(const Grpc__Spec *spec, const char *shared_dir, uint64_t api_timeout_ms,
		       size_t *n_unsealed, struct kerr *err)
{
	if (n_unsealed)
		*n_unsealed = 0;
	if (!spec->n_mounts || !sealed_env_cdh_present())
		return 0;
	char containers_dir[PATH_MAX];
	snprintf(containers_dir, sizeof(containers_dir), "%s/shared/containers", shared_dir);
	struct kerr oe = { 0 };
	cleanup_close int containers = beneath_open_root(containers_dir, &oe);
	if (containers < 0)
		return 0;
	struct unsealer u = { .api_ms = api_timeout_ms };
	int r = 0;
	for (size_t i = 0; r == 0 && i < spec->n_mounts; i++) {
		const char *rel;
		u.source = spec->mounts[i]->source;
		if (sealed_file_wanted(containers_dir, u.source, &rel))
			r = unseal_volume(&u, containers, containers_dir, rel, err);
	}
	cdh_client_free(u.c);
	if (n_unsealed)
		*n_unsealed = u.n;
	return r < 0 ? kerr_prefix(err, "failed to handle sealed secrets") : 0;
}
