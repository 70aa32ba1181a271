/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd-peer - the host's side of fd-passthrough stdio in tests, shaped as
 * runtime-rs opens it (crates/runtimes/virt_container/src/container_manager/
 * io/passfd_io.rs, PassfdIo::open_and_passfd): one stream connection per
 * stdio to the agent's passfd listener, made before the CreateContainer or
 * ExecProcess that names each by its own port; nothing is written on a
 * connection before the agent owns it (the VMM's "passfd" handshake runs
 * on the host, not in the guest).
 *
 *   passfd-peer ADDR [--in PORT FILE] [--out PORT FILE] [--err PORT FILE]
 *               [--ready FILE] [--pause-after N --hold FILE] [--connect-after FILE]
 *               [-t SECONDS] [--stats]
 *
 * ADDR is the listener: vsock://CID:PORT (the client binds the given local
 * ports), or unix:///path / unix://@name (the client binds the abstract name
 * "@passfd-peer-PID-I/PORT": the agent takes the trailing number as the
 * port). Once every stream is connected, --ready FILE is created; FILE of
 * --in is then sent and the stdin stream shut for writing (EOF); --out and
 * --err are written until the agent closes them. --pause-after N: after N
 * bytes of --out, create FILE.paused and read nothing more until --hold FILE
 * exists (a stream held mid-flight while the test kills the front-end).
 * --connect-after FILE: connect only once FILE exists (a stream the host
 * names in a request before it is connected).
 *
 * --stats: at the end, one line per output stream on stderr, "stats: stream
 * N bytes B first_to_eof_s T": the time from its first byte to its EOF,
 * so a benchmark can time the transfer apart from the container's start.
 *
 * Exit: 0 every output stream ended, 3 timeout, 1 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
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

#include "testutil.h"

struct stream {
	unsigned port;
	const char *file;
	int sock, fd;
	bool done;
	unsigned long long bytes;
	double first, eof; /* times of the first byte and of EOF (--stats) */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return fd < 0 ? -1 : close(fd);
}

static int connect_vsock(unsigned cid, unsigned lport, unsigned port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm me = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = lport };
	struct sockaddr_vm to = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	if (s < 0 || bind(s, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) {
		fprintf(stderr, "passfd-peer: vsock %u:%u from port %u: %s\n", cid, port, lport,
			strerror(errno));
		return -1;
	}
	return s;
}

static int connect_unix(const char *path, unsigned lport, unsigned i)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un me = { .sun_family = AF_UNIX }, to = { .sun_family = AF_UNIX };
	int n = snprintf(me.sun_path + 1, sizeof(me.sun_path) - 1, "passfd-peer-%d-%u/%u",
			 (int)getpid(), i, lport);
	socklen_t mlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	socklen_t tlen;
	if (path[0] == '@') {
		snprintf(to.sun_path + 1, sizeof(to.sun_path) - 1, "%s", path + 1);
		tlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	} else {
		snprintf(to.sun_path, sizeof(to.sun_path), "%s", path);
		tlen = sizeof(to);
	}
	if (s < 0 || bind(s, (struct sockaddr *)&me, mlen) < 0 ||
	    connect(s, (struct sockaddr *)&to, tlen) < 0) {
		fprintf(stderr, "passfd-peer: unix %s as port %u: %s\n", path, lport,
			strerror(errno));
		return -1;
	}
	return s;
}

static int do_connect(const char *addr, unsigned lport, unsigned i)
{
	unsigned cid, port;
	if (strncmp(addr, "unix://", 7) == 0)
		return connect_unix(addr + 7, lport, i);
	if (sscanf(addr, "vsock://%u:%u", &cid, &port) == 2)
		return connect_vsock(cid, lport, port);
	fprintf(stderr, "passfd-peer: bad address %s\n", addr);
	return -1;
}

