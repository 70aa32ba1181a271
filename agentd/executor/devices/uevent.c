/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uevent.c - parsing and reading kernel uevents (uevent.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "cleanup.h"
#include "log.h"
#include "uevent.h"

/* Enough for the burst of uevents of a large memory hot-plug. */
#define UEVENT_RCVBUF (4 << 20)

/* A plain absolute path: no empty, "." or ".." component. */
static bool plain_path(const char *p, bool absolute)
{
	if ((p[0] == '/') != absolute || !p[absolute ? 1 : 0])
		return false;
	for (const char *c = absolute ? p + 1 : p;;) {
		const char *e = strchrnul(c, '/');
		size_t l = (size_t)(e - c);
		if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!*e)
			return true;
		c = e + 1;
	}
}

static int copy_field(char *dst, size_t cap, const char *val, size_t vlen, const char *key,
		      struct kerr *err)
{
	if (vlen >= cap)
		return kerr_set(err, -EINVAL, "uevent %s of %zu bytes is too long", key, vlen);
	memcpy(dst, val, vlen);
	dst[vlen] = '\0';
	return 0;
}

static int number(const char *val, size_t vlen, long long max, long long *out)
{
	if (vlen == 0 || vlen > 20)
		return -EINVAL;
	long long v = 0;
	for (size_t i = 0; i < vlen; i++) {
		if (val[i] < '0' || val[i] > '9')
			return -EINVAL;
		v = v * 10 + (val[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int set_key(struct uevent *ev, const char *key, size_t klen, const char *val, size_t vlen,
		   struct kerr *err)
{
	long long n = 0;
#define KEY(k) (klen == sizeof(k) - 1 && !memcmp(key, k, klen))
	if (KEY("ACTION"))
		return copy_field(ev->action, sizeof(ev->action), val, vlen, "ACTION", err);
	if (KEY("DEVPATH"))
		return copy_field(ev->devpath, sizeof(ev->devpath), val, vlen, "DEVPATH", err);
	if (KEY("SUBSYSTEM"))
		return copy_field(ev->subsystem, sizeof(ev->subsystem), val, vlen, "SUBSYSTEM",
				  err);
	if (KEY("DEVNAME"))
		return copy_field(ev->devname, sizeof(ev->devname), val, vlen, "DEVNAME", err);
	if (KEY("DEVTYPE"))
		return copy_field(ev->devtype, sizeof(ev->devtype), val, vlen, "DEVTYPE", err);
	if (KEY("MAJOR") || KEY("MINOR")) {
		if (number(val, vlen, KEY("MAJOR") ? 4095 : 1048575, &n) < 0)
			return kerr_set(err, -EINVAL, "uevent %.5s is not a device number", key);
		*(KEY("MAJOR") ? &ev->major : &ev->minor) = (int)n;
		return 0;
	}
	if (KEY("SEQNUM")) {
		if (number(val, vlen, (long long)1 << 62, &n) < 0)
			return kerr_set(err, -EINVAL, "uevent SEQNUM is not a number");
		ev->seqnum = (uint64_t)n;
	}
#undef KEY
	return 0;
}

int uevent_parse(const void *buf, size_t len, struct uevent *ev, struct kerr *err)
{
	memset(ev, 0, sizeof(*ev));
	ev->major = ev->minor = -1;
	const char *p = buf, *end = p + len;
	/* "ACTION@DEVPATH": the header repeats what the keys say. */
	const char *hdr_end = memchr(p, '\0', len);
	if (!hdr_end || !memchr(p, '@', (size_t)(hdr_end - p)))
		return kerr_set(err, -EINVAL, "not a kernel uevent (no ACTION@DEVPATH header)");
	for (p = hdr_end + 1; p < end;) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		if (!z)
			return kerr_set(err, -EINVAL, "uevent field without its NUL");
		const char *eq = memchr(p, '=', (size_t)(z - p));
		if (eq) {
			int r = set_key(ev, p, (size_t)(eq - p), eq + 1, (size_t)(z - eq - 1), err);
			if (r < 0)
				return r;
		}
		p = z + 1;
	}
	if (!ev->action[0] || !ev->devpath[0] || !ev->subsystem[0])
		return kerr_set(err, -EINVAL, "uevent without ACTION, DEVPATH or SUBSYSTEM");
	if (!plain_path(ev->devpath, true) ||
	    (strncmp(ev->devpath, "/devices/", 9) && strncmp(ev->devpath, "/module/", 8)))
		return kerr_set(err, -EINVAL,
				"uevent DEVPATH \"%.64s\" is not a plain path below "
				"/devices or /module",
				ev->devpath);
	if (ev->devname[0] && !plain_path(ev->devname, false))
		return kerr_set(err, -EINVAL,
				"uevent DEVNAME \"%.64s\" is not a plain relative path",
				ev->devname);
	if ((ev->major < 0) != (ev->minor < 0))
		return kerr_set(err, -EINVAL, "uevent with MAJOR or MINOR alone");
	return 0;
}

int uevent_open(struct kerr *err)
{
	cleanup_close int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
				      NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return kerr_set(err, -errno, "NETLINK_KOBJECT_UEVENT socket: %s", strerror(errno));
	int sz = UEVENT_RCVBUF;
	/* FORCE passes rmem_max (we are root); the plain one is the fallback. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = 1 };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kerr_set(err, -errno, "bind the uevent socket: %s", strerror(errno));
	return take_fd(&fd);
}

int uevent_read(int fd, struct uevent *ev, struct kerr *err)
{
	static char buf[UEVENT_MSG_MAX];
	for (;;) {
		struct sockaddr_nl sa;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &sa,
				     .msg_namelen = sizeof(sa),
				     .msg_iov = &iov,
				     .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)
				return kerr_set(err, -ENOBUFS,
						"uevents were lost (receive buffer "
						"full)");
			return kerr_set(err, -errno, "uevent socket: %s", strerror(errno));
		}
		if (mh.msg_flags & MSG_TRUNC) {
			log_debug("uevent: a message over %zu bytes dropped", sizeof(buf));
			continue;
		}
		if (mh.msg_namelen != sizeof(sa) || sa.nl_family != AF_NETLINK || sa.nl_pid != 0) {
			log_debug("uevent: a message not from the kernel (port %u) dropped",
				  (unsigned)sa.nl_pid);
			continue;
		}
		struct kerr pe = { 0 };
		if (uevent_parse(buf, (size_t)n, ev, &pe) < 0) {
			log_debug("uevent dropped: %s", pe.msg);
			continue;
		}
		return 1;
	}
}
