/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testutil.c - see testutil.h.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "err.h"
#include "grpc_status.h"
#include "ipc.h"

/* ---- files ---- */

char *tu_read_file_len(const char *path, size_t *len)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			char *more = realloc(buf, (cap *= 2) + 1);
			if (!more)
				free(buf);
			buf = more;
		}
	}
	if (!buf)
		return NULL;
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *tu_read_file(const char *path)
{
	return tu_read_file_len(path, NULL);
}

int tu_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	bool sock = true;
	while (len > 0) {
		ssize_t n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
		if (n < 0 && errno == ENOTSOCK && sock) {
			sock = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tu_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tu_write_file(const char *path, const char *text, mode_t mode)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int r = tu_write_all(fd, text, strlen(text));
	if (r < 0)
		return r;
	return fchmod(fd, mode) < 0 ? -errno : 0;
}

int tu_mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *s = tmp + 1;; s++) {
		s = strchr(s, '/');
		if (s)
			*s = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (!s)
			return 0;
		*s = '/';
	}
}

int tu_put_path(const char *path, const char *text)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -ENAMETOOLONG;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		int r = tu_mkdirs(dir);
		if (r < 0) {
			printf("# mkdir -p %s: %s\n", dir, strerror(-r));
			return r;
		}
	}
	int r = tu_write_file(path, text, 0644);
	if (r < 0)
		printf("# write %s: %s\n", path, strerror(-r));
	return r;
}

int tu_put_file(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path))
		return -ENAMETOOLONG;
	return tu_put_path(path, text);
}

const char *tu_peek_file(const char *path)
{
	static char buf[4096];
	buf[0] = '\0';
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return buf;
	size_t n = 0;
	while (n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

int tu_copy_file(const char *from, const char *to, mode_t mode)
{
	cleanup_close int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	cleanup_close int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		return -errno;
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		int r = tu_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	return fchmod(out, mode) < 0 ? -errno : 0;
}

bool tu_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

bool tu_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)f;
	if ((flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT)
		printf("# rm %s: %s\n", p, strerror(errno));
	return 0;
}

int tu_rm_rf(const char *path)
{
	if (!tu_exists(path))
		return 0;
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return tu_exists(path) ? -1 : 0;
}

/* ---- a busybox rootfs ---- */

int tu_build_rootfs(const char *rootfs, const char *const *applets)
{
	static const char *const dirs[] = { "bin", "dev", "etc", "mnt", "proc", "sys", "tmp" };
	char p[PATH_MAX];
	if (mkdir(rootfs, 0755) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", rootfs, dirs[i]);
		if (mkdir(p, 0755) < 0)
			return -errno;
	}
	snprintf(p, sizeof(p), "%s/bin/busybox", rootfs);
	int r = tu_copy_file("/bin/busybox", p, 0755);
	if (r < 0)
		return r;
	for (const char *const *a = applets; *a; a++) {
		snprintf(p, sizeof(p), "%s/bin/%s", rootfs, *a);
		if (symlink("busybox", p) < 0)
			return -errno;
	}
	return 0;
}

/* ---- /proc ---- */

int tu_proc_status(pid_t pid, const char *field, char *out, size_t len)
{
	char path[64], line[256];
	size_t n = strlen(field);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	out[0] = '\0';
	cleanup_fclose FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, n) != 0 || line[n] != ':')
			continue;
		char *v = line + n + 1;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, len, "%s", v);
		return 0;
	}
	return -1;
}

int tu_fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	cleanup_closedir DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	return n;
}

/* ---- fds ---- */

int tu_seqpacket_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

void tu_close_pair(int sv[2])
{
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0) {
			close(sv[i]);
			sv[i] = -1;
		}
}

int tu_wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do {
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	return r;
}

/* ---- namespaces ---- */

int tu_private_mount_ns(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	return 0;
}

int tu_main_root_mount_ns(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return -1;
	}
	int r = tu_private_mount_ns();
	if (r < 0) {
		printf("1..0 # SKIP no private mount namespace: %s\n", strerror(-r));
		return -1;
	}
	return 0;
}

/* ---- processes ---- */

pid_t tu_spawn(const char *path, char *const argv[], const int *fds, unsigned nfds)
{
	fflush(stdout); /* or the child's copy of the buffer prints twice */
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int high[16];
	if (nfds > 16)
		_exit(127);
	/* Above every target first: fds[i] may itself be 3 + j. */
	for (unsigned i = 0; i < nfds; i++)
		if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100)) < 0)
			_exit(127);
	for (unsigned i = 0; i < nfds; i++)
		if (dup2(high[i], 3 + (int)i) < 0)
			_exit(127);
	close_range(3 + nfds, ~0u, 0);
	execv(path, argv);
	_exit(127);
}

