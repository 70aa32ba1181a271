/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest.c - guest-wide requests that concern no container:
 * SetGuestDateTime, ReseedRandomDev, GetVolumeStats, CopyFile,
 * OnlineCPUMem, MemHotplugByProbe and AddSwapPath (see
 * doc/guest-ops.md for the rules and how they differ from upstream).
 *
 * Paths from the host must lie below the shared directory (--shared-dir,
 * /run/kata-containers as upstream's CONTAINER_BASE), CopyFile's below its
 * shared/containers subtree (upstream's KATA_GUEST_SHARE_DIR): they are
 * written as "<dir>/<rel>" with no empty, "." or ".." component. What is
 * only looked at (GetVolumeStats) is opened from an fd of the shared
 * directory with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); what is
 * written (CopyFile, AddSwapPath) goes through common/beneath.h: no
 * symlink anywhere on the way, no special file or hard link written
 * through.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/time.h>
#include <unistd.h>

#include "beneath.h"
#include "cleanup.h"
#include "executor.h"
#include "answer.h"
#include "guest.h"
#include "grpc_status.h"
#include "guest_online.h"
#include "linux_compat.h"

#define RESOLVE_SHARED (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
/* Largest file CopyFile writes (upstream has no bound; the runtime copies
 * configuration files, secrets and config maps). */
#define COPY_FILE_MAX (1ll << 30)
/* Suffix of the file a CopyFile writes into until its last chunk. */
#define COPY_TMP_SUFFIX ".kata-copy"

static int reply_ok(struct ipc_chan *c, const struct ipc_msg *m, struct kerr *err)
{
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}

/* ---- SetGuestDateTime ---- */

int on_set_guest_date_time(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	const struct ipc_guest_time *in = m->in;
	struct ipc_guest_time t = *in;
	struct kerr e = { 0 };
	/* The kernel refuses these too, but with a bare EINVAL. */
	if (t.sec < 0 || t.usec < 0 || t.usec > 999999) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"SetGuestDateTime: %" PRId64 " s %" PRId64 " us is not a time "
				"(seconds >= 0, microseconds 0..999999)",
				t.sec, t.usec);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	struct timeval tv = { .tv_sec = (time_t)t.sec, .tv_usec = (suseconds_t)t.usec };
	if (settimeofday(&tv, NULL) < 0) {
		kerr_set_status(&e, errno == EINVAL ? GRPC_INVALID_ARGUMENT : GRPC_INTERNAL, -errno,
				"SetGuestDateTime: settimeofday(%" PRId64 ".%06" PRId64 "): %s",
				t.sec, t.usec, strerror(errno));
		return answer_fail(c, m->hdr.id, &e, err);
	}
	log_info("guest clock set to %" PRId64 ".%06" PRId64, t.sec, t.usec);
	return reply_ok(c, m, err);
}

/* ---- ReseedRandomDev ---- */

/* Mix the host's bytes into the kernel's pool, credit one bit per byte
 * (as upstream, which passes the byte count to RNDADDTOENTCNT: the host is
 * not trusted to supply full entropy), then make the CRNG reseed now
 * (RNDRESEEDCRNG). RNDADDENTROPY mixes and credits in one call. */