int main(int argc, char **argv)
{
	struct stream st[3] = { { .sock = -1, .fd = -1 },
				{ .sock = -1, .fd = -1 },
				{ .sock = -1, .fd = -1 } };
	const char *ready = NULL, *hold = NULL, *after = NULL, *addr = argc > 1 ? argv[1] : NULL;
	unsigned long long pause_after = 0;
	double timeout = 300;
	bool stats = false;
	for (int i = 2; i < argc; i++) {
		int k = !strcmp(argv[i], "--in")    ? 0
			: !strcmp(argv[i], "--out") ? 1
			: !strcmp(argv[i], "--err") ? 2
						    : -1;
		if (k >= 0 && i + 2 < argc) {
			st[k].port = (unsigned)strtoul(argv[i + 1], NULL, 10);
			st[k].file = argv[i + 2];
			i += 2;
		} else if (!strcmp(argv[i], "--ready") && i + 1 < argc) {
			ready = argv[++i];
		} else if (!strcmp(argv[i], "--connect-after") && i + 1 < argc) {
			after = argv[++i];
		} else if (!strcmp(argv[i], "--hold") && i + 1 < argc) {
			hold = argv[++i];
		} else if (!strcmp(argv[i], "--pause-after") && i + 1 < argc) {
			pause_after = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--stats")) {
			stats = true;
		} else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			timeout = atof(argv[++i]);
		} else {
			addr = NULL;
			break;
		}
	}
	if (!addr || (pause_after && !hold)) {
		fprintf(stderr, "usage: passfd-peer ADDR [--in PORT FILE] [--out PORT FILE] "
				"[--err PORT FILE] [--ready FILE] [--pause-after N --hold FILE] "
				"[--connect-after FILE] [-t SECONDS] [--stats]\n");
		return 2;
	}
	double end = now_s() + timeout;
	while (after && access(after, F_OK) != 0) {
		if (now_s() > end) {
			fprintf(stderr, "passfd-peer: timed out waiting for %s\n", after);
			return 3;
		}
		usleep(2000);
	}
	for (unsigned i = 0; i < 3; i++) {
		if (!st[i].file)
			continue;
		st[i].sock = do_connect(addr, st[i].port, i);
		st[i].fd = i == 0 ? open(st[i].file, O_RDONLY | O_CLOEXEC)
				  : open(st[i].file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					 0644);
		if (st[i].sock < 0 || st[i].fd < 0) {
			if (st[i].fd < 0)
				perror(st[i].file);
			return 1;
		}
	}
	if (ready && touch(ready) < 0) {
		perror(ready);
		return 1;
	}
	char paused[4096] = "";
	if (hold)
		snprintf(paused, sizeof(paused), "%s.paused", hold);
	static char buf[1 << 16];
	bool held = false;
	static char inbuf[1 << 16];
	size_t in_len = 0, in_off = 0;
	st[0].done = !st[0].file;
	for (;;) {
		struct pollfd pf[3];
		int map[3], n = 0;
		if (!st[0].done) {
			/* stdin as the container takes it, while its output is read */
			pf[n] = (struct pollfd){ .fd = st[0].sock, .events = POLLOUT };
			map[n++] = 0;
		}
		for (int i = 1; i < 3; i++)
			if (st[i].file && !st[i].done && !(i == 1 && held)) {
				pf[n] = (struct pollfd){ .fd = st[i].sock, .events = POLLIN };
				map[n++] = i;
			}
		if (n == 0 && !held) {
			for (int i = 1; stats && i < 3; i++)
				if (st[i].file)
					fprintf(stderr,
						"stats: stream %d bytes %llu first_to_eof_s %.6f\n",
						i, st[i].bytes,
						st[i].bytes ? st[i].eof - st[i].first : 0.0);
			return 0;
		}
		if (now_s() > end) {
			fprintf(stderr, "passfd-peer: timed out\n");
			return 3;
		}
		if (held) {
			if (access(hold, F_OK) == 0)
				held = false;
			else if (n == 0)
				usleep(20000);
		}
		if (n == 0 || poll(pf, (nfds_t)n, 50) <= 0)
			continue;
		for (int j = 0; j < n; j++) {
			struct stream *s = &st[map[j]];
			if (map[j] == 0) {
				if (!(pf[j].revents & (POLLOUT | POLLERR | POLLHUP)))
					continue;
				if (in_off == in_len) {
					ssize_t r = read(s->fd, inbuf, sizeof(inbuf));
					if (r <= 0) {
						shutdown(s->sock, SHUT_WR);
						s->done = true;
						continue;
					}
					in_len = (size_t)r;
					in_off = 0;
				}
				ssize_t w = send(s->sock, inbuf + in_off, in_len - in_off,
						 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (w < 0) {
					perror("passfd-peer: stdin stream");
					return 1;
				}
				in_off += (size_t)w;
				if (in_off == in_len) {
					/* the end of the file is known now: a socket
					 * the agent does not read may never be
					 * writable again */
					ssize_t r = read(s->fd, inbuf, sizeof(inbuf));
					if (r <= 0) {
						shutdown(s->sock, SHUT_WR);
						s->done = true;
					} else {
						in_len = (size_t)r;
						in_off = 0;
					}
				}
				continue;
			}
			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			size_t want = sizeof(buf);
			if (map[j] == 1 && pause_after && s->bytes < pause_after &&
			    pause_after - s->bytes < want)
				want = (size_t)(pause_after - s->bytes);
			ssize_t r = read(s->sock, buf, want);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				s->done = true;
				s->eof = now_s();
				continue;
			}
			if (!s->bytes)
				s->first = now_s();
			if (tu_write_all(s->fd, buf, (size_t)r) < 0) {
				perror(s->file);
				return 1;
			}
			s->bytes += (unsigned long long)r;
			if (map[j] == 1 && pause_after && s->bytes == pause_after) {
				held = true;
				if (touch(paused) < 0) {
					perror(paused);
					return 1;
				}
			}
		}
	}
}
