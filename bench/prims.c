/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prims.c - what the operations a ReadStdout round trip is made of cost on
 * this machine, measured in the same run as the round trip itself
 * (bench/stdio-profile), so that its microseconds can be attributed: one
 * line of key=value pairs, each the mean in microseconds over many
 * repetitions (after a warm-up).
 *
 *   prims [LEN]          (default 32768: the Kata shim's read size)
 *
 *   memcpy_us       memcpy of LEN bytes, cache-hot (the monitor's ring to
 *                   message copy, protobuf packing, the client's unpack)
 *   pipe_us         write + read of LEN bytes through a pipe, one process
 *                   (the container's stdout into the monitor)
 *   seqpacket_us    send + recv of LEN bytes over a SOCK_SEQPACKET
 *                   socketpair (monitor -> front-end READ_STREAM_REPLY)
 *   stream_us       write + read of LEN bytes over a SOCK_STREAM
 *                   socketpair (front-end -> host, unix socket)
 *   small_us        send + recv of 144 bytes over SOCK_SEQPACKET (a
 *                   READ_STREAM_REQ or READ_STREAM_ACK)
 *   pingpong_us     a 144-byte message to another process and back, each
 *                   side blocked in epoll_wait: two wake-ups, two
 *                   messages (what a front-end -> monitor -> front-end hop
 *                   costs without data)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SMALL 144

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int big_buffers(int fd)
{
	int sz = 4 << 20;
	return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* Write len bytes into wfd and read them back from rfd, n times. */
static double transfer(int wfd, int rfd, uint8_t *a, uint8_t *b, size_t len, int n)
{
	double t0 = 0;
	for (int i = -n / 10; i < n; i++) {
		if (i == 0)
			t0 = now_us();
		if (write(wfd, a, len) != (ssize_t)len)
			return -1;
		size_t got = 0;
		while (got < len) {
			ssize_t r = read(rfd, b + got, len - got);
			if (r <= 0)
				return -1;
			got += (size_t)r;
		}
	}
	return (now_us() - t0) / n;
}

static void echo_loop(int fd)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	uint8_t buf[SMALL];
	for (;;) {
		if (epoll_wait(ep, &ev, 1, -1) < 0)
			continue;
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0 || send(fd, buf, (size_t)r, 0) != r)
			_exit(0);
	}
}

static double pingpong(int n)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(sp[0]);
		echo_loop(sp[1]);
	}
	close(sp[1]);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &ev);
	uint8_t buf[SMALL] = { 0 };
	double t0 = 0;
	for (int i = -n / 10; i < n; i++) {
		if (i == 0)
			t0 = now_us();
		if (send(sp[0], buf, sizeof(buf), 0) != SMALL || epoll_wait(ep, &ev, 1, -1) != 1 ||
		    recv(sp[0], buf, sizeof(buf), 0) != SMALL)
			break;
	}
	double t = (now_us() - t0) / n;
	close(sp[0]);
	close(ep);
	waitpid(pid, NULL, 0);
	return t;
}

int main(int argc, char **argv)
{
	size_t len = argc > 1 ? (size_t)atol(argv[1]) : 32768;
	if (len < SMALL || len > (1u << 20)) {
		fprintf(stderr, "usage: prims [LEN]   (%d..1048576)\n", SMALL);
		return 2;
	}
	uint8_t *a = malloc(len), *b = malloc(len);
	if (!a || !b)
		return 1;
	memset(a, 1, len);
	memset(b, 2, len);
	int n = 20000;

	double t0 = now_us();
	for (int i = 0; i < n * 10; i++) {
		memcpy(b, a, len);
		__asm__ volatile("" ::: "memory");
	}
	double t_memcpy = (now_us() - t0) / (n * 10);

	int p[2], s[2], q[2];
	if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) < 0 || big_buffers(s[0]) < 0 ||
	    big_buffers(q[0]) < 0) {
		perror("prims");
		return 1;
	}
	double t_pipe = transfer(p[1], p[0], a, b, len, n);
	double t_stream = transfer(s[0], s[1], a, b, len, n);
	double t_seq = transfer(q[0], q[1], a, b, len, n);
	double t_small = transfer(q[0], q[1], a, b, SMALL, n * 5);
	double t_pp = pingpong(n);
	printf("len=%zu memcpy_us=%.2f pipe_us=%.2f seqpacket_us=%.2f stream_us=%.2f small_us=%.2f "
	       "pingpong_us=%.2f\n",
	       len, t_memcpy, t_pipe, t_seq, t_stream, t_small, t_pp);
	return 0;
}