int on_reseed_random_dev(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	int r;
	struct kerr e = { 0 };
	cleanup_close int fd = open("/dev/random", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		kerr_set_status(&e, GRPC_INTERNAL, -errno, "ReseedRandomDev: open /dev/random: %s",
				strerror(errno));
		return answer_fail(c, m->hdr.id, &e, err);
	}
	struct rand_pool_info *rpi = malloc(sizeof(*rpi) + m->len);
	if (!rpi) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	rpi->entropy_count = (int)m->len;
	rpi->buf_size = (int)m->len;
	memcpy(rpi->buf, m->payload, m->len);
	r = ioctl(fd, RNDADDENTROPY, rpi);
	int saved = errno;
	explicit_bzero(rpi->buf, m->len);
	free(rpi);
	if (r < 0) {
		kerr_set_status(&e, GRPC_INTERNAL, -saved, "ReseedRandomDev: RNDADDENTROPY: %s",
				strerror(saved));
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (ioctl(fd, RNDRESEEDCRNG, 0) < 0 && errno != ENOTTY && errno != EINVAL) {
		kerr_set_status(&e, GRPC_INTERNAL, -errno, "ReseedRandomDev: RNDRESEEDCRNG: %s",
				strerror(errno));
		return answer_fail(c, m->hdr.id, &e, err);
	}
	log_info("random pool reseeded with %zu bytes from the host", m->len);
	return reply_ok(c, m, err);
}

/* ---- paths below the shared directory ---- */

/* path must be "<shared>/<rel>" with rel made of plain components; *rel
 * points into path. what names the field in errors. */
static int guest_shared_rel(const char *shared, const char *path, const char *what,
			    const char **rel, struct kerr *err)
{
	size_t n = strlen(shared);
	if (path[0] != '/')
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s \"%.200s\" is not an absolute path", what, path);
	if (strlen(path) >= IPC_PATH_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
				       "%s is longer than %u bytes", what, IPC_PATH_MAX - 1);
	if (strncmp(path, shared, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "%s \"%.200s\" is not below %s", what, path, shared);
	const char *p = path + n + 1;
	for (const char *c = p; *c;) {
		const char *e = strchrnul(c, '/');
		size_t l = (size_t)(e - c);
		if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "%s \"%.200s\" has an empty, \".\" or \"..\" component",
					       what, path);
		if (l > NAME_MAX)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
					       "%s \"%.200s\" has a component over %d bytes", what,
					       path, NAME_MAX);
		c = *e ? e + 1 : e;
	}
	*rel = p;
	return 0;
}

static int open_shared(const char *shared, struct kerr *err)
{
	int fd = open(shared, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "open %s: %s", shared,
				       strerror(errno));
	return fd;
}

/* The path a request carries (GET_VOLUME_STATS_REQ, ADD_SWAP_PATH_REQ: checked for
 * NUL by ipc.c), into path, checked by guest_shared_rel; *rel points into
 * path. */
static int request_rel(struct executor *x, const struct ipc_msg *m, const char *what,
		       char path[IPC_PATH_MAX], const char **rel, struct kerr *e)
{
	memcpy(path, m->payload, m->len);
	path[m->len] = '\0';
	return guest_shared_rel(x->o.shared_dir, path, what, rel, e);
}

/* The request's path opened O_PATH below the shared directory
 * (RESOLVE_SHARED: symlinks staying below it are followed; this is only
 * looked at). A missing path is NOT_FOUND, one that cannot be opened so
 * INVALID_ARGUMENT. */
static int open_request_path(struct executor *x, const struct ipc_msg *m, const char *what,
			     char path[IPC_PATH_MAX], struct kerr *e)
{
	const char *rel = NULL;
	int r = request_rel(x, m, what, path, &rel, e);
	if (r < 0)
		return r;
	cleanup_close int root = open_shared(x->o.shared_dir, e);
	if (root < 0)
		return root;
	int fd = sys_openat2(root, rel, O_PATH | O_CLOEXEC, RESOLVE_SHARED);
	if (fd < 0)
		return kerr_set_status(e, errno == ENOENT ? GRPC_NOT_FOUND : GRPC_INVALID_ARGUMENT,
				       -errno, "%s %s: %s", what, path, strerror(errno));
	return fd;
}

/* ---- GetVolumeStats ---- */

static void usage_of(Grpc__VolumeUsage *u, Grpc__VolumeUsage__Unit unit, uint64_t total,
		     uint64_t free_all, uint64_t avail, uint64_t mult)
{
	grpc__volume_usage__init(u);
	u->unit = unit;
	u->total = total * mult;
	u->available = avail * mult;
	u->used = (total >= free_all ? total - free_all : 0) * mult;
}

