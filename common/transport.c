/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport.c - agent addresses: parse, format, listen, connect (transport.h).
 */
#include "transport.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "loop.h"

#define HVSOCK_LINE_MAX 128

/* Strict decimal u32: digits only, no sign, no overflow. */
static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	if (n == 0 || n > 10)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_vsock(const char *orig, const char *rest, struct addr *a, struct kerr *err)
{
	const char *colon = strchr(rest, ':');
	if (!colon)
		return kerr_set(err, -EINVAL, "address %s: expected vsock://CID:PORT", orig);
	size_t cidlen = (size_t)(colon - rest);
	if (cidlen == 2 && memcmp(rest, "-1", 2) == 0)
		a->cid = VMADDR_CID_ANY;
	else if (parse_u32(rest, cidlen, &a->cid) < 0)
		return kerr_set(err, -EINVAL, "address %s: CID '%.*s' is not -1 or a number", orig,
				(int)cidlen, rest);
	if (parse_u32(colon + 1, strlen(colon + 1), &a->port) < 0)
		return kerr_set(err, -EINVAL, "address %s: port '%s' is not a number", orig,
				colon + 1);
	a->kind = ADDR_VSOCK;
	return 0;
}

static int parse_unix(const char *orig, const char *rest, struct addr *a, struct kerr *err)
{
	if (rest[0] == '@') {
		size_t n = strlen(rest + 1);
		if (n == 0)
			return kerr_set(err, -EINVAL, "address %s: empty abstract socket name",
					orig);
		/* sun_path holds a leading NUL before the name */
		if (n >= ADDR_PATH_MAX - 1)
			return kerr_set(err, -EINVAL,
					"address %s: abstract name longer than %d bytes", orig,
					ADDR_PATH_MAX - 2);
		memcpy(a->path, rest + 1, n + 1);
		a->abstract = true;
	} else {
		if (rest[0] != '/')
			return kerr_set(err, -EINVAL,
					"address %s: expected unix:///absolute/path or unix://@name",
					orig);
		size_t n = strlen(rest);
		if (n >= ADDR_PATH_MAX)
			return kerr_set(err, -EINVAL, "address %s: path longer than %d bytes", orig,
					ADDR_PATH_MAX - 1);
		memcpy(a->path, rest, n + 1);
	}
	a->kind = ADDR_UNIX;
	return 0;
}

static int parse_hvsock(const char *orig, const char *rest, struct addr *a, struct kerr *err)
{
	if (rest[0] != '/')
		return kerr_set(err, -EINVAL, "address %s: expected hvsock:///absolute/path:PORT",
				orig);
	const char *colon = strrchr(rest, ':');
	if (!colon)
		return kerr_set(err, -EINVAL, "address %s: missing :PORT after the socket path",
				orig);
	if (parse_u32(colon + 1, strlen(colon + 1), &a->port) < 0)
		return kerr_set(err, -EINVAL, "address %s: port '%s' is not a number", orig,
				colon + 1);
	size_t n = (size_t)(colon - rest);
	if (n >= ADDR_PATH_MAX)
		return kerr_set(err, -EINVAL, "address %s: path longer than %d bytes", orig,
				ADDR_PATH_MAX - 1);
	memcpy(a->path, rest, n);
	a->path[n] = '\0';
	a->kind = ADDR_HVSOCK;
	return 0;
}

int addr_parse(const char *s, struct addr *a, struct kerr *err)
{
	memset(a, 0, sizeof(*a));
	if (!s)
		return kerr_set(err, -EINVAL, "address (null): empty");
	if (strncmp(s, "vsock://", 8) == 0)
		return parse_vsock(s, s + 8, a, err);
	if (strncmp(s, "unix://", 7) == 0)
		return parse_unix(s, s + 7, a, err);
	if (strncmp(s, "hvsock://", 9) == 0)
		return parse_hvsock(s, s + 9, a, err);
	return kerr_set(err, -EINVAL,
			"address %s: unknown scheme (expected vsock://, unix:// or hvsock://)", s);
}

