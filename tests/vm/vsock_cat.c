/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock-cat - a tiny vsock client for the guest test runner (busybox nc has
 * no vsock). Connects to CID:PORT, copies stdin to the socket and the
 * socket to stdout until the peer closes or the timeout passes.
 *
 *   vsock-cat [-t SECONDS] CID PORT
 *
 * The end of stdin does NOT shut the socket down: the debug console kills
 * its shell when the client's side closes, and the test wants the shell's
 * answer; it ends the session itself with "exit".
 *
 * Exit: 0 the peer closed, 3 timed out (what arrived is on stdout anyway),
 * 1 any error (connect retried until the timeout while it is refused).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double timeout = 10;
	int o;
	while ((o = getopt(argc, argv, "t:")) != -1) {
		if (o == 't')
			timeout = atof(optarg);
		else
			goto usage;
	}
	if (argc - optind != 2)
		goto usage;
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK };
	sa.svm_cid = (unsigned)strtoul(argv[optind], NULL, 10);
	sa.svm_port = (unsigned)strtoul(argv[optind + 1], NULL, 10);

	double deadline = now_s() + timeout;
	int fd;
	for (;;) {
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fprintf(stderr, "vsock-cat: socket: %s\n", strerror(errno));
			return 1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		int e = errno;
		close(fd);
		if ((e != ECONNREFUSED && e != ECONNRESET && e != ETIMEDOUT) ||
		    now_s() > deadline) {
			fprintf(stderr, "vsock-cat: connect %u:%u: %s\n", sa.svm_cid, sa.svm_port,
				strerror(e));
			return 1;
		}
		usleep(50000);
	}

	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
	int nfds = 2;
	char buf[16384];
	for (;;) {
		double left = deadline - now_s();
		if (left <= 0)
			return 3;
		int r = poll(p, (nfds_t)nfds, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "vsock-cat: poll: %s\n", strerror(errno));
			return 1;
		}
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				return 0;
			if (n > 0 && write_all(1, buf, (size_t)n) < 0)
				return 1;
		}
		if (nfds == 2 && p[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0)
				nfds = 1; /* stdin done; keep reading the socket */
			else if (write_all(fd, buf, (size_t)n) < 0)
				return 1;
		}
	}
usage:
	fprintf(stderr, "usage: vsock-cat [-t SECONDS] CID PORT\n");
	return 2;
}