int on_get_volume_stats(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	char path[IPC_PATH_MAX];
	struct kerr e = { 0 };
	cleanup_close int fd = open_request_path(x, m, "GetVolumeStats: volume_guest_path", path,
						 &e);
	if (fd < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0) {
		kerr_set_status(&e, GRPC_INTERNAL, -errno, "GetVolumeStats: statfs %s: %s", path,
				strerror(errno));
		return answer_fail(c, m->hdr.id, &e, err);
	}
	/* As upstream: bytes from the block counts, then inodes. */
	Grpc__VolumeUsage bytes, inodes;
	usage_of(&bytes, GRPC__VOLUME_USAGE__UNIT__BYTES, sf.f_blocks, sf.f_bfree, sf.f_bavail,
		 (uint64_t)sf.f_bsize);
	usage_of(&inodes, GRPC__VOLUME_USAGE__UNIT__INODES, sf.f_files, sf.f_ffree, sf.f_ffree, 1);
	Grpc__VolumeUsage *list[2] = { &bytes, &inodes };
	Grpc__VolumeCondition cond = GRPC__VOLUME_CONDITION__INIT;
	cond.abnormal = false;
	cond.message = (char *)"OK";
	Grpc__VolumeStatsResponse resp = GRPC__VOLUME_STATS_RESPONSE__INIT;
	resp.n_usage = 2;
	resp.usage = list;
	resp.volume_condition = &cond;
	return answer_msg(c, m, IPC_GET_VOLUME_STATS_REPLY, &resp.base, err);
}

/* ---- CopyFile ---- */

/* chown through an fd; -1 keeps an id. */
static int own_fd(int fd, int32_t uid, int32_t gid, const char *path, struct kerr *err)
{
	if ((uid != -1 || gid != -1) && fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "CopyFile: chown %s %d:%d: %s",
				       path, uid, gid, strerror(errno));
	return 0;
}

/* A symlink target may not leave the directory tree it is written in: no
 * absolute target, no ".." component (the runtime copies Kubernetes volume
 * trees, whose links are relative: "..data" -> "..2024_01_01...",
 * "key" -> "..data/key"). */
static int check_link_target(const ProtobufCBinaryData *d, struct kerr *err)
{
	if (d->len == 0 || d->len >= PATH_MAX || memchr(d->data, '\0', d->len))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "CopyFile: a symlink target must be 1..%d bytes without NUL",
				       PATH_MAX - 1);
	if (d->data[0] == '/')
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "CopyFile: symlink target %.*s is absolute", (int)d->len,
				       (const char *)d->data);
	const char *s = (const char *)d->data, *end = s + d->len;
	for (const char *c = s; c < end;) {
		const char *e = memchr(c, '/', (size_t)(end - c));
		if (!e)
			e = end;
		if (e - c == 2 && c[0] == '.' && c[1] == '.')
			return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
					       "CopyFile: symlink target %.*s has a \"..\" component",
					       (int)d->len, s);
		c = e + 1;
	}
	return 0;
}

/* What stands at name, if anything, may be replaced (as upstream, which
 * removes it first): anything but a directory, unless dir_ok. */
static int clear_name(int pfd, const char *name, bool dir_ok, const char *path, struct kerr *err)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			       ? 0
			       : kerr_set_status(err, GRPC_INTERNAL, -errno,
						 "CopyFile: stat %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (dir_ok)
			return 0;
		return kerr_set_status(err, GRPC_ALREADY_EXISTS, -EEXIST,
				       "CopyFile: %s exists and is a directory", path);
	}
	if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "CopyFile: unlink %s: %s", path,
				       strerror(errno));
	return 0;
}

/* A directory: kept if it exists (as upstream), given its mode and owner.
 * Its set-group-id bit stays (kubelet's fsGroup directories have it), and
 * the sticky bit; set-user-id means nothing on a Linux directory. */
static int copy_dir(int pfd, const char *name, const Grpc__CopyFileRequest *q, struct kerr *err)
{
	mode_t mode = q->file_mode & (S_ISGID | S_ISVTX | 0777);
	int r = clear_name(pfd, name, true, q->path, err);
	if (r < 0)
		return r;
	cleanup_close int fd = beneath_mkdir(pfd, name, mode, NULL, err);
	if (fd < 0)
		return kerr_prefix(err, "CopyFile %s", q->path);
	if (fchmod(fd, mode) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "CopyFile: chmod %s: %s",
				       q->path, strerror(errno));
	return own_fd(fd, q->uid, q->gid, q->path, err);
}