pid_t tu_executor_start(const char *path, char *const argv[], int *ctl, int *fe)
{
	int sp[2], fp[2];
	*ctl = *fe = -1;
	if (tu_seqpacket_pair(sp) < 0)
		return -1;
	if (tu_seqpacket_pair(fp) < 0) {
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	pid_t pid = tu_spawn(path, argv, &sp[1], 1);
	close(sp[1]);
	struct ipc_ctl_new_frontend n = { .generation = 1, .frontend_pid = getpid() };
	struct kerr e = { 0 };
	if (pid > 0 && ipc_send_fd(sp[0], IPC_CTL_NEW_FRONTEND, 0, &n, sizeof(n), fp[1], &e) < 0)
		printf("# CTL_NEW_FRONTEND: %s\n", e.msg);
	close(fp[1]);
	*ctl = sp[0];
	*fe = fp[0];
	return pid;
}

bool tu_executor_stop(pid_t pid, int fe, int ctl)
{
	if (pid <= 0)
		return true;
	close(fe);
	close(ctl);
	int st = 0;
	pid_t w = 0;
	for (int i = 0; i < 100 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++)
		usleep(50000);
	if (w == pid)
		return true;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return false;
}

static size_t rmdir_glob(const char *pat)
{
	glob_t g;
	size_t left = 0;
	if (glob(pat, GLOB_ONLYDIR, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++)
		left += rmdir(g.gl_pathv[i]) < 0;
	globfree(&g);
	return left;
}

size_t tu_cgroup_parent_remove(const char *parent)
{
	if (!parent || !parent[0])
		return 0;
	static const char *const pats[] = { "/sys/fs/cgroup/*/%s/*", "/sys/fs/cgroup/*/%s",
					    "/sys/fs/cgroup/%s" };
	size_t left = 0;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		char pat[512];
		snprintf(pat, sizeof(pat), pats[i], parent);
		left += rmdir_glob(pat);
	}
	return left;
}

bool tu_executor_teardown(pid_t pid, int fe, int ctl, const char *cgparent, const char *dir,
			  size_t *left)
{
	bool exited = tu_executor_stop(pid, fe, ctl);
	*left = tu_cgroup_parent_remove(cgparent);
	if (dir && dir[0])
		tu_rm_rf(dir);
	return exited;
}

/* ---- IPC ---- */

int tu_ipc_recv(int fd, struct ipc_msg *m, int ms)
{
	if (tu_wait_readable(fd, ms) <= 0)
		return -ETIMEDOUT;
	struct kerr e = { 0 };
	int r = ipc_recv(fd, m, &e);
	if (r < 0)
		printf("# recv: %s\n", e.msg);
	return r;
}

int tu_ipc_ask(int fd, uint32_t type, uint32_t id, const void *payload, size_t len, int ms,
	       void (*other)(struct ipc_msg *m, void *data), void *data, struct ipc_msg *reply)
{
	struct kerr e = { 0 };
	if (ipc_send_fd(fd, type, id, payload, len, -1, &e) < 0) {
		printf("# send %s: %s\n", ipc_type_name(type), e.msg);
		return -1;
	}
	for (;;) {
		if (tu_ipc_recv(fd, reply, ms) <= 0) {
			printf("# no reply to %s\n", ipc_type_name(type));
			return -1;
		}
		if (reply->hdr.id == id)
			return 1;
		if (other)
			other(reply, data);
		ipc_msg_release(reply);
	}
}

int tu_ipc_call(int fd, uint32_t type, uint32_t *next_id, const void *payload, size_t len,
		int *status, char *msg, size_t msglen)
{
	struct ipc_msg m;
	*status = 0;
	msg[0] = '\0';
	/* other messages (MONITOR_ATTACH) are not the answer */
	if (tu_ipc_ask(fd, type, (*next_id)++, payload, len, 30000, NULL, NULL, &m) < 0)
		return -1;
	int t = (int)m.hdr.type;
	if (t == IPC_ERROR) {
		const struct ipc_error *er = (const void *)m.payload;
		*status = er->grpc_status;
		snprintf(msg, msglen, "%s", er->msg);
		printf("# %s -> %s: %s\n", ipc_type_name(type), grpc_status_name(er->grpc_status),
		       er->msg);
	}
	ipc_msg_release(&m);
	return t;
}

/* ---- time ---- */

uint64_t tu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tu_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