const char *addr_format(const struct addr *a, char *buf, size_t len)
{
	switch (a->kind) {
	case ADDR_VSOCK:
		if (a->cid == VMADDR_CID_ANY)
			snprintf(buf, len, "vsock://-1:%u", a->port);
		else
			snprintf(buf, len, "vsock://%u:%u", a->cid, a->port);
		break;
	case ADDR_UNIX:
		snprintf(buf, len, "unix://%s%s", a->abstract ? "@" : "", a->path);
		break;
	case ADDR_HVSOCK:
		snprintf(buf, len, "hvsock://%s:%u", a->path, a->port);
		break;
	default:
		snprintf(buf, len, "(invalid address)");
	}
	return buf;
}

/* Build a sockaddr for vsock or unix (hvsock uses its unix path). */
static socklen_t make_sockaddr(const struct addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->kind == ADDR_VSOCK) {
		struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;
		vm->svm_family = AF_VSOCK;
		vm->svm_cid = a->cid;
		vm->svm_port = a->port;
		return sizeof(*vm);
	}
	struct sockaddr_un *un = (struct sockaddr_un *)ss;
	un->sun_family = AF_UNIX;
	size_t n = strlen(a->path);
	if (a->abstract) {
		memcpy(un->sun_path + 1, a->path, n);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	}
	memcpy(un->sun_path, a->path, n + 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* Remove a leftover socket file from an earlier run; refuse anything else. */
static int remove_stale_socket(const char *path, struct kerr *err)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return kerr_set(err, -errno, "stat %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return kerr_set(err, -EEXIST, "listen on %s: exists and is not a socket", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return kerr_set(err, -errno, "remove stale socket %s: %s", path, strerror(errno));
	return 0;
}

/* bind(2) creates a filesystem socket with mode 0777 & ~umask, and
 * connecting needs write permission on it: with a permissive umask anyone
 * could reach the agent. So the socket is born 0600 (owner only): umask
 * 0177 around bind, no window where the file is wider. The umask is
 * per-process; callers (the parent at start, tests) are single-threaded
 * here. Abstract sockets have no mode at all (doc/options.md). */
static int bind_private(int fd, const struct addr *a, const struct sockaddr *sa, socklen_t sl)
{
	if (a->kind != ADDR_UNIX || a->abstract)
		return bind(fd, sa, sl);
	mode_t old = umask(0177);
	int r = bind(fd, sa, sl);
	int saved = errno;
	umask(old);
	errno = saved;
	return r;
}

int addr_listen(const struct addr *a, struct kerr *err)
{
	char name[ADDR_PATH_MAX + 32];
	addr_format(a, name, sizeof(name));
	if (a->kind != ADDR_VSOCK && a->kind != ADDR_UNIX)
		return kerr_set(err, -EINVAL, "listen on %s: only vsock:// and unix:// can listen",
				name);
	int family = a->kind == ADDR_VSOCK ? AF_VSOCK : AF_UNIX;
	cleanup_close int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kerr_set(err, -errno, "socket for %s: %s", name, strerror(errno));
	if (a->kind == ADDR_UNIX && !a->abstract) {
		int r = remove_stale_socket(a->path, err);
		if (r < 0)
			return r;
	}
	struct sockaddr_storage ss;
	socklen_t sl = make_sockaddr(a, &ss);
	if (bind_private(fd, a, (struct sockaddr *)&ss, sl) < 0)
		return kerr_set(err, -errno, "bind %s: %s", name, strerror(errno));
	if (listen(fd, 128) < 0)
		return kerr_set(err, -errno, "listen %s: %s", name, strerror(errno));
	return take_fd(&fd);
}

/* Milliseconds left until deadline (0 = none -> -1 for poll). */
static int ms_left(uint64_t deadline)
{
	if (!deadline)
		return -1;
	uint64_t now = loop_now_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int wait_fd(int fd, short events, uint64_t deadline, const char *what, const char *name,
		   struct kerr *err)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kerr_set(err, -errno, "%s %s: poll: %s", what, name,
					strerror(errno));
		if (r == 0)
			return kerr_set(err, -ETIMEDOUT, "%s %s: timed out", what, name);
		return 0;
	}
}