static int copy_link(int pfd, const char *name, const Grpc__CopyFileRequest *q, struct kerr *err)
{
	int r = check_link_target(&q->data, err);
	if (r < 0)
		return r;
	cleanup_free char *target = strndup((const char *)q->data.data, q->data.len);
	if (!target)
		return kerr_set(err, -ENOMEM, "out of memory");
	/* Kubernetes updates a volume by re-pointing "..data". */
	if ((r = clear_name(pfd, name, false, q->path, err)) < 0)
		return r;
	if (symlinkat(target, pfd, name) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "CopyFile: symlink %s: %s",
				       q->path, strerror(errno));
	if ((q->uid != -1 || q->gid != -1) &&
	    beneath_chown_link(pfd, name, (uid_t)q->uid, (gid_t)q->gid, err) < 0)
		return kerr_prefix(err, "CopyFile");
	return 0;
}

static int copy_regular(int pfd, const char *name, const Grpc__CopyFileRequest *q, bool *complete,
			struct kerr *err)
{
	char tmp[NAME_MAX + 1];
	if (snprintf(tmp, sizeof(tmp), "%s%s", name, COPY_TMP_SUFFIX) >= (int)sizeof(tmp))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
				       "CopyFile: the name of %s is too long", q->path);
	/* Chunks come in order (the runtime sends them so): offset 0 starts
	 * the file afresh, every other chunk continues where it ends. So the
	 * file is complete exactly when the chunk ending at file_size came,
	 * which a size check alone cannot tell with chunks out of order. A
	 * symlink, fifo, device or hard link planted under the temporary name
	 * is refused by beneath_open_file without being written through. */
	int flags = q->offset == 0 ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY;
	cleanup_close int fd = beneath_open_file(pfd, tmp, flags, 0600, err);
	if (fd < 0) {
		if (q->offset != 0 && err->status == GRPC_NOT_FOUND)
			err->status = GRPC_INVALID_ARGUMENT;
		return kerr_prefix(err, "CopyFile %s (chunk at offset %" PRId64 ")", q->path,
				   q->offset);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "CopyFile: stat %s: %s", q->path,
				       strerror(errno));
	if (st.st_size != q->offset)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "CopyFile: chunk at offset %" PRId64
				       " of %s, but %lld bytes "
				       "were written: chunks must come in order",
				       q->offset, q->path, (long long)st.st_size);
	for (size_t done = 0; done < q->data.len;) {
		ssize_t n = pwrite(fd, q->data.data + done, q->data.len - done,
				   (off_t)q->offset + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kerr_set_status(err,
					       errno == ENOSPC ? GRPC_RESOURCE_EXHAUSTED
							       : GRPC_INTERNAL,
					       -errno, "CopyFile: write %s: %s", q->path,
					       strerror(errno));
		done += (size_t)n;
	}
	if (q->offset + (int64_t)q->data.len != q->file_size) {
		*complete = false;
		return 0;
	}
	/* No setuid/setgid bits from the host on files. */
	if (fchmod(fd, q->file_mode & (S_ISVTX | 0777)) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "CopyFile: chmod %s: %s",
				       q->path, strerror(errno));
	int r = own_fd(fd, q->uid, q->gid, q->path, err);
	if (r < 0)
		return r;
	if (renameat(pfd, tmp, pfd, name) < 0)
		return kerr_set_status(err, errno == EISDIR ? GRPC_ALREADY_EXISTS : GRPC_INTERNAL,
				       -errno, "CopyFile: rename to %s: %s", q->path,
				       strerror(errno));
	*complete = true;
	return 0;
}

/* CopyFile's fields, without the path: type, mode bits, owner, sizes. */
static int guest_copy_file_check(const Grpc__CopyFileRequest *q, struct kerr *err)
{
	mode_t type = q->file_mode & S_IFMT;
	if (type != 0 && type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "CopyFile: file_mode 0%o is not a regular file, directory "
				       "or symlink",
				       q->file_mode);
	/* file_mode is a stat(2) st_mode (type and permission bits) from
	 * both runtimes; dir_mode is taken & 0777, as upstream, which drops
	 * the Go runtime's os.ModeDir (bit 31) and runtime-rs's S_IFDIR. */
	if (q->file_mode & ~(S_IFMT | 07777))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "CopyFile: file_mode 0%o has bits that are not a file mode",
				       q->file_mode);
	if (q->uid < -1 || q->gid < -1)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "CopyFile: uid %d / gid %d (-1 keeps the owner)", q->uid,
				       q->gid);
	if (type == 0 || type == S_IFREG) {
		if (q->file_size < 0 || q->file_size > COPY_FILE_MAX || q->offset < 0 ||
		    q->offset > q->file_size || (int64_t)q->data.len > q->file_size - q->offset)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "CopyFile: %zu bytes at offset %" PRId64
					       " do not fit a file of %" PRId64
					       " bytes (at most %lld)",
					       q->data.len, q->offset, q->file_size, COPY_FILE_MAX);
	}
	return 0;
}

/* The parent directory of rel below the CopyFile subtree (made if missing,
 * as upstream, with dir_mode & 0777; 0755 when the runtime sends none),
 * and in *name the last component. */
static int copy_parent(struct executor *x, const Grpc__CopyFileRequest *q, const char *rel,
		       const char **name, struct kerr *err)
{
	cleanup_free char *dir = strdup(rel);
	if (!dir)
		return kerr_set(err, -ENOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	*name = slash ? rel + (slash - dir) + 1 : rel;
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	cleanup_close int shared = beneath_open_root(x->o.shared_dir, err);
	if (shared < 0)
		return shared;
	/* Like upstream's create_dir_all of KATA_GUEST_SHARE_DIR. */
	cleanup_close int root = beneath_open_dir(shared, COPY_FILE_SUBTREE, true, 0755, err);
	if (root < 0)
		return root;
	mode_t dmode = q->dir_mode & 0777;
	return beneath_open_dir(root, dir, true, dmode ? dmode : 0755, err);
}

int on_copy_file(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	int r;
	const Grpc__CopyFileRequest *q = m->in;
	struct kerr e = { 0 };
	char base[PATH_MAX];
	snprintf(base, sizeof(base), "%s/%s", x->o.shared_dir, COPY_FILE_SUBTREE);
	const char *rel = NULL, *name = NULL;
	cleanup_close int pfd = -1;
	bool complete = true;
	if (guest_copy_file_check(q, &e) < 0 ||
	    guest_shared_rel(base, q->path, "CopyFile path", &rel, &e) < 0)
		goto bad;
	if ((pfd = copy_parent(x, q, rel, &name, &e)) < 0) {
		kerr_prefix(&e, "CopyFile %.200s", q->path);
		goto bad;
	}
	mode_t type = q->file_mode & S_IFMT;
	if (type == S_IFDIR)
		r = copy_dir(pfd, name, q, &e);
	else if (type == S_IFLNK)
		r = copy_link(pfd, name, q, &e);
	else
		r = copy_regular(pfd, name, q, &complete, &e);
	if (r < 0)
		goto bad;
	if (complete)
		log_info("CopyFile: %s written", q->path);
	return reply_ok(c, m, err);
bad:
	return answer_fail(c, m->hdr.id, &e, err);
}

/* ---- OnlineCPUMem ---- */

/* Hotplugged CPUs show up in sysfs some time after the host added them:
 * look again every ONLINE_POLL_MS, ONLINE_POLLS times at most (upstream:
 * 50 ms, 200 retries). */
#define ONLINE_POLL_MS 50
#define ONLINE_POLLS 200

static void online_done(struct executor *x, const struct kerr *e)
{
	struct online_op *op = &x->online;
	op->active = false;
	op->timer = NULL;
	if (!op->wait) {
		if (e)
			log_error("OnlineCPUMem (in the background): %s", e->msg);
		return;
	}
	if (e)
		answer_fe_error(x, op->fe_gen, op->fe_id, e);
	else
		answer_fe_ok(x, op->fe_gen, op->fe_id);
}

/* New CPUs: the containers' v1 cpusets may use them too. */
static int widen_cpusets(struct executor *x, struct kerr *err)
{
	for (struct container *ct = x->ctrs; ct; ct = ct->next) {
		const Grpc__Spec *s = ct->req ? ct->req->oci : NULL;
		const Grpc__LinuxResources *res = s && s->linux ? s->linux->resources : NULL;
		bool own = res && res->cpu && res->cpu->cpus && res->cpu->cpus[0];
		if (ct->cg && cg_cpuset_refresh(ct->cg, !own, err) < 0)
			return kerr_prefix(err, "container %s", ct->id);
	}
	return 0;
}

static void online_step(struct loop *l, void *data)
{
	struct executor *x = data;
	struct online_op *op = &x->online;
	struct kerr e = { 0 };
	op->timer = NULL;
	if (op->onlined < (int)op->nb_cpus) {
		int n = guest_online_dir(SYSFS_CPU_DIR, "cpu", (int)op->nb_cpus - op->onlined, &e);
		if (n < 0) {
			online_done(x, &e);
			return;
		}
		op->onlined += n;
	}
	if (op->onlined < (int)op->nb_cpus) {
		if (++op->polls >= ONLINE_POLLS) {
			kerr_set_status(&e, GRPC_DEADLINE_EXCEEDED, -ETIME,
					"OnlineCPUMem: %d of %u CPUs came online within %d ms",
					op->onlined, op->nb_cpus, ONLINE_POLL_MS * ONLINE_POLLS);
			online_done(x, &e);
			return;
		}
		op->timer = loop_timer_add(l, loop_now_ns() + ONLINE_POLL_MS * 1000000ull,
					   online_step, x);
		if (!op->timer) {
			kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
			online_done(x, &e);
		}
		return;
	}
	if (!op->cpu_only && guest_online_dir(SYSFS_MEMORY_DIR, "memory", -1, &e) < 0) {
		online_done(x, &e);
		return;
	}
	if (op->nb_cpus && widen_cpusets(x, &e) < 0) {
		online_done(x, &e);
		return;
	}
	log_info("OnlineCPUMem: %d CPUs%s online", op->onlined,
		 op->cpu_only ? "" : " and every memory block");
	online_done(x, NULL);
}

int on_online_cpu_mem(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	int r;
	const struct ipc_online_cpu_mem *q = m->in;
	struct kerr e = { 0 };
	if (x->online.active) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EBUSY,
				"OnlineCPUMem: another one is in progress");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (q->nb_cpus > 4096) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"OnlineCPUMem: %u CPUs is more than 4096", q->nb_cpus);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	x->online = (struct online_op){
		.active = true,
		.wait = q->wait,
		.cpu_only = q->cpu_only,
		.nb_cpus = q->nb_cpus,
		.fe_id = m->hdr.id,
		.fe_gen = x->fe_generation,
	};
	/* Without wait the host gets its answer now, the work goes on. */
	if (!q->wait && (r = reply_ok(c, m, err)) < 0)
		return r;
	online_step(x->loop, x);
	return 0;
}