/* The hybrid vsock handshake. Reads the reply one byte at a time: the bytes
 * after the newline already belong to the ttRPC stream. */
static int hvsock_handshake(int fd, const struct addr *a, uint64_t deadline, const char *name,
			    struct kerr *err)
{
	char line[HVSOCK_LINE_MAX];
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", a->port);
	size_t off = 0;
	while (off < (size_t)n) {
		ssize_t w = send(fd, line + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			int r = wait_fd(fd, POLLOUT, deadline, "hvsock handshake with", name, err);
			if (r < 0)
				return r;
			continue;
		}
		if (w < 0)
			return kerr_set(err, -errno, "hvsock handshake with %s: send: %s", name,
					strerror(errno));
		off += (size_t)w;
	}
	size_t len = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			int e = wait_fd(fd, POLLIN, deadline, "hvsock handshake with", name, err);
			if (e < 0)
				return e;
			continue;
		}
		if (r < 0)
			return kerr_set(err, -errno, "hvsock handshake with %s: read: %s", name,
					strerror(errno));
		if (r == 0)
			return kerr_set(err, -ECONNRESET,
					"hvsock handshake with %s: connection closed before the reply to CONNECT %u",
					name, a->port);
		if (c == '\n')
			break;
		if (len + 1 >= sizeof(line))
			return kerr_set(err, -EPROTO,
					"hvsock handshake with %s: reply line too long", name);
		line[len++] = c;
	}
	line[len] = '\0';
	if (strncmp(line, "OK ", 3) != 0)
		return kerr_set(err, -ECONNREFUSED,
				"hvsock handshake with %s: CONNECT %u refused: '%s'", name, a->port,
				line);
	return 0;
}

int addr_connect(const struct addr *a, uint64_t timeout_ns, struct kerr *err)
{
	char name[ADDR_PATH_MAX + 32];
	addr_format(a, name, sizeof(name));
	if (a->kind != ADDR_VSOCK && a->kind != ADDR_UNIX && a->kind != ADDR_HVSOCK)
		return kerr_set(err, -EINVAL, "connect %s: invalid address kind", name);
	uint64_t deadline = timeout_ns ? loop_now_ns() + timeout_ns : 0;
	int family = a->kind == ADDR_VSOCK ? AF_VSOCK : AF_UNIX;
	cleanup_close int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kerr_set(err, -errno, "socket for %s: %s", name, strerror(errno));
	struct sockaddr_storage ss;
	socklen_t sl = make_sockaddr(a, &ss);
	int cr;
	/* A unix listener with a full backlog answers EAGAIN: retry until the deadline. */
	while ((cr = connect(fd, (struct sockaddr *)&ss, sl)) < 0 && errno == EAGAIN) {
		if (deadline && loop_now_ns() >= deadline)
			return kerr_set(err, -ETIMEDOUT, "connect %s: timed out (backlog full)",
					name);
		poll(NULL, 0, 5);
	}
	if (cr < 0) {
		if (errno != EINPROGRESS && errno != EINTR)
			return kerr_set(err, -errno, "connect %s: %s", name, strerror(errno));
		int r = wait_fd(fd, POLLOUT, deadline, "connect", name, err);
		if (r < 0)
			return r;
		int soerr = 0;
		socklen_t l = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
			return kerr_set(err, -errno, "connect %s: getsockopt: %s", name,
					strerror(errno));
		if (soerr)
			return kerr_set(err, -soerr, "connect %s: %s", name, strerror(soerr));
	}
	if (a->kind == ADDR_HVSOCK) {
		int r = hvsock_handshake(fd, a, deadline, name, err);
		if (r < 0)
			return r;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return kerr_set(err, -errno, "connect %s: clear O_NONBLOCK: %s", name,
				strerror(errno));
	return take_fd(&fd);
}