/* ---- MemHotplugByProbe ---- */

#define SYSFS_MEMORY_PROBE SYSFS_MEMORY_DIR "/probe"

/* Each address to the probe file, one write each, formatted as upstream
 * ("0x" and upper-case hex). The file exists only on kernels built with
 * CONFIG_ARCH_MEMORY_PROBE. */
int on_mem_hotplug_by_probe(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct kerr e = { 0 };
	cleanup_close int fd = open(SYSFS_MEMORY_PROBE, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		kerr_set_status(&e, errno == ENOENT ? GRPC_FAILED_PRECONDITION : GRPC_INTERNAL,
				-errno, "MemHotplugByProbe: open %s: %s%s", SYSFS_MEMORY_PROBE,
				strerror(errno),
				errno == ENOENT ? " (kernel without CONFIG_ARCH_MEMORY_PROBE)"
						: "");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	for (size_t i = 0; i < m->len / 8; i++) {
		uint64_t a;
		memcpy(&a, m->payload + i * 8, 8);
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "0x%" PRIX64, a);
		if (pwrite(fd, buf, (size_t)n, 0) != n) {
			kerr_set_status(&e, errno == EINVAL ? GRPC_INVALID_ARGUMENT : GRPC_INTERNAL,
					-errno, "MemHotplugByProbe: probe %s: %s", buf,
					strerror(errno));
			return answer_fail(c, m->hdr.id, &e, err);
		}
		log_info("memory probed at %s", buf);
	}
	return reply_ok(c, m, err);
}

/* ---- AddSwapPath ---- */

/* The kernel's union swap_header (include/linux/swap.h), info part; the
 * page ends with the "SWAPSPACE2" magic. */
struct swap_info_hdr {
	char bootbits[1024];
	uint32_t version;
	uint32_t last_page;
	uint32_t nr_badpages;
	unsigned char uuid[16];
	unsigned char volume[16];
	uint32_t padding[117];
	uint32_t badpages[1];
};
_Static_assert(sizeof(struct swap_info_hdr) == 1540, "swap header layout");
#define SWAP_MAGIC "SWAPSPACE2"
/* The fewest pages mkswap accepts. */
#define SWAP_MIN_PAGES 10u

/* mkswap's work on fd (a file, or a disk for AddSwap): a version 1 swap
 * area over its whole pages, no bad pages, a random UUID. */
int swap_header_write(int fd, size_t page_size, struct kerr *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kerr_set(err, -errno, "fstat: %s", strerror(errno));
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0)
		return kerr_set(err, -errno, "BLKGETSIZE64: %s", strerror(errno));
	uint64_t pages = size / page_size;
	if (pages < SWAP_MIN_PAGES)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%lld bytes is too small for swap: at least %u pages of %zu "
				       "bytes",
				       (long long)size, SWAP_MIN_PAGES, page_size);
	if (pages - 1 > UINT32_MAX)
		pages = (uint64_t)UINT32_MAX + 1;
	cleanup_free unsigned char *page = calloc(1, page_size);
	if (!page)
		return kerr_set(err, -ENOMEM, "out of memory");
	struct swap_info_hdr h = { .version = 1, .last_page = (uint32_t)(pages - 1) };
	if (getrandom(h.uuid, sizeof(h.uuid), 0) != (ssize_t)sizeof(h.uuid))
		return kerr_set(err, -errno, "getrandom: %s", strerror(errno));
	h.uuid[6] = (h.uuid[6] & 0x0f) | 0x40; /* RFC 4122 version 4, as mkswap */
	h.uuid[8] = (h.uuid[8] & 0x3f) | 0x80;
	memcpy(page, &h, sizeof(h));
	memcpy(page + page_size - strlen(SWAP_MAGIC), SWAP_MAGIC, strlen(SWAP_MAGIC));
	ssize_t w = pwrite(fd, page, page_size, 0);
	if (w != (ssize_t)page_size)
		return kerr_set(err, w < 0 ? -errno : -EIO, "writing the swap header: %s",
				w < 0 ? strerror(errno) : "short write");
	if (fsync(fd) < 0)
		return kerr_set(err, -errno, "fsync: %s", strerror(errno));
	return 0;
}

/* As upstream (do_add_swap_path): make the file at path a swap area and
 * swap on it; the path must be a regular file below the shared directory,
 * opened once and used through that fd, so it cannot be exchanged in
 * between. */
int on_add_swap_path(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	char path[IPC_PATH_MAX];
	struct kerr e = { 0 };
	const char *rel = NULL;
	cleanup_close int root = -1, fd = -1;
	/* An existing regular file with one link, nothing else: a device
	 * node or a fifo planted there is never opened (beneath.h). */
	if (request_rel(x, m, "AddSwapPath path", path, &rel, &e) < 0 ||
	    (root = beneath_open_root(x->o.shared_dir, &e)) < 0 ||
	    (fd = beneath_open_file(root, rel, O_RDWR, 0, &e)) < 0) {
		kerr_prefix(&e, "AddSwapPath");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	long ps = sysconf(_SC_PAGESIZE);
	if (swap_header_write(fd, ps > 0 ? (size_t)ps : 4096u, &e) < 0) {
		kerr_prefix(&e, "AddSwapPath %s", path);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	char fdpath[64];
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	if (swapon(fdpath, 0) < 0) {
		kerr_set_status(&e, errno == EINVAL ? GRPC_INVALID_ARGUMENT : GRPC_INTERNAL, -errno,
				"AddSwapPath: swapon %s: %s%s", path, strerror(errno),
				errno == EINVAL ? " (tmpfs and ramfs cannot hold swap)" : "");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	log_info("AddSwapPath: swapping on %s", path);
	return reply_ok(c, m, err);
}
